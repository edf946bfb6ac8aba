import { OpenAPIHono, type RouteConfig, type RouteHandler } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import type { ZodError, ZodType } from "zod";
import { HttpProblem, problemResponse } from "../../shared/problem";
import { bootReader } from "../boot/reader";
import type { AppEnv, BootEnv } from "../env";
import { MAX_BODY_BYTES, readBody } from "./body";
import { Query } from "./query";
import { problems } from "./wire";

/**
 * Routes described once: each operation's zod schemas validate the request, type the handler
 * (`c.req.valid("query" | "param" | "json")`) and document the route in /openapi.json
 * (workers/docs). Built on @hono/zod-openapi's registry and types, with our own validation in
 * front of the handler, because upstream OpenCHAMI's clients need what its validators do not do:
 *  - JSON bodies are read whatever the Content-Type (ochami sends none; SMD and BSS decode JSON
 *    regardless), with Go's case-insensitive keys (wire.ts);
 *  - query names are case-insensitive (`?type=`, `?Type=`), repeated names give every value to
 *    array parameters and the first value to scalar ones, as Go's `Query().Get` does;
 *  - failures are problem+json with upstream's wording (`error decoding JSON: <path>: expected …`),
 *    and a schema's own check can choose the status (`params: { status: 422 }`).
 * A path's other methods answer 405 with an `Allow` header (SMD's behaviour; Hono alone says 404).
 */

export type Router = OpenAPIHono<AppEnv>;

/** A service's router; `strict: false` ignores a trailing slash, as upstream's routers do. */
export const router = (): Router => new OpenAPIHono<AppEnv>({ strict: false });

const METHODS = ["get", "post", "put", "patch", "delete"] as const;
type Method = (typeof METHODS)[number];

/** An operation as documented (RouteConfig without method and path) plus how it is served. */
export type OperationSpec = Omit<RouteConfig, "method" | "path" | "middleware"> & {
  /** A route of the boot path: `c.var.boot` is its BootReader (workers/boot/reader.ts). */
  boot?: boolean;
  /** Status of a request its schemas reject (default 400). */
  invalidStatus?: number;
  /**
   * Validate the query when the handler first reads it, not before: for a route whose answer the
   * boot reader remembers by URL (a bootscript), a repeated URL is answered without parsing it
   * again. The query schema must be pure (its result depends only on the query string), so a
   * remembered URL is a valid one. An invalid query is the same problem, raised at that read.
   */
  lazyQuery?: boolean;
  /**
   * The most body bytes this operation reads, however the body is framed (a Content-Length above
   * it, or a chunked body as it passes it, is a 413): default MAX_BODY_BYTES (64 MiB, for bulk
   * imports); give a small one to a route that takes small bodies. JSON bodies are read to this
   * limit by the framework; a handler reading another kind of body passes it to `readBytes`.
   * Published as `x-max-body-bytes`.
   */
  maxBodyBytes?: number;
};

type EnvOf<S> = S extends { boot: true } ? BootEnv : AppEnv;
/** The handler's context, typed from the spec's schemas. */
export type OperationContext<S extends OperationSpec> = Parameters<RouteHandler<S & { method: "get"; path: string }, EnvOf<S>>>[0];
type Handler<S extends OperationSpec> = (c: OperationContext<S>) => Response | Promise<Response>;

/** What a handler's helpers need of its context: the request's variables and the request. */
export interface RequestScope<V = AppEnv["Variables"]> {
  var: V;
  req: { raw: Request; url: string; path: string };
}

/**
 * The context read once, for a boot-path handler's helpers: Hono's `c.var` builds a new object
 * from its map at every read (and `c.req.url` asks the Request again), which a bootscript would
 * otherwise pay about eight times.
 */
export function scopeOf<V>(c: RequestScope<V>): RequestScope<V> {
  return { var: c.var, req: { raw: c.req.raw, url: c.req.url, path: c.req.path } };
}

/**
 * Operations of AppEnv and BootEnv routes are registered side by side, so their handlers' context
 * types are erased here; op() has checked each handler against its own spec.
 */
// biome-ignore lint/suspicious/noExplicitAny: the erasure described above.
type AnyEnvHandler = MiddlewareHandler<any>;

export interface Operation {
  spec: OperationSpec;
  handler: AnyEnvHandler;
}

/** One operation: its description and its handler, typed by it. */
export function op<const S extends OperationSpec>(spec: S, handler: Handler<S>): Operation {
  return { spec, handler: handler as unknown as AnyEnvHandler };
}

/**
 * Registers a path's operations, then the 405 answer for its other methods. `path` is written in
 * OpenAPI form (`/groups/{label}`); a segment may carry a fixed suffix (`/{group}.yaml`), which
 * the parameter's value does not include. Register specific paths before general ones, as Hono
 * matches in order.
 */
export function resource(app: Router, path: string, ops: Partial<Record<Method, Operation>>): void {
  const { honoPath, suffixes } = honoPathOf(path);
  // In the order given: the `Allow` header lists them so (upstream's order for BSS).
  const methods = (Object.keys(ops) as Method[]).filter((m) => METHODS.includes(m));
  for (const method of methods) {
    const operation = ops[method]!;
    const { boot, invalidStatus = 400, lazyQuery: _, maxBodyBytes = MAX_BODY_BYTES, ...doc } = operation.spec;
    const limits = doc.request?.body ? { "x-max-body-bytes": maxBodyBytes, responses: { ...problems(413), ...doc.responses } } : {};
    app.openAPIRegistry.registerPath({ ...doc, ...limits, method, path } as RouteConfig);
    const chain: AnyEnvHandler[] = [...validators(operation.spec, suffixes, invalidStatus)];
    if (boot) chain.push(bootReader());
    app.on([method.toUpperCase()], [honoPath], ...chain, operation.handler);
  }
  const allow = methods.map((m) => m.toUpperCase()).join(",");
  app.all(honoPath, () => problemResponse(405, `allow ${allow}`, { headers: { allow } }));
}

/** `/a/{b}/{c}.yaml` → Hono's `/a/:b/:c{[^/]+\.yaml}`, and the suffix each parameter carries. */
function honoPathOf(path: string): { honoPath: string; suffixes: Map<string, string> } {
  const suffixes = new Map<string, string>();
  const honoPath = path.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}([^/]*)/g, (_, name: string, suffix: string) => {
    if (!suffix) return `:${name}`;
    suffixes.set(name, suffix);
    return `:${name}{[^/]+${suffix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}}`;
  });
  return { honoPath, suffixes };
}

// ----------------------------------------------------------------------------- validation

type Target = "param" | "query" | "json";

function validators(spec: OperationSpec, suffixes: Map<string, string>, invalidStatus: number): MiddlewareHandler[] {
  const out: MiddlewareHandler[] = [];
  const { params, query, body } = spec.request ?? {};
  if (params) {
    out.push(
      check("param", params as ZodType, invalidStatus, (c) => {
        const raw = c.req.param() as Record<string, string>;
        for (const [name, suffix] of suffixes) if (raw[name] !== undefined) raw[name] = raw[name].slice(0, -suffix.length);
        return raw;
      }),
    );
  }
  if (query) {
    const names = Object.keys(shapeOf(query as ZodType));
    const many = new Set(names.filter((n) => acceptsMany(shapeOf(query as ZodType)[n])));
    const inputOf = (c: Context) => {
      const q = Query.of(c.req.raw);
      const input: Record<string, string | string[]> = {};
      for (const name of names) {
        const values = q.all(name);
        if (values.length) input[name] = many.has(name) ? values : values[0];
      }
      return input;
    };
    if (spec.lazyQuery) {
      out.push(async (c, next) => {
        c.req.addValidatedData(
          "query",
          onFirstRead(() => parsed("query", query as ZodType, invalidStatus, inputOf(c))),
        );
        await next();
      });
    } else out.push(check("query", query as ZodType, invalidStatus, inputOf));
  }
  const media = body?.content?.["application/json"];
  const json = media && "schema" in media ? (media.schema as ZodType) : undefined;
  if (json) {
    const required = body?.required === true;
    const limit = spec.maxBodyBytes ?? MAX_BODY_BYTES;
    out.push(check("json", json, invalidStatus, (c) => readBody(c.req.raw, { required, limit })));
  }
  return out;
}

function check(target: Target, schema: ZodType, invalidStatus: number, input: (c: Context) => unknown): MiddlewareHandler {
  return async (c, next) => {
    c.req.addValidatedData(target, parsed(target, schema, invalidStatus, await input(c)));
    await next();
  };
}

function parsed(target: Target, schema: ZodType, invalidStatus: number, input: unknown): object {
  const result = schema.safeParse(input, { reportInput: true });
  if (!result.success) throw problemOf(result.error, target, invalidStatus);
  return result.data as object;
}

/** An object computed by `make` when it is first read (any property, key or spread). */
function onFirstRead<T extends object>(make: () => T): T {
  let value: T | undefined;
  const target = () => {
    value ??= make();
    return value;
  };
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(target(), key),
    has: (_, key) => Reflect.has(target(), key),
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor: (_, key) => {
      const d = Reflect.getOwnPropertyDescriptor(target(), key);
      return d && { ...d, configurable: true };
    },
  });
}

/**
 * The first issue, as upstream words it. A value of the wrong JSON type (zod's own type errors, a
 * schema's `{ error: "expected …" }`, wire.ts wrongType) becomes Go's decode message `error
 * decoding JSON: <path>: expected <type>, got <value>` (upstream answers 500 there, we answer
 * 400). Any other wording of a schema is used as is, with the status a `custom` check may set.
 */
export function problemOf(error: ZodError, target: Target, invalidStatus: number): HttpProblem {
  const issue = error.issues[0];
  const params = issue.code === "custom" ? (issue.params ?? {}) : undefined;
  const typeError = params ? params.decode === true : issue.message.startsWith("Invalid") || issue.message.startsWith("expected ");
  if (!typeError) return new HttpProblem((params?.status as number | undefined) ?? invalidStatus, issue.message);
  const expected =
    issue.code === "invalid_type" && issue.message.startsWith("Invalid")
      ? `expected ${TYPE_WORDS[issue.expected] ?? issue.expected}`
      : issue.message;
  const got = `got ${describeValue(issue.input)}`;
  if (target === "json") return new HttpProblem(invalidStatus, `error decoding JSON: ${pathText(issue.path)}: ${expected}, ${got}`);
  return new HttpProblem(
    invalidStatus,
    `bad ${target === "param" ? "path" : "query"} parameter ${pathText(issue.path)}: ${expected}, ${got}`,
  );
}

const TYPE_WORDS: Record<string, string> = {
  string: "a string",
  boolean: "a boolean",
  array: "an array",
  object: "a JSON object",
  record: "a JSON object",
  number: "a number",
  int: "an integer",
};

/** `Components[0].ID`; the body itself is `body`. */
function pathText(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "body";
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
}

/** A JSON value in an error message: its type, and for scalars the value (shortened). */
export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "array";
  return typeof v === "object" ? "object" : `${typeof v} ${JSON.stringify(v)}`.slice(0, 80);
}

// ----------------------------------------------------------------------------- schema shapes

interface Def {
  type: string;
  innerType?: ZodType;
  in?: ZodType;
  shape?: Record<string, ZodType>;
}
const defOf = (s: ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The field schemas of an object schema (through optional, default and pipe wrappers). */
function shapeOf(schema: ZodType): Record<string, ZodType> {
  const def = defOf(unwrap(schema));
  if (!def.shape) throw new Error("a query schema must be an object schema");
  return def.shape;
}

/** True when the field takes an array: it gets every value of a repeated query parameter. */
function acceptsMany(schema: ZodType): boolean {
  return defOf(unwrap(schema)).type === "array";
}

function unwrap(schema: ZodType): ZodType {
  let s = schema;
  for (;;) {
    const def = defOf(s);
    if (def.innerType && ["optional", "nullable", "default", "prefault", "readonly", "catch", "nonoptional"].includes(def.type))
      s = def.innerType;
    else if (def.type === "pipe" && def.in && defOf(def.in).type !== "transform") s = def.in;
    else return s;
  }
}
