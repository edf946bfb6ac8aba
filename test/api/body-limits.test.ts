import { describe, expect, it } from "vitest";
import { MAX_BODY_BYTES, SMALL_BODY_BYTES } from "../../workers/http/body";
import { dispatch, getJson } from "./client";

/**
 * Every body is counted as it streams and refused with 413 the moment it passes its route's limit,
 * whatever its framing: a body without Content-Length (a stream, as a chunked upload arrives) is
 * read only up to the limit, then cancelled.
 */

/**
 * A body of `total` bytes of `byte`, in `chunk`-byte pieces, that records how much was read and
 * whether it was cancelled. `bytes`: a byte stream, which a reader may read in its own sizes (as
 * workerd delivers a real upload); otherwise a plain stream, read piece by piece.
 */
function source(total: number, chunk = 16 * 1024, byte = 0x61, bytes = false) {
  const state = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>(
    {
      ...(bytes ? { type: "bytes" as const } : {}),
      pull(ctrl: ReadableStreamDefaultController<Uint8Array>) {
        if (state.pulled >= total) return ctrl.close();
        const n = Math.min(chunk, total - state.pulled);
        ctrl.enqueue(new Uint8Array(n).fill(byte));
        state.pulled += n;
      },
      cancel() {
        state.cancelled = true;
      },
    } as UnderlyingSource<Uint8Array>,
    { highWaterMark: 0 }, // nothing is pulled before the reader asks
  );
  return { stream, state };
}

async function post(path: string, body: ReadableStream<Uint8Array> | string, headers: Record<string, string> = {}) {
  const req = new Request(`http://ochami.test${path}`, { method: "POST", body, headers, duplex: "half" } as RequestInit);
  expect(req.headers.get("content-length")).toBeNull(); // as a chunked upload arrives
  const res = await dispatch(req);
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type"), body: text ? JSON.parse(text) : undefined };
}

const FORM = { "content-type": "application/x-www-form-urlencoded" };

describe("request body limits, however the body is framed", () => {
  it.each([
    ["a plain", false],
    ["a byte", true],
  ])(
    "the public token endpoint reads at most 64 KiB of %s stream without Content-Length, then answers 413 and cancels it",
    async (_, bytes) => {
      const { stream, state } = source(1024 * 1024 * 1024, 16 * 1024, 0x61, bytes); // 1 GiB offered
      const r = await post("/token", stream, FORM);
      expect(r).toEqual({
        status: 413,
        type: "application/problem+json",
        body: {
          type: "about:blank",
          title: "Payload Too Large",
          detail: `request body is larger than ${SMALL_BODY_BYTES} bytes`,
          status: 413,
        },
      });
      expect(SMALL_BODY_BYTES).toBe(64 * 1024);
      expect(state.cancelled).toBe(true);
      expect(state.pulled).toBeLessThanOrEqual(SMALL_BODY_BYTES + 2 * 16 * 1024);
    },
  );

  it("a token request at the limit is read and judged as a form", async () => {
    const filler = "x".repeat(SMALL_BODY_BYTES - "grant_type=client_credentials&pad=".length);
    const r = await post("/token", `grant_type=client_credentials&pad=${filler}`, FORM);
    expect(r.status).toBe(401); // no client credentials: read in full, then refused for what it says
    expect(r.body.error).toBe("invalid_client");
    const over = await post("/token", `grant_type=client_credentials&pad=${filler}x`, FORM);
    expect(over.status).toBe(413);
  });

  it.each([
    ["a plain", false],
    ["a byte", true],
  ])("a JSON route reads at most its default limit (64 MiB) of %s stream, then answers 413 instead of a 500", async (_, bytes) => {
    const { stream, state } = source(600 * 1024 * 1024, 1024 * 1024, 0x20, bytes); // 600 MiB of spaces offered
    const r = await post("/hsm/v2/State/Components", stream);
    expect(r.status).toBe(413);
    expect(r.type).toBe("application/problem+json");
    expect(r.body.detail).toBe(`request body is larger than ${MAX_BODY_BYTES} bytes`);
    expect(state.cancelled).toBe(true);
    expect(state.pulled).toBeLessThanOrEqual(MAX_BODY_BYTES + 2 * 1024 * 1024);
  });

  it("a body within the limit, streamed without Content-Length, is read whole", async () => {
    const body = JSON.stringify({ Components: [{ ID: "x3000c0s1b0n0", State: "Ready" }] });
    const bytes = new TextEncoder().encode(body);
    const stream = new ReadableStream<Uint8Array>({
      start(ctrl) {
        for (let i = 0; i < bytes.length; i += 7) ctrl.enqueue(bytes.subarray(i, i + 7));
        ctrl.close();
      },
    });
    expect((await post("/hsm/v2/State/Components", stream)).status).toBe(204);
    expect((await getJson("/hsm/v2/State/Components/x3000c0s1b0n0")).body).toMatchObject({ ID: "x3000c0s1b0n0", State: "Ready" });
  });

  it("a route with a small limit (client registration) refuses a larger JSON body", async () => {
    const { stream, state } = source(10 * 1024 * 1024, 16 * 1024, 0x20);
    const r = await post("/auth/clients", stream);
    expect(r.status).toBe(413);
    expect(r.body.detail).toBe(`request body is larger than ${SMALL_BODY_BYTES} bytes`);
    expect(state.pulled).toBeLessThanOrEqual(SMALL_BODY_BYTES + 2 * 16 * 1024);
  });

  it("a declared Content-Length over the limit is refused before any byte is read", async () => {
    const { stream, state } = source(1024 * 1024);
    const headers = { ...FORM, "content-length": String(SMALL_BODY_BYTES + 1) };
    const req = new Request("http://ochami.test/token", { method: "POST", body: stream, headers, duplex: "half" } as RequestInit);
    expect(req.headers.get("content-length")).toBe(String(SMALL_BODY_BYTES + 1));
    const res = await dispatch(req);
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(state.pulled).toBe(0);
  });

  it("documents each operation's limit in /openapi.json", async () => {
    const { body: doc } = await getJson("/openapi.json");
    expect(doc.paths["/token"].post["x-max-body-bytes"]).toBe(SMALL_BODY_BYTES);
    expect(doc.paths["/token"].post.responses["413"]).toBeDefined();
    expect(doc.paths["/auth/clients"].post["x-max-body-bytes"]).toBe(SMALL_BODY_BYTES);
    expect(doc.paths["/hsm/v2/State/Components"].post["x-max-body-bytes"]).toBe(MAX_BODY_BYTES);
    expect(doc.paths["/hsm/v2/State/Components"].get["x-max-body-bytes"]).toBeUndefined();
  });
});
