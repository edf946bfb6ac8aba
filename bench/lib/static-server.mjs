// Plain Node `http` serving files from memory: the "what Node itself can do" anchor of
// bench/storm.ts. Usage: node static-server.mjs <dir> <port>. Every file under <dir> is served at
// its relative path; prints "ready" when listening.
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";

const [dir, port] = process.argv.slice(2);
const files = new Map();
for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile()) continue;
  const full = path.join(entry.parentPath ?? entry.path, entry.name);
  files.set(`/${path.relative(dir, full)}`, readFileSync(full));
}
http
  .createServer((req, res) => {
    const body = files.get(req.url);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/plain", "content-length": body.length }).end(body);
  })
  .listen(Number(port), "127.0.0.1", () => console.log("ready"));
