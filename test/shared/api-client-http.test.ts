import { afterAll, describe, expect, it } from "vitest";
import { closeConnections, NetworkError, request } from "../../shared/api-client/http";
import { startClosingServer } from "../support/closing-server";

/** The API client's transport against a server that closes a kept-alive connection under the next request. */
describe("API client: a kept-alive connection closed under a request", () => {
  afterAll(() => closeConnections());

  it("sends a GET again on a new connection; a POST fails with the reason", async () => {
    const server = await startClosingServer();
    try {
      const get = (p: string) => request(`${server.url}${p}`, { timeoutMs: 5_000 });
      expect((await get("/one")).text()).toBe("ok\n");
      expect((await get("/two")).text()).toBe("ok\n");
      expect(server.requests.map((r) => [r.connection, r.head.split(" ")[1]])).toEqual([
        [1, "/one"],
        [1, "/two"],
        [2, "/two"],
      ]);
      const post = request(`${server.url}/events`, { method: "POST", body: "[]", timeoutMs: 5_000 });
      await expect(post).rejects.toBeInstanceOf(NetworkError);
      await expect(post).rejects.toMatchObject({ staleConnection: true });
      expect(server.requests.filter((r) => r.head.startsWith("POST"))).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});
