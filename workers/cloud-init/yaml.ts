import { Document, type Node, Pair, Scalar, type ScalarTag, YAMLMap, YAMLSeq } from "yaml";

/**
 * YAML as upstream's cloud-init server writes meta-data (Go's gopkg.in/yaml.v2 2.4): structs keep
 * their field order, map keys are sorted in go-yaml's natural order, block sequences are not
 * indented under their key, and each string gets the scalar style go-yaml would pick. The `yaml`
 * package does the writing; this module only decides order and styles, which it cannot express as
 * options: go-yaml resolves plain scalars by YAML 1.1 rules and picks quote styles from libyaml's
 * scalar analysis, both re-stated below.
 *
 * Two deliberate differences, both invisible to a YAML parser:
 *  - no folding of long lines (go-yaml folds plain scalars past column 80 at a space; the `yaml`
 *    package folds with a different rule, so we fold none);
 *  - numbers keep their value: go-yaml prints float64s with Go's %g, so 10000000 becomes
 *    `1e+07`, which PyYAML (cloud-init's parser, YAML 1.1) reads as a *string*. We print integers
 *    in full and give other exponent forms a fraction (`1.0e-07`) so that they stay numbers.
 * And one addition: strings that PyYAML alone would misread as another type (`=`, the YAML 1.1
 * timestamp forms Go does not parse) are double-quoted too, so a node reads back every value it
 * was given.
 */
export type YamlValue = string | number | boolean | null | readonly YamlValue[] | OrderedMap | { readonly [key: string]: YamlValue };

/** A map whose keys are written in insertion order (a Go struct); plain objects are sorted. */
export type OrderedMap = ReadonlyMap<string, YamlValue>;

export function renderYaml(value: YamlValue): string {
  const doc = new Document(null, { schema: "failsafe", customTags: SCALAR_TAGS });
  doc.contents = toNode(value) as Node;
  const text = doc.toString({
    indent: 2,
    indentSeq: false,
    lineWidth: 0,
    minContentWidth: 0,
    doubleQuotedMinMultiLineLength: Number.MAX_SAFE_INTEGER,
    directives: false,
  });
  return text.replace(UNSAFE_RAW, escapeChar);
}

/**
 * Characters the `yaml` package leaves raw inside double quotes (its escaping is JSON's) but that a
 * YAML 1.1 reader rejects (DEL, C1 controls, non-characters) or reads as a line break (NEL, LS,
 * PS). scalarStyle() double-quotes every string holding one, so they are escaped here, where
 * only double-quoted text can contain them.
 */
const UNSAFE_RAW = /[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/g;

function escapeChar(c: string): string {
  const named: Record<string, string> = { "\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P" };
  const code = c.charCodeAt(0);
  return named[c] ?? (code <= 0xff ? `\\x${code.toString(16).toUpperCase()}` : `\\u${code.toString(16).toUpperCase()}`);
}

function toNode(v: YamlValue, key = false): unknown {
  if (typeof v === "string") {
    const s = new Scalar(v);
    s.type = scalarStyle(v, key);
    return s;
  }
  if (v === null || typeof v === "number" || typeof v === "boolean") return new Scalar(v);
  if (Array.isArray(v)) {
    const seq = new YAMLSeq();
    for (const item of v) seq.items.push(toNode(item));
    return seq;
  }
  const entries: Array<[string, YamlValue]> =
    v instanceof Map ? [...v.entries()] : Object.entries(v).sort(([a], [b]) => goKeyCompare(a, b));
  const map = new YAMLMap();
  for (const [k, item] of entries) map.items.push(new Pair(toNode(k, true), toNode(item)));
  return map;
}

// ----------------------------------------------------------------------------- non-string scalars

/** Integers in full; other numbers in JS shortest form, with a fraction before any exponent. */
export function formatNumber(n: number): string {
  if (Number.isNaN(n)) return ".nan";
  if (!Number.isFinite(n)) return n > 0 ? ".inf" : "-.inf";
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return BigInt(n).toString();
  const s = String(n);
  const e = s.indexOf("e");
  if (e < 0 || s.slice(0, e).includes(".")) return s;
  return `${s.slice(0, e)}.0${s.slice(e)}`;
}

const scalarTag = <T>(tag: string, identify: (v: unknown) => boolean, stringify: (v: T) => string): ScalarTag => ({
  tag,
  default: true,
  identify,
  resolve: (s: string) => s,
  stringify: (item) => stringify((item as Scalar<T>).value),
});

/** The failsafe schema has strings only; these write the JSON scalars that meta-data holds. */
const SCALAR_TAGS: ScalarTag[] = [
  scalarTag(
    "tag:yaml.org,2002:null",
    (v) => v === null,
    () => "null",
  ),
  scalarTag(
    "tag:yaml.org,2002:bool",
    (v) => typeof v === "boolean",
    (v: boolean) => String(v),
  ),
  scalarTag("tag:yaml.org,2002:float", (v) => typeof v === "number", formatNumber),
];

// ----------------------------------------------------------------------------- string styles

/**
 * go-yaml's style for a string: it asks for plain style unless the plain text would resolve to
 * another YAML 1.1 type (then double quotes), and for literal block style when the string has a
 * line break. libyaml then downgrades the request when the text cannot be written that way:
 * plain → single-quoted → double-quoted, literal → double-quoted.
 */
export function scalarStyle(s: string, simpleKey = false): Scalar.Type {
  if (/[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/.test(s)) return "QUOTE_DOUBLE";
  const a = analyze(s);
  let style: Scalar.Type = s.includes("\n") ? "BLOCK_LITERAL" : resolvesToNonString(s) ? "QUOTE_DOUBLE" : "PLAIN";
  if (simpleKey && a.multiline) style = "QUOTE_DOUBLE";
  if (style === "PLAIN" && (!a.blockPlainAllowed || (s === "" && simpleKey))) style = "QUOTE_SINGLE";
  if (style === "QUOTE_SINGLE" && !a.singleQuotedAllowed) style = "QUOTE_DOUBLE";
  if (style === "BLOCK_LITERAL" && (!a.blockAllowed || simpleKey)) style = "QUOTE_DOUBLE";
  return style;
}

/** YAML 1.1 plain-scalar resolution as go-yaml v2 does it, plus PyYAML's (cloud-init's) extras. */
export function resolvesToNonString(s: string): boolean {
  return goResolvesToNonString(s) || PYYAML_NON_STRING.some((re) => re.test(s));
}

const GO_SPECIAL = new Set(
  "y Y yes Yes YES n N no No NO true True TRUE false False FALSE on On ON off Off OFF ~ null Null NULL .nan .NaN .NAN .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF <<".split(
    " ",
  ),
);
const GO_INT = /^[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/;
const GO_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const GO_BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;
const GO_TIMESTAMPS = [
  /^(\d{4})-(\d{1,2})-(\d{1,2})[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
  /^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?$/,
  /^(\d{4})-(\d{1,2})-(\d{1,2})$/,
];

function goResolvesToNonString(s: string): boolean {
  if (s === "" || GO_SPECIAL.has(s)) return true;
  if (GO_BASE60_FLOAT.test(s)) return true;
  const c = s[0];
  if (c === ".") return /^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(s);
  if (!(c === "+" || c === "-" || (c >= "0" && c <= "9"))) return false;
  if (GO_TIMESTAMPS.some((re) => validTimestamp(re, s))) return true;
  const plain = s.replaceAll("_", "");
  return GO_INT.test(plain) || GO_FLOAT.test(plain) || /^-0b[01]+$/.test(plain);
}

function validTimestamp(re: RegExp, s: string): boolean {
  const m = re.exec(s);
  if (!m) return false;
  const [y, mo, d, h = "0", mi = "0", sec = "0"] = m.slice(1).map((x) => x ?? "0");
  const month = Number(mo);
  const day = Number(d);
  const days = new Date(Date.UTC(Number(y), month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= days && Number(h) < 24 && Number(mi) < 60 && Number(sec) < 60;
}

/** PyYAML 6 implicit resolvers (YAML 1.1), which cloud-init's `util.load_yaml` applies. */
const PYYAML_NON_STRING = [
  /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  /^(?:~|null|Null|NULL|)$/,
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
  /^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$/,
  /^(?:<<|=)$/,
];

interface Analysis {
  multiline: boolean;
  blockPlainAllowed: boolean;
  singleQuotedAllowed: boolean;
  blockAllowed: boolean;
}

const isBreak = (c: string) => c === "\n" || c === "\r" || c === "\u0085" || c === "\u2028" || c === "\u2029";
const isBlank = (c: string | undefined) => c === " " || c === "\t";

/** libyaml's printable set: no tab, no CR, no C0/C1 controls, nothing outside the BMP. */
function isPrintable(c: string): boolean {
  const p = c.codePointAt(0)!;
  return p === 0x0a || (p >= 0x20 && p <= 0x7e) || (p >= 0xa0 && p <= 0xd7ff) || (p >= 0xe000 && p <= 0xfffd && p !== 0xfeff);
}

/** What libyaml's emitter allows for a scalar in block context (yaml_emitter_analyze_scalar). */
function analyze(s: string): Analysis {
  if (s === "") return { multiline: false, blockPlainAllowed: true, singleQuotedAllowed: true, blockAllowed: false };
  const chars = [...s];
  let blockIndicators = s.startsWith("---") || s.startsWith("...");
  let lineBreaks = false;
  let special = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let precededByWhitespace = true;
  let previousSpace = false;
  let previousBreak = false;
  chars.forEach((c, i) => {
    const next = chars[i + 1];
    const followedByWhitespace = next === undefined || isBlank(next);
    if (i === 0) {
      if ("#,[]{}&*!|>'\"%@`".includes(c)) blockIndicators = true;
      else if ((c === "?" || c === ":" || c === "-") && followedByWhitespace) blockIndicators = true;
    } else if ((c === ":" && followedByWhitespace) || (c === "#" && precededByWhitespace)) {
      blockIndicators = true;
    }
    if (!isPrintable(c)) special = true;
    const last = i === chars.length - 1;
    if (c === " ") {
      if (i === 0) leadingSpace = true;
      if (last) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(c)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (last) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = isBlank(c) || isBreak(c);
  });
  let blockPlainAllowed = true;
  let singleQuotedAllowed = true;
  let blockAllowed = true;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) blockPlainAllowed = false;
  if (trailingSpace) blockAllowed = false;
  if (breakSpace) blockPlainAllowed = singleQuotedAllowed = false;
  if (spaceBreak || special) blockPlainAllowed = singleQuotedAllowed = blockAllowed = false;
  if (lineBreaks || blockIndicators) blockPlainAllowed = false;
  return { multiline: lineBreaks, blockPlainAllowed, singleQuotedAllowed, blockAllowed };
}

// ----------------------------------------------------------------------------- key order

const isLetter = (c: string) => /\p{L}/u.test(c);
const isDigit = (c: string) => /\p{Nd}/u.test(c);
const digitValue = (c: string) => (c >= "0" && c <= "9" ? c.charCodeAt(0) - 48 : 0);

/**
 * go-yaml's map key order: code points compared one by one, except that letters sort after
 * non-letters and runs of digits compare by numeric value ("x9" < "x10"), so cabinet and node
 * groups come out in the order people count them.
 */
export function goKeyCompare(a: string, b: string): number {
  const ar = [...a];
  const br = [...b];
  for (let i = 0; i < ar.length && i < br.length; i++) {
    if (ar[i] === br[i]) continue;
    const al = isLetter(ar[i]);
    const bl = isLetter(br[i]);
    if (al && bl) return ar[i] < br[i] ? -1 : 1;
    if (al || bl) return bl ? -1 : 1;
    // Digits or punctuation: compare the digit runs that start here as numbers. A run that
    // continues a number with a non-zero digit before it counts from 1, as go-yaml does.
    let an = 0;
    let bn = 0;
    if (ar[i] === "0" || br[i] === "0") {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]); j--) {
        if (ar[j] !== "0") {
          an = bn = 1;
          break;
        }
      }
    }
    let ai = i;
    let bi = i;
    for (; ai < ar.length && isDigit(ar[ai]); ai++) an = an * 10 + digitValue(ar[ai]);
    for (; bi < br.length && isDigit(br[bi]); bi++) bn = bn * 10 + digitValue(br[bi]);
    if (an !== bn) return an < bn ? -1 : 1;
    if (ai !== bi) return ai < bi ? -1 : 1;
    return ar[i] < br[i] ? -1 : 1;
  }
  return ar.length === br.length ? 0 : ar.length < br.length ? -1 : 1;
}
