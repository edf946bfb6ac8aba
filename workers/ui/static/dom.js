/** Small helpers every view uses: escaping, elements, times. */

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text made safe for HTML (element content and quoted attribute values). */
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** `html\`<p>${x}</p>\``: a template whose values are escaped, except those wrapped by raw(). */
export function html(strings, ...values) {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out +=
      (v instanceof Raw ? v.text : Array.isArray(v) ? v.map((x) => (x instanceof Raw ? x.text : esc(x))).join("") : esc(v)) +
      strings[i + 1];
  }
  return new Raw(out);
}

class Raw {
  constructor(text) {
    this.text = text;
  }
  toString() {
    return this.text;
  }
}

/** Markup already made safe (by html``, or built from escaped parts). */
export function raw(text) {
  return new Raw(text);
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Replaces an element's content with markup from html``. */
export function setHtml(el, markup) {
  el.innerHTML = markup instanceof Raw ? markup.text : esc(markup);
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

/** 16:14:26.675, local time, as `ochami bss history` prints it. */
export function clock(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** 2024-05-01 16:14:26, local time. */
export function dateTime(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A duration for people: 850 ms, 12.3 s, 4 min 05 s, 2 h 03 min, 3 d 4 h. */
export function duration(ms) {
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${pad(Math.floor(s % 60))} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${pad(m % 60)} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** MACs compared in one spelling: lower-case hex digits only. */
export function macDigits(text) {
  return text.toLowerCase().replace(/[^0-9a-f]/g, "");
}
