import { createServer } from "node:net";

/**
 * A stand-in API on loopback that answers the first request of each connection, kept alive, and
 * closes the connection, unanswered, when the next request arrives on it: what workerd's idle close
 * (5 s) does to a request a client sends on that connection just before it. `requests`: every
 * request head in order, with the number of the connection it came on.
 */
export async function startClosingServer(): Promise<{
  url: string;
  requests: Array<{ connection: number; head: string }>;
  close(): Promise<void>;
}> {
  const requests: Array<{ connection: number; head: string }> = [];
  let connections = 0;
  const server = createServer((socket) => {
    const connection = ++connections;
    let buffered = "";
    socket.on("data", (d: Buffer) => {
      buffered += d.toString("latin1");
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buffered.slice(0, end);
      // A body, if any, is not read: the connection's second request closes it anyway.
      buffered = "";
      requests.push({ connection, head });
      if (requests.filter((r) => r.connection === connection).length > 1) return void socket.destroy();
      socket.write("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 3\r\nconnection: keep-alive\r\n\r\nok\n");
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}
