import { type ZodRawShape, type ZodType, z } from "zod";
import { HttpProblem, PROBLEM_CONTENT_TYPE, STATUS_TITLES } from "../../shared/problem";
import { isPlainObject, keyCanonicalizer } from "./json-keys";

/**
 * zod building blocks for upstream's wire formats: JSON read the way Go's encoding/json reads it
 * (case-insensitive keys, unknown keys ignored, json.Number accepting a numeric string), query
 * parameters, and the problem+json answers, documented once for every route.
 */

/**
 * A JSON object whose keys match the shape's case-insensitively (an exact spelling wins), as Go
 * decodes into a struct; keys the shape does not name are dropped. `meta` documents it (give an
 * `id` to make it a named schema in /openapi.json); `notObject` words the error for a value that
 * is no object.
 */
export function goObject<S extends ZodRawShape>(shape: S, meta?: Record<string, unknown>, opts: { notObject?: string } = {}) {
  const canonical = keyCanonicalizer(Object.keys(shape));
  const object = meta ? z.object(shape).meta(meta) : z.object(shape);
  return z.preprocess((v, ctx) => {
    if (isPlainObject(v)) return canonical(v);
    // A route's own wording for a body that is no object at all; else Go's type error.
    if (opts.notObject) ctx.addIssue({ code: "custom", message: opts.notObject, input: v });
    return v;
  }, object);
}

/** An optional field: absent and `null` both mean "not given", as for Go's non-pointer fields. */
export const opt = <T extends ZodType>(schema: T) => schema.nullish();

/**
 * A value of the wrong JSON type, reported as Go reports it (workers/http/route.ts words it
 * `error decoding JSON: <path>: expected <what>, got <value>`).
 */
export function wrongType(ctx: z.RefinementCtx, expected: string, input: unknown): typeof z.NEVER {
  ctx.addIssue({ code: "custom", message: `expected ${expected}`, input, params: { decode: true } });
  return z.NEVER;
}

/** Refuses a value with the route's own wording (a 400, or `status`): workers/http/route.ts problemOf uses it as is. */
export function refuse(ctx: z.RefinementCtx, message: string, input?: unknown, status?: number): typeof z.NEVER {
  ctx.addIssue({ code: "custom", message, input, ...(status ? { params: { status } } : {}) });
  return z.NEVER;
}

/**
 * A transform by a domain function that throws upstream's answer (an HttpProblem): its detail
 * and status become the request's problem.
 */
export function checked<I, O>(parse: (input: I) => O) {
  return (input: I, ctx: z.RefinementCtx): O => {
    try {
      return parse(input);
    } catch (err) {
      if (!(err instanceof HttpProblem)) throw err;
      return refuse(ctx, err.detail ?? "", input, err.status);
    }
  };
}

/**
 * `schema`, after a check of the raw value that comes first: its problem is reported before
 * anything `schema` finds (upstream checks some things before decoding the rest). Documented as
 * `schema`.
 */
export function checkedFirst<T extends ZodType>(check: (raw: unknown) => HttpProblem | undefined, schema: T) {
  return z.preprocess((raw, ctx) => {
    const problem = check(raw);
    if (problem) refuse(ctx, problem.detail ?? "", raw, problem.status);
    return raw;
  }, schema);
}

/** A JSON object, or a 400 worded `detail` (routes where upstream words it without the value). */
export const objectOr = <T extends ZodType>(detail: string, schema: T) =>
  checkedFirst((raw) => (isPlainObject(raw) ? undefined : new HttpProblem(400, detail)), schema);

/** Every value of a repeated query parameter through `parse`; undefined refuses the value with `message`. */
export const each = (parse: (v: string) => string | undefined, message: string) =>
  z.array(z.string()).transform((values, ctx) => {
    const out: string[] = [];
    for (const v of values) {
      const parsed = parse(v);
      if (parsed === undefined) return refuse(ctx, message, v);
      out.push(parsed);
    }
    return out;
  });

/** Go's json.Number into an int: a JSON integer, or a string holding one. */
export const goInt = z
  .union([z.number(), z.string()], { error: "expected an integer" })
  .transform((v, ctx) => {
    const n = typeof v === "number" ? v : /^\s*-?[0-9]+\s*$/.test(v) ? Number(v) : Number.NaN;
    return Number.isSafeInteger(n) ? n : wrongType(ctx, "an integer", v);
  })
  .meta({ type: "integer", description: "an integer (a string holding one is accepted)" });

/** A query parameter that may be repeated or comma-separated (`?mac=a,b&mac=c`): every non-empty value. */
export const commaList = z
  .array(z.string())
  .transform((values) =>
    values
      .flatMap((v) => v.split(","))
      .map((v) => v.trim())
      .filter((v) => v !== ""),
  )
  .meta({ description: "repeat the parameter or separate values with commas" });

/** A query flag such as `?stateonly=true`; present without a value counts as true. */
export const queryFlag = z
  .string()
  .transform((v) => v === "" || /^(1|t|true|yes)$/i.test(v))
  .meta({ type: "boolean" });

// ----------------------------------------------------------------------------- answers

/** RFC 7807 problem details, the error body of every route. */
export const Problem = z
  .object({
    type: z.string().meta({ example: "about:blank" }),
    title: z.string().meta({ example: "Bad Request" }),
    detail: z.string().optional(),
    status: z.int(),
  })
  .meta({ id: "Problem", description: "RFC 7807 problem details" });

/** Documented error answers: `problems(400, 404)`, each with a Problem body. */
export function problems(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: STATUS_TITLES[s] ?? `HTTP ${s}`, content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } } }]),
  );
}

/** A documented JSON answer. */
export const json = <T extends ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });

/** A documented text answer. */
export const text = (description: string, type = "text/plain") => ({ description, content: { [type]: { schema: z.string() } } });

/** A documented answer without a body. */
export const empty = (description: string) => ({ description });

/** A JSON request body (read whatever its Content-Type); a required one may not be empty. */
export const jsonBody = <T extends ZodType>(schema: T, description?: string, required = true) => ({
  description,
  required,
  content: { "application/json": { schema } },
});
