import { HttpProblem } from "../../shared/problem";

/** Largest request body accepted; an import of 100,000 nodes is well under this. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * A request body as JSON, whatever its Content-Type: ochami sends none, and SMD and BSS decode
 * JSON regardless. An empty body is undefined, or a 400 when the route requires one. Malformed
 * JSON is a 400 with the parser's message (upstream answers 500).
 */
export async function readBody(req: Request, opts: { required: boolean }): Promise<unknown> {
  const text = await readText(req);
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

async function readText(req: Request): Promise<string> {
  const length = Number(req.headers.get("content-length") ?? "0");
  if (length > MAX_BODY_BYTES) throw new HttpProblem(413, `request body is larger than ${MAX_BODY_BYTES} bytes`);
  try {
    return await req.text();
  } catch {
    throw new HttpProblem(400, "could not read request body");
  }
}
