import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { type Config, HttpOptions_Style, type Worker_Binding } from "miniflare";
import { PEER_PATH } from "../../workers/boot/snapshot/peers";
import type { WorkerSettings } from "./wrangler-config";

export { PEER_PATH };

/**
 * The workerd configuration `npm start` serves with.
 *
 * Why not `wrangler dev` or `new Miniflare()`: wrangler dev serves ~1k req/s, and Miniflare's entry
 * worker costs ~3x on every request and writes its own idea of the client address into
 * `CF-Connecting-IP` (keeping one the client sent itself). Here the HTTP socket goes straight to our
 * worker with plain `http = ()`, so workerd reports the real TCP peer in `request.cf.clientIp` and
 * nothing a client sends can change it.
 *
 * D1: workerd has no native D1 binding. Local D1 is miniflare's Durable Object over SQLite; we wire
 * the same two worker scripts miniflare ships (object-entry + database) with the same unique key and
 * on-disk layout, so the data is exactly what `wrangler d1 ... --local --persist-to <state>` sees,
 * each behind a thin wrapper of ours so a full disk stops only writes (d1-entry.worker.js,
 * d1-object.worker.js). These script paths are miniflare internals: miniflare is pinned exactly in package.json, and
 * `test/head-node/runner.test.ts` fails loudly if they move.
 */
const require = createRequire(import.meta.url);
const miniflareWorkers = path.join(path.dirname(require.resolve("miniflare")), "workers");
const miniflareScript = (rel: string) => readFileSync(path.join(miniflareWorkers, rel), "utf8");
/** Our wrappers of those scripts (d1-entry.worker.js and d1-object.worker.js say why). */
const ownScript = (name: string) => readFileSync(new URL(name, import.meta.url), "utf8");

/** The API process's HTTP socket, by name (the runner passes it in with --socket-fd). */
export const API_SOCKET = "http";

/** The service both processes know the database by (miniflare's naming). */
const d1ServiceName = (settings: WorkerSettings) => `d1:db:${settings.d1DatabaseId}`;

export interface ServeOptions {
  host: string;
  port: number;
  workerScript: string;
  vars: Record<string, string>;
  outbound?: "public" | "private";
  /** The database process's Unix socket (see buildDatabaseConfig). */
  databaseSocket: string;
  /** Which of the API processes this is (0-based), and each one's own Unix socket, by index. */
  process?: { index: number; peerSockets: string[] };
}

/**
 * What the worker's fetch() never reaches, even with private addresses allowed: Unix sockets
 * (workerd counts them as private; the database's is one) and link-local addresses, where cloud
 * instance metadata (169.254.169.254) answers. An SCN subscription's URL is any smd:write holder's
 * choice, so it may name anything else on the site network, as upstream SMD's does.
 */
export const SITE_NETWORK_DENY = ["unix", "unix-abstract", "169.254.0.0/16", "fe80::/10"];

/** The API's D1 binding: workerd's D1 client over a fetcher that survives idle connections closing (d1-link.js says how). */
const D1_LINK = "ochami-internal:d1-link";
const d1Link = readFileSync(path.join(import.meta.dirname, "d1-link.js"), "utf8");

/**
 * The API process: our worker on the HTTP socket. Its D1 binding is workerd's D1 client module
 * (through d1-link.js), whose fetcher is the database process, reached over an owner-only Unix socket. workerd runs
 * one thread per process; with the database (every boot-history write, every snapshot check and
 * rebuild) in a process of its own, SQLite works on the second core while the API thread serves.
 */
export function buildApiConfig(settings: WorkerSettings, opts: ServeOptions): Config {
  const d1Service = d1ServiceName(settings);
  const bindings: Worker_Binding[] = [
    {
      name: settings.d1Binding,
      wrapped: {
        moduleName: D1_LINK,
        innerBindings: [{ name: "fetcher", service: { name: d1Service } }],
      },
    },
    ...Object.entries(opts.vars).map(([name, text]) => ({ name, text })),
  ];
  // Several API processes: each tells the others of its writes, over their own sockets
  // (workers/boot/snapshot/peers.ts), so every process's snapshot stays exact.
  const me = opts.process ?? { index: 0, peerSockets: [] };
  const peers = me.peerSockets.flatMap((socket, i) => (i === me.index ? [] : [{ n: i + 1, socket }]));
  bindings.push({ name: "API_PROCESS", text: String(me.index + 1) });
  for (const p of peers) bindings.push({ name: `BOOT_PEER_${p.n}`, service: { name: `peer-${p.n}` } });
  // The implicit "internet" service allows public addresses only; SCN subscribers and a site IdP are
  // usually on the site network or the head node itself.
  const internet =
    opts.outbound === "private"
      ? [{ name: "internet", network: { allow: ["public", "private"], deny: SITE_NETWORK_DENY, tlsOptions: { trustBrowserCas: true } } }]
      : [];
  return {
    services: [
      ...internet,
      {
        name: "api",
        worker: {
          modules: [{ name: "index.js", esModule: opts.workerScript }],
          compatibilityDate: settings.compatibilityDate,
          compatibilityFlags: settings.compatibilityFlags,
          bindings,
        },
      },
      { name: d1Service, external: { address: `unix:${opts.databaseSocket}`, http: {} } },
      ...peers.map((p) => ({ name: `peer-${p.n}`, external: { address: `unix:${p.socket}`, http: {} } })),
    ],
    // The address is a placeholder: the runner hands workerd the socket, already listening (listen-socket.ts).
    // `proxy` style: workerd hands the worker the request target as sent, which the worker turns into
    // its URL (workers/http/request-target.ts). In the default `host` style workerd answers 500 itself
    // to valid requests it cannot parse as a path: `GET http://host/path` (RFC 9112 §3.2.2), `OPTIONS *`.
    sockets: [
      {
        name: API_SOCKET,
        address: `${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${opts.port}`,
        http: { style: HttpOptions_Style.PROXY },
        service: { name: "api" },
      },
      // This process's own socket: notices of writes through the others, and the runner's probes
      // (what a connection to the shared API socket cannot do: reach this process and no other).
      ...(me.peerSockets[me.index]
        ? [{ name: "peer", address: `unix:${me.peerSockets[me.index]}`, http: {}, service: { name: "api", entrypoint: "peer" } }]
        : []),
    ],
    v8Flags: API_V8_FLAGS,
    extensions: [{ modules: [{ name: D1_LINK, internal: true, esModule: d1Link }] }],
  };
}

/**
 * V8 flags of an API process. A larger young generation: a boot storm allocates per request and
 * keeps almost nothing, and with V8's small default each scavenge promotes live request state into
 * the old generation, whose collections stalled requests for hundreds of ms (one node's bootscript
 * under wrk: p99 0.4–0.5 s before, 0.07–0.2 s after). 8 MB, `--minor-ms` and `--single-threaded-gc`
 * measured no better in the storm bench (docs/boot-path.md, "The platform's floor").
 */
export const API_V8_FLAGS = ["--max-semi-space-size=32"];

/** The database process: miniflare's D1 object over the state directory, served on `socket`. */
export function buildDatabaseConfig(settings: WorkerSettings, opts: { stateDir: string; socket: string }): Config {
  const d1Service = d1ServiceName(settings);
  return {
    services: [
      {
        name: d1Service,
        worker: {
          modules: [{ name: "d1-entry.worker.js", esModule: ownScript("d1-entry.worker.js") }],
          compatibilityDate: "2023-07-24",
          bindings: [
            { name: "MINIFLARE_NAMESPACE", text: settings.d1DatabaseId },
            { name: "MINIFLARE_OBJECT", durableObjectNamespace: { serviceName: "d1:db", className: "D1DatabaseObject" } },
          ],
        },
      },
      { name: "d1:storage", disk: { path: path.join(opts.stateDir, "v3", "d1"), writable: true } },
      {
        name: "d1:db",
        worker: {
          modules: [
            { name: "d1-object.worker.js", esModule: ownScript("d1-object.worker.js") },
            { name: "database.worker.js", esModule: miniflareScript("d1/database.worker.js") },
          ],
          compatibilityDate: "2023-07-24",
          compatibilityFlags: ["nodejs_compat", "experimental"],
          durableObjectNamespaces: [{ className: "D1DatabaseObject", uniqueKey: "miniflare-D1DatabaseObject" }],
          durableObjectStorage: { localDisk: "d1:storage" },
          bindings: [{ name: "MINIFLARE_BLOBS", service: { name: "d1:storage" } }],
        },
      },
    ],
    sockets: [{ name: "d1", address: `unix:${opts.socket}`, http: {}, service: { name: d1Service } }],
    extensions: [
      {
        modules: [
          { name: "miniflare:shared", esModule: miniflareScript("shared/index.worker.js") },
          { name: "miniflare:zod", esModule: miniflareScript("shared/zod.worker.js") },
        ],
      },
    ],
  };
}
