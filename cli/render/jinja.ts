import { at, isObject, type JsonObject } from "../io/json";
import { log } from "../log";

/**
 * `ochami cloud-init group render`: a group's cloud-config rendered for one node the way
 * cloud-init on that node renders it, as far as a JavaScript Jinja engine allows.
 *
 * Engine: nunjucks (Mozilla's Jinja2 port, the well-kept JS choice) with its Jinja compatibility
 * layer (`True/False/None`, `dict.items()`, `keys()`, `values()`, list slicing...). Variables are
 * cloud-init's instance data for a NoCloud node:
 *   ds.meta_data   the node's meta-data document (what upstream's ochami passes, and all it passes)
 *   v1             cloud_name, platform (nocloud), instance_id, local_hostname, region,
 *                  availability_zone, public_ssh_keys from the meta-data
 *   v1's keys also at the top level, and every key containing '-' also spelt with '_'
 *   (cloud-init's `convert_jinja_instance_data`), then `-e` extra variables merged over them.
 * Rendering uses cloud-init's `trim_blocks=True`, and the `## template: jinja` header line is
 * removed, as cloud-init does, so the output is what the node applies. Content without that
 * header is not a template and is printed unchanged.
 *
 * Python's common str methods (upper, lower, strip, split, replace, startswith, ...) are added to
 * nunjucks' compatibility layer, which covers only lists and dicts.
 *
 * Differences from Jinja2 (documented in the README): an undefined variable renders as empty
 * (cloud-init writes `CI_MISSING_JINJA_VAR/<name>`) and is reported as a warning; Python methods
 * beyond nunjucks' compatibility layer (e.g. `str.format`) and the `do` extension are missing.
 */
export const TEMPLATE_HEADER = /^##\s*template:\s*jinja[ \t]*\r?\n/i;

export function isJinjaTemplate(content: string): boolean {
  return TEMPLATE_HEADER.test(content);
}

/** The variables of a node's meta-data document (parsed YAML: an object, unless the document is broken). */
export function instanceData(metaData: unknown): JsonObject {
  const v1data = at(metaData, "instance_data", "v1");
  const v1 = {
    cloud_name: "nocloud",
    platform: "nocloud",
    instance_id: at(metaData, "instance-id") ?? at(v1data, "instance_id") ?? "",
    local_hostname: at(metaData, "local-hostname") ?? "",
    region: at(v1data, "region") ?? "",
    availability_zone: at(v1data, "availability_zone") ?? "",
    public_ssh_keys: at(v1data, "public_keys") ?? [],
  };
  return { ds: { meta_data: metaData ?? {} }, v1 };
}

/** cloud-init's aliases: `a-b` also as `a_b`; the keys of `v1` (`v<N>`) copied to the top level. */
export function withAliases(data: JsonObject, top = true): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(data)) {
    const v = isObject(value) ? withAliases(value, false) : value;
    out[key] = v;
    if (key.includes("-") && !(key.replace(/-/g, "_") in data)) out[key.replace(/-/g, "_")] = v;
    if (top && /^v[0-9]+$/.test(key) && v && typeof v === "object") for (const [k, sv] of Object.entries(v)) if (!(k in out)) out[k] = sv;
  }
  return out;
}

export function deepMerge(base: JsonObject, over: JsonObject): JsonObject {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const current = out[k];
    out[k] = isObject(v) && isObject(current) ? deepMerge(current, v) : v;
  }
  return out;
}

export async function renderTemplate(content: string, variables: JsonObject): Promise<string> {
  if (!isJinjaTemplate(content)) return content;
  const body = content.replace(TEMPLATE_HEADER, "");
  // Loaded on demand: the engine is the largest part of the CLI and only this command needs it.
  const nunjucks = (await import("nunjucks")).default;
  installCompat(nunjucks);
  const options = { autoescape: false, trimBlocks: true };
  try {
    new nunjucks.Environment(null, { ...options, throwOnUndefined: true }).renderString(body, variables);
  } catch (err) {
    const message = (err as Error).message.replace(/^\(unknown path\)\s*/, "").replace(/\s+/g, " ");
    if (/undefined|null/.test(message)) log.warn(`template uses a variable this node does not have; it renders empty here (${message})`);
  }
  return new nunjucks.Environment(null, options).renderString(body, variables);
}

/**
 * Python str methods templates call on strings, mapped to JavaScript (nunjucks has none of them).
 * A template passes whatever it passes: each method declares the arguments it reads, and
 * `never[]` lets the table hold methods of any parameters.
 */
const STR_METHODS: Record<string, (this: string, ...args: never[]) => unknown> = {
  upper() {
    return this.toUpperCase();
  },
  lower() {
    return this.toLowerCase();
  },
  strip(chars?: string) {
    return chars ? trimChars(this, chars, true, true) : this.trim();
  },
  lstrip(chars?: string) {
    return chars ? trimChars(this, chars, true, false) : this.trimStart();
  },
  rstrip(chars?: string) {
    return chars ? trimChars(this, chars, false, true) : this.trimEnd();
  },
  split(sep?: string, max?: number) {
    const parts = sep === undefined || sep === null ? this.trim().split(/\s+/).filter(Boolean) : this.split(sep);
    return max === undefined || max < 0 || parts.length <= max + 1 ? parts : [...parts.slice(0, max), parts.slice(max).join(sep ?? " ")];
  },
  replace(from: string, to: string) {
    return this.split(from).join(to);
  },
  startswith(prefix: string) {
    return this.startsWith(prefix);
  },
  endswith(suffix: string) {
    return this.endsWith(suffix);
  },
  join(items: unknown[]) {
    return items.join(this);
  },
  title() {
    return this.replace(/\w\S*/g, (w) => w[0].toUpperCase() + w.slice(1).toLowerCase());
  },
  capitalize() {
    return this.charAt(0).toUpperCase() + this.slice(1).toLowerCase();
  },
  isdigit() {
    return /^[0-9]+$/.test(this);
  },
};

function trimChars(s: string, chars: string, start: boolean, end: boolean): string {
  let a = 0;
  let b = s.length;
  while (start && a < b && chars.includes(s[a])) a++;
  while (end && b > a && chars.includes(s[b - 1])) b--;
  return s.slice(a, b);
}

let compatInstalled = false;

/** `obj.val` in a compiled template (nunjucks' runtime.memberLookup; `rest`: its autoescape flag). */
type MemberLookup = (this: unknown, obj: unknown, val: unknown, ...rest: unknown[]) => unknown;

function installCompat(nunjucks: typeof import("nunjucks")) {
  if (compatInstalled) return;
  compatInstalled = true;
  nunjucks.installJinjaCompat();
  // @types/nunjucks declares only SafeString in `runtime`; memberLookup is there all the same
  // (compiled templates call it for `a.b`, and the Jinja compatibility layer replaces it too).
  const runtime = nunjucks.runtime as typeof nunjucks.runtime & { memberLookup: MemberLookup };
  const lookup = runtime.memberLookup;
  runtime.memberLookup = function (this: unknown, obj: unknown, val: unknown, ...rest: unknown[]) {
    if (typeof obj === "string" && typeof val === "string" && Object.hasOwn(STR_METHODS, val)) return STR_METHODS[val].bind(obj);
    return lookup.call(this, obj, val, ...rest);
  };
}
