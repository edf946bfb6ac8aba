import { describe, expect, it } from "vitest";
import { getJson, send } from "./client";

describe("SMD /State/Components", () => {
  it("creates, reads and lists components", async () => {
    const post = await send("POST", "/hsm/v2/State/Components", {
      Components: [{ ID: "x1000c1s7b0n0", State: "Ready", Role: "compute", NID: 1 }],
    });
    expect(post.status).toBe(204);
    const one = await getJson("/hsm/v2/State/Components/x1000c1s7b0n0");
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ ID: "x1000c1s7b0n0", Type: "Node", State: "Ready", Flag: "OK", Enabled: true, Role: "Compute", NID: 1 });
  });
});
