import type { OpenApiDocument } from "./openapi";

/**
 * The API reference as one HTML page, rendered on the server from the OpenAPI document: no
 * script, no external fonts or stylesheets (head nodes are often offline, and the page must work
 * in any browser, a text browser included). Operations are grouped by tag, each with the access
 * it needs, its parameters, request body and answers; schemas are shown as JSON Schema.
 */
export function referencePage(doc: OpenApiDocument): string {
  const byTag = new Map<string, string[]>();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, raw] of Object.entries(item as Record<string, Operation>)) {
      const tag = raw.tags?.[0] ?? "Other";
      const list = byTag.get(tag) ?? [];
      list.push(operationHtml(method, path, raw));
      byTag.set(tag, list);
    }
  }
  const tags = (doc.tags ?? []).map((t) => t.name).filter((n) => byTag.has(n));
  for (const t of byTag.keys()) if (!tags.includes(t)) tags.push(t);
  const nav = tags.map((t) => `<li><a href="#${anchor(t)}">${esc(t)}</a> (${byTag.get(t)!.length})</li>`).join("");
  const schemas = Object.entries(doc.components?.schemas ?? {})
    .map(([name, schema]) => `<div id="${schemaAnchor(name)}"><h3><code>${esc(name)}</code></h3>${schemaHtml(schema)}</div>`)
    .join("");
  const sections = tags
    .map((t) => {
      const description = doc.tags?.find((x) => x.name === t)?.description;
      return `<section id="${anchor(t)}"><h2>${esc(t)}</h2>${description ? `<p>${esc(description)}</p>` : ""}${byTag.get(t)!.join("")}</section>`;
    })
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(doc.info.title)} ${esc(doc.info.version)}</title><style>${CSS}</style></head>
<body><header><h1>${esc(doc.info.title)} <small>${esc(doc.info.version)}</small></h1>
<p>${esc(doc.info.description ?? "")}</p>
<p>Machine-readable: <a href="openapi.json">openapi.json</a> (OpenAPI ${esc(doc.openapi)}). Tokens: <code>POST /token</code> (client credentials).</p>
<nav aria-label="Services"><ul>${nav}<li><a href="#schemas">Schemas</a></li></ul></nav></header>
<main>${sections}<section id="schemas"><h2>Schemas</h2>${schemas}</section></main></body></html>`;
}

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: unknown;
}

interface Operation {
  tags?: string[];
  summary?: string;
  description?: string;
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
  "x-access"?: string;
}

function operationHtml(method: string, path: string, op: Operation): string {
  const id = anchor(`${method} ${path}`);
  const access = op["x-access"] ?? "public";
  const params = op.parameters?.length
    ? `<table><caption>Parameters</caption><thead><tr><th scope="col">name</th><th scope="col">in</th><th scope="col">type</th><th scope="col">description</th></tr></thead><tbody>${op.parameters
        .map(
          (p) =>
            `<tr><td><code>${esc(p.name)}</code>${p.required ? " (required)" : ""}</td><td>${esc(p.in)}</td><td>${esc(typeOf(p.schema))}</td><td>${esc(p.description ?? "")}</td></tr>`,
        )
        .join("")}</tbody></table>`
    : "";
  const body = Object.entries(op.requestBody?.content ?? {})
    .map(([type, m]) => schemaBlock(`Request body (${type})`, m.schema))
    .join("");
  const answers = Object.entries(op.responses ?? {})
    .map(([status, r]) => {
      const content = Object.entries(r.content ?? {});
      const detail = content.map(([type, m]) => schemaBlock(type, m.schema)).join("");
      return `<li><strong>${esc(status)}</strong> ${esc(r.description ?? "")}${detail}</li>`;
    })
    .join("");
  return `<article id="${id}"><h3><span class="method ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
<p>${esc(op.summary ?? "")} <span class="access">${access === "public" ? "public" : `needs scope <code>${esc(access)}</code>`}</span></p>
${op.description ? `<p>${esc(op.description)}</p>` : ""}${params}${body}<h4>Answers</h4><ul>${answers}</ul></article>`;
}

/** A body's schema: a link when it is a named one, else the schema itself (folded). */
function schemaBlock(label: string, schema: unknown): string {
  if (schema === undefined) return "";
  const ref = refName(schema);
  if (ref) return ` <span>${esc(label)}: <a href="#${schemaAnchor(ref)}">${esc(ref)}</a></span>`;
  return `<details><summary>${esc(label)}</summary>${schemaHtml(schema)}</details>`;
}

/** JSON Schema as text, each `$ref` a link to the named schema. */
function schemaHtml(schema: unknown): string {
  const text = esc(JSON.stringify(schema, null, 2)).replace(
    /&quot;#\/components\/schemas\/([A-Za-z0-9_.-]+)&quot;/g,
    (_, name: string) => `<a href="#${schemaAnchor(name)}">&quot;${name}&quot;</a>`,
  );
  return `<pre>${text}</pre>`;
}

function refName(schema: unknown): string | undefined {
  const ref = (schema as { $ref?: unknown } | undefined)?.$ref;
  return typeof ref === "string" && ref.startsWith("#/components/schemas/") ? ref.slice("#/components/schemas/".length) : undefined;
}

const schemaAnchor = (name: string) => `schema-${anchor(name)}`;

function typeOf(schema: unknown): string {
  const s = schema as { type?: string; items?: { type?: string } } | undefined;
  if (!s?.type) return "";
  return s.type === "array" ? `${s.items?.type ?? "any"}[]` : s.type;
}

const anchor = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-");

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Plain and legible in light or dark mode; methods are told apart by their text, not only by colour. */
const CSS = `
body{font:16px/1.5 system-ui,sans-serif;max-width:70rem;margin:0 auto;padding:1rem;color:#1a1a1a;background:#fff}
@media (prefers-color-scheme:dark){body{color:#e6e6e6;background:#161616}a{color:#8ab4f8}}
h1 small{font-weight:normal;font-size:.6em}
nav ul{display:flex;flex-wrap:wrap;gap:.25rem 1.5rem;padding:0;list-style:none}
article{border-top:1px solid #8884;padding:.5rem 0}
h3{font-size:1.05rem;margin:.5rem 0}
.method{display:inline-block;min-width:4.5rem;font-weight:bold;font-family:monospace;border:1px solid currentColor;border-radius:3px;text-align:center}
.get{color:#0a6b2f}.post{color:#0b57a8}.put{color:#8a5a00}.patch{color:#6f3bb0}.delete{color:#b3261e}
.access{font-size:.9em;opacity:.8}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #8886;padding:.2rem .5rem;text-align:left;vertical-align:top}
caption{text-align:left;font-weight:bold}
pre{overflow:auto;background:#8881;padding:.5rem;font-size:.85em}
`;
