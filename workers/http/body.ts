import { HttpProblem } from "../../shared/problem";

/**
 * Largest request body a route accepts unless its spec says otherwise (`maxBodyBytes`); an import
 * of 100,000 nodes is well under this.
 */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * The limit for routes that take a few fields (the token endpoint's form, a client registration):
 * what they need is a few hundred bytes.
 */
export const SMALL_BODY_BYTES = 64 * 1024;

/**
 * A request body as JSON, whatever its Content-Type: ochami sends none, and SMD and BSS decode
 * JSON regardless. An empty body is undefined, or a 400 when the route requires one. Malformed
 * JSON is a 400 with the parser's message (upstream answers 500). More than `limit` bytes is a 413.
 */
export async function readBody(req: Request, opts: { required: boolean; limit?: number }): Promise<unknown> {
  const text = new TextDecoder().decode(await readBytes(req, opts.limit ?? MAX_BODY_BYTES));
  if (text.trim() === "") {
    if (opts.required) throw new HttpProblem(400, "error decoding JSON: request body is empty");
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpProblem(400, `error decoding JSON: ${(err as Error).message}`);
  }
}

/**
 * The body's bytes, at most `limit` of them however the body is framed. A Content-Length above
 * the limit is refused before reading; a chunked body (or one whose length the client did not
 * declare) is counted as it streams, and refused the moment it passes the limit: the stream is
 * cancelled and nothing more is read or kept, so memory stays bounded by the limit. A 413 names
 * the limit; a body the client broke off is a 400.
 */
export async function readBytes(req: Request, limit: number): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (req.body === null) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        chunks.length = 0;
        reader.cancel().catch(() => {});
        throw tooLarge(limit);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof HttpProblem) throw err;
    throw new HttpProblem(400, "could not read request body");
  } finally {
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

const tooLarge = (limit: number) => new HttpProblem(413, `request body is larger than ${limit} bytes`);
