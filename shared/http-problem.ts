/** RFC 7807 answers from the Node HTTP servers (the agent's images and node proxy, the head node's HTTPS front), same shape as the API's. */
import { type ServerResponse, STATUS_CODES } from "node:http";
import { PROBLEM_CONTENT_TYPE, problemBody } from "./problem";

export function sendProblem(res: ServerResponse, status: number, detail: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    // Too late for a status: cut the connection so the client sees a truncated body, not a short file.
    res.destroy();
    return;
  }
  const body = problemBody(status, detail);
  if (body.title === "Error" && STATUS_CODES[status]) body.title = STATUS_CODES[status]!;
  const text = JSON.stringify(body);
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.writeHead(status, { ...headers, "content-type": PROBLEM_CONTENT_TYPE, "content-length": Buffer.byteLength(text) });
  res.end(res.req?.method === "HEAD" ? undefined : text);
}
