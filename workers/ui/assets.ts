import api from "./static/api.js?raw";
import app from "./static/app.js?raw";
import bootState from "./static/boot-state.js?raw";
import cluster from "./static/cluster.js?raw";
import dom from "./static/dom.js?raw";
import index from "./static/index.html?raw";
import model from "./static/model.js?raw";
import node from "./static/node.js?raw";
import css from "./static/ui.css?raw";
import unknown from "./static/unknown.js?raw";

/**
 * The dashboard's files, bundled into the worker as text (`?raw`: Vite in the tests, the runner's
 * esbuild plugin, wrangler's `[[rules]]`), so it deploys with the worker and needs no build step
 * and no other server. They hold no data: the page asks the API for it with the admin's token.
 */
const FILES: Record<string, { body: string; type: string }> = {
  "index.html": { body: index, type: "text/html; charset=utf-8" },
  "ui.css": { body: css, type: "text/css; charset=utf-8" },
  "app.js": { body: app, type: "text/javascript; charset=utf-8" },
  "api.js": { body: api, type: "text/javascript; charset=utf-8" },
  "boot-state.js": { body: bootState, type: "text/javascript; charset=utf-8" },
  "cluster.js": { body: cluster, type: "text/javascript; charset=utf-8" },
  "dom.js": { body: dom, type: "text/javascript; charset=utf-8" },
  "model.js": { body: model, type: "text/javascript; charset=utf-8" },
  "node.js": { body: node, type: "text/javascript; charset=utf-8" },
  "unknown.js": { body: unknown, type: "text/javascript; charset=utf-8" },
};

/**
 * The page may load only this origin's files and talk only to this origin: no font, script or
 * style from elsewhere, no inline script, no framing.
 */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const ASSET_NAMES = Object.keys(FILES).filter((n) => n !== "index.html");

/** The file's response: revalidated on each load (a new release shows at once), 304 when unchanged. */
export function assetResponse(name: string, ifNoneMatch: string | undefined): Response | undefined {
  const file = FILES[name];
  if (!file) return undefined;
  const etag = `"${hash(file.body)}"`;
  const headers: Record<string, string> = {
    "content-type": file.type,
    etag,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  };
  if (name === "index.html") headers["content-security-policy"] = CSP;
  if (ifNoneMatch?.split(",").some((t) => t.trim() === etag)) return new Response(null, { status: 304, headers });
  return new Response(file.body, { headers });
}

const hashes = new Map<string, string>();

/** FNV-1a of the text: an ETag only has to change when the file does. */
function hash(text: string): string {
  let h = hashes.get(text);
  if (h === undefined) {
    let x = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) x = Math.imul(x ^ text.charCodeAt(i), 0x01000193);
    h = (x >>> 0).toString(16).padStart(8, "0") + text.length.toString(16);
    hashes.set(text, h);
  }
  return h;
}
