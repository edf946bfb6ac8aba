import { HttpProblem, PROBLEM_CONTENT_TYPE, problemBody } from "../../shared/problem";

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
 *
 * Read with workerd's BYOB `readAtLeast` into buffers that grow to 1 MiB: a default reader gets
 * the body in 4 KiB pieces, and 64 MiB that way took ~0.5 s of the API thread in back-to-back
 * reads that starved every other request (a concurrent bootscript waited 3.4 s); 1 MiB reads take
 * ~40 ms for the same body and leave the thread free between them.
 */
export async function readBytes(req: Request, limit: number): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  const length = declared === null ? undefined : Number(declared);
  if (length !== undefined && length > limit) throw tooLarge(limit);
  if (req.body === null || length === 0) return new Uint8Array(0);
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = req.body.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream (a Request built in JS with a plain stream): read it piece by piece.
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const keep = (value: Uint8Array | undefined) => {
    if (!value?.byteLength) return;
    total += value.byteLength;
    if (total > limit) throw tooLarge(limit);
    chunks.push(value);
  };
  const reader = byob ?? req.body.getReader();
  try {
    if (byob) {
      // A declared length up to 1 MiB is read in one go; otherwise 16 KiB first, doubling to 1 MiB
      // (never a buffer the size a client merely declared: memory follows the bytes that arrive).
      let size = length !== undefined && length > 0 ? Math.min(length, MAX_READ_BYTES) : 16 * 1024;
      for (;;) {
        const room = Math.min(size, limit + 1 - total); // never more than one byte past the limit
        const { done, value } = await byob.readAtLeast(room, new Uint8Array(room));
        keep(value);
        if (done) break;
        size = length !== undefined && total >= length ? 1 : Math.min(size * 2, MAX_READ_BYTES);
      }
    } else {
      for (;;) {
        const { done, value } = await (reader as ReadableStreamDefaultReader<Uint8Array>).read();
        if (done) break;
        keep(value);
      }
    }
  } catch (err) {
    chunks.length = 0;
    reader.cancel().catch(() => {});
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

const MAX_READ_BYTES = 1024 * 1024;

const tooLarge = (limit: number) => new HttpProblem(413, `request body is larger than ${limit} bytes`);

/** How long the connection of a refused body is held open after its 413 (refusedBodyResponse). */
export const REFUSAL_HOLD_MS = 1_000;

/**
 * The answer to a body refused for its size (`problem`, a 413), delivered so the client reads it.
 *
 * workerd closes the connection as soon as such a response is done, with the rest of the body
 * unread; closing a socket with received bytes unread makes the kernel answer with a reset, and a
 * client still sending meets the reset on its next write and often (a Node client 5 times in 20,
 * curl 14 in 30) reports "connection reset" (curl: "Send failure") without reading the 413 that
 * arrived just before.
 * So, as nginx's lingering close: the 413 goes out at once with its length declared (a complete
 * answer a client can act on while still sending), and the response, hence the connection, ends
 * only `REFUSAL_HOLD_MS` later. Meanwhile nothing more of the body is read: the client's sending
 * stalls on TCP flow control while it reads the answer and stops. The cost is one idle connection
 * for that long, never more of the body.
 */
export function refusedBodyResponse(req: Request, problem: HttpProblem): Response {
  if (req.body === null) return problem.toResponse();
  const bytes = new TextEncoder().encode(JSON.stringify(problemBody(problem.status, problem.detail, problem.extensions)));
  const { readable, writable } = new FixedLengthStream(bytes.byteLength);
  const writer = writable.getWriter();
  writer.write(bytes).catch(() => {});
  setTimeout(() => writer.close().catch(() => {}), REFUSAL_HOLD_MS);
  return new Response(readable, { status: problem.status, headers: { ...problem.headers, "content-type": PROBLEM_CONTENT_TYPE } });
}
