/**
 * What to answer for a GET/HEAD of one file, from the request headers and the file's size and
 * modification time (RFC 9110 §13 conditionals, §14 ranges). Pure: no I/O.
 *
 * Range parsing is `range-parser` and the 304 test is `fresh` (the jshttp modules `send` and
 * Express use); the order of evaluation follows RFC 9110 §13.2.2: If-Match / If-Unmodified-Since
 * (412), then If-None-Match / If-Modified-Since (304), then If-Range and Range (206/416).
 *
 * Multi-range requests (`bytes=0-1,5-6`) get 200 with the whole file, which RFC 9110 §14.2
 * allows (a server may ignore Range): nobody in the boot path sends them, and a multipart body is
 * a format iPXE and dracut never read. Overlapping ranges that merge into one are served as one.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import fresh from "fresh";
import parseRange from "range-parser";

export interface FileMeta {
  size: number;
  mtimeMs: number;
}

export type FileAnswer =
  | { status: 200 | 206; headers: OutgoingHttpHeaders; start: number; end: number; body: boolean }
  | { status: 304 | 412 | 416; headers: OutgoingHttpHeaders; body: false };

/** nginx's ETag (mtime seconds and size in hex), but strong, so If-Range may use it (RFC 9110 §13.1.5). */
export function etagOf(meta: FileMeta): string {
  return `"${Math.floor(meta.mtimeMs / 1000).toString(16)}-${meta.size.toString(16)}"`;
}

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  ipxe: "text/plain; charset=utf-8",
  cfg: "text/plain; charset=utf-8",
  json: "application/json",
  yaml: "application/yaml",
  iso: "application/x-iso9660-image",
};

/** Boot images have no meaningful type; only the few text files an image tree holds get one. */
export function contentType(name: string): string {
  const dot = name.lastIndexOf(".");
  return (dot >= 0 && CONTENT_TYPES[name.slice(dot + 1).toLowerCase()]) || "application/octet-stream";
}

/**
 * RFC 9110 §14.1.3: a suffix range longer than the representation selects all of it (`bytes=-500`
 * of a 300-byte file is bytes 0-299, a 206, not a 416). range-parser 1.x drops such a range as
 * unsatisfiable, so it is rewritten to `0-` before parsing (range-parser 2 does this itself, but
 * requires Node 22). On an empty file a non-zero suffix is satisfiable yet has no bytes to send:
 * undefined, meaning "answer with the whole (empty) file".
 */
export function clampSuffixRanges(header: string, size: number): string | undefined {
  const eq = header.indexOf("=");
  if (eq < 0) return header;
  let suffixSatisfiable = false;
  const specs = header
    .slice(eq + 1)
    .split(",")
    .map((spec) => {
      const suffix = /^\s*-\s*(\d+)\s*$/.exec(spec);
      if (!suffix || Number(suffix[1]) === 0) return spec;
      suffixSatisfiable = true;
      return Number(suffix[1]) > size ? "0-" : spec;
    });
  if (size === 0 && suffixSatisfiable) return undefined;
  return `${header.slice(0, eq)}=${specs.join(",")}`;
}

function httpDate(value: string | undefined): number {
  return value ? Date.parse(value) : NaN;
}

function tokens(list: string): string[] {
  return list
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
}

export function answerFor(
  method: string,
  req: IncomingHttpHeaders,
  meta: FileMeta,
  extra: { contentType: string; cacheControl?: string },
): FileAnswer {
  const etag = etagOf(meta);
  const lastModified = new Date(Math.floor(meta.mtimeMs / 1000) * 1000).toUTCString();
  const modifiedSeconds = Math.floor(meta.mtimeMs / 1000) * 1000;
  const validators: OutgoingHttpHeaders = { etag, "last-modified": lastModified, "accept-ranges": "bytes" };
  if (extra.cacheControl) validators["cache-control"] = extra.cacheControl;

  const ifMatch = req["if-match"];
  if (ifMatch !== undefined) {
    // Strong comparison: a weak tag never matches.
    if (ifMatch.trim() !== "*" && !tokens(ifMatch).includes(etag)) return { status: 412, headers: {}, body: false };
  } else {
    const since = httpDate(req["if-unmodified-since"]);
    if (!Number.isNaN(since) && modifiedSeconds > since) return { status: 412, headers: {}, body: false };
  }

  if (
    (req["if-none-match"] !== undefined || req["if-modified-since"] !== undefined) &&
    fresh(req, { etag, "last-modified": lastModified })
  ) {
    return { status: 304, headers: validators, body: false };
  }

  const headers: OutgoingHttpHeaders = { ...validators, "content-type": extra.contentType };
  const body = method !== "HEAD";
  const range = req.range === undefined ? undefined : clampSuffixRanges(req.range, meta.size);
  if (range) {
    const ranges = parseRange(meta.size, range, { combine: true });
    const ifRange = [req["if-range"]].flat()[0];
    const rangeApplies = ifRange === undefined || (ifRange.includes('"') ? ifRange.trim() === etag : modifiedSeconds <= httpDate(ifRange));
    if (rangeApplies && ranges === -1) {
      return { status: 416, headers: { "content-range": `bytes */${meta.size}` }, body: false };
    }
    if (rangeApplies && Array.isArray(ranges) && ranges.type === "bytes" && ranges.length === 1) {
      const { start, end } = ranges[0];
      headers["content-range"] = `bytes ${start}-${end}/${meta.size}`;
      headers["content-length"] = end - start + 1;
      return { status: 206, headers, start, end, body };
    }
  }
  headers["content-length"] = meta.size;
  return { status: 200, headers, start: 0, end: meta.size - 1, body };
}
