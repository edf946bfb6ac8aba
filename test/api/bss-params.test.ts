import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getJson, ochamiSend, problemOf, send } from "./client";

const BP = "/boot/v1/bootparameters";

/** The cloud-init object ochami always sends (bssTypes.CloudInit zero value, as Go marshals it). */
const ZERO_CI = {
  "meta-data": null,
  "user-data": null,
  "phone-home": { pub_key_dsa: "", pub_key_rsa: "", pub_key_ecdsa: "", instance_id: "", hostname: "", fqdn: "" },
};

/** What `ochami bss boot params add|set|update|delete` marshals: BootParams, empty fields omitted. */
function ochamiBody(fields: { hosts?: string[]; macs?: string[]; nids?: number[]; params?: string; kernel?: string; initrd?: string }) {
  const out: Record<string, unknown> = {};
  for (const k of ["hosts", "macs", "nids", "params", "kernel", "initrd"] as const) if (fields[k] !== undefined) out[k] = fields[k];
  out["cloud-init"] = ZERO_CI;
  return out;
}

const K = "http://172.16.0.254:8080/openchami/compute/vmlinuz";
const I = "http://172.16.0.254:8080/openchami/compute/initramfs.img";
const P = "nomodeset ro root=live:http://172.16.0.254:8080/openchami/compute/rootfs ip=dhcp console=ttyS0,115200";

const configCount = async () => (await env.DB.prepare("SELECT count(*) AS n FROM boot_configs").first<{ n: number }>())!.n;

describe("BSS /bootparameters", () => {
  it("GET on an empty database is an empty array (upstream: null)", async () => {
    const r = await getJson(BP);
    expect(r.status).toBe(200);
    expect(r.body).toEqual([]);
  });

  it("ochami `params add`: 201, a referral token, and what it changed (no node: SMD is empty); GET shows upstream's element shape", async () => {
    const r = await ochamiSend(
      "POST",
      BP,
      ochamiBody({ macs: ["52:54:00:be:ef:01", "52:54:00:be:ef:02"], params: P, kernel: K, initrd: I }),
    );
    expect(r.status).toBe(201);
    // Upstream answers an empty body here, which its clients never read.
    expect(r.body).toEqual({
      nodes: [],
      identifiers: { macs: ["52:54:00:be:ef:01", "52:54:00:be:ef:02"] },
      unknown: { macs: ["52:54:00:be:ef:01", "52:54:00:be:ef:02"] },
    });
    expect(r.res.headers.get("content-type")).toBe("application/json; charset=UTF-8");
    expect(r.res.headers.get("bss-referral-token")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const all = await ochamiSend("GET", BP);
    expect(all.text).toBe(
      JSON.stringify([{ macs: ["52:54:00:be:ef:01", "52:54:00:be:ef:02"], params: P, kernel: K, initrd: I, "cloud-init": ZERO_CI }]),
    );
  });

  it("add refuses identifiers that already have boot parameters, writing nothing", async () => {
    const before = await configCount();
    const r = await ochamiSend("POST", BP, ochamiBody({ macs: ["52:54:00:be:ef:03", "52:54:00:BE:EF:01"], kernel: "http://other/k" }));
    expect(problemOf(r)).toEqual({
      status: 409,
      type: "application/problem+json",
      title: "Conflict",
      detail: "Conflict: boot parameters already exist for macs=[52:54:00:be:ef:01]; use PUT (ochami bss boot params set) to replace them",
    });
    expect(await configCount()).toBe(before);
    expect((await getJson(`${BP}?mac=52:54:00:be:ef:03`)).status).toBe(404);
  });

  it("stores every identifier of a request (hosts, macs and nids), normalising MAC and xname spellings", async () => {
    const r = await ochamiSend(
      "POST",
      BP,
      ochamiBody({
        hosts: ["x1000c0s1b0n0", "X1000C0S01B0N1"],
        macs: ["52-54-00-BE-EF-11", "525400beef12", "5254.00be.ef13"],
        nids: [11, 12],
        kernel: K,
      }),
    );
    expect(r.status).toBe(201);
    const got = await getJson(`${BP}?name=x1000c0s1b0n1`);
    expect(got.body).toEqual([{ hosts: ["x1000c0s1b0n1"], kernel: K, "cloud-init": ZERO_CI }]);
    const byMac = await getJson(`${BP}?mac=52:54:00:be:ef:13&mac=525400BEEF11`);
    expect(byMac.body).toEqual([{ macs: ["52:54:00:be:ef:11", "52:54:00:be:ef:13"], kernel: K, "cloud-init": ZERO_CI }]);
    const all = await getJson(`${BP}?nid=12,11&name=x1000c0s1b0n0`);
    expect(all.body).toEqual([{ hosts: ["x1000c0s1b0n0"], nids: [11, 12], kernel: K, "cloud-init": ZERO_CI }]);
  });

  it("deduplicates configs: the same content under new identifiers joins the existing entry", async () => {
    const before = await configCount();
    expect((await ochamiSend("POST", BP, ochamiBody({ macs: ["52:54:00:be:ef:04"], params: P, kernel: K, initrd: I }))).status).toBe(201);
    expect(await configCount()).toBe(before);
    const got = await getJson(`${BP}?mac=52:54:00:be:ef:04`);
    expect(got.body[0].params).toBe(P);
  });

  it("validates MACs, xnames, NIDs, kernel and params with upstream's messages where it has them", async () => {
    const bad = async (body: unknown, method = "POST") => problemOf(await ochamiSend(method, BP, body));
    expect(await bad(ochamiBody({ macs: ["52:54:00:be:ef:99", "zz:zz"], kernel: K }))).toMatchObject({
      status: 400,
      detail: "Bad Request: invalid MAC address format: zz:zz",
    });
    expect(await bad(ochamiBody({ macs: ["52:54:00:be:ef:9"], kernel: K }), "PUT")).toMatchObject({
      detail: "Bad Request: invalid MAC address format: 52:54:00:be:ef:9",
    });
    expect(await bad(ochamiBody({ hosts: ["node01"], kernel: K }))).toMatchObject({
      status: 400,
      detail: "Bad Request: invalid xname: node01",
    });
    expect(await bad(ochamiBody({ hosts: ["x1000c1s7b0"], kernel: K }), "PUT")).toMatchObject({
      status: 400,
      detail: "Bad Request: invalid xname type: NodeBMC",
    });
    expect(await bad(ochamiBody({ nids: [-3], kernel: K }))).toMatchObject({ status: 400, detail: "Bad Request: invalid nid: -3" });
    expect(await bad(ochamiBody({ macs: ["52:54:00:be:ef:99"], params: P }))).toMatchObject({
      status: 400,
      detail: "Bad Request: kernel URI cannot be blank",
    });
    expect(await bad(ochamiBody({ kernel: K }))).toMatchObject({
      status: 400,
      detail: "Bad Request: give at least one of hosts, macs or nids",
    });
    // A line break would inject iPXE commands into every script that node receives.
    expect(await bad(ochamiBody({ macs: ["52:54:00:be:ef:99"], kernel: K, params: "quiet\nshell" }), "PUT")).toMatchObject({
      status: 400,
      detail: "Bad Request: params must not contain line breaks or control characters",
    });
    expect(await bad(ochamiBody({ macs: ["52:54:00:be:ef:99"], kernel: "http://k ernel" }))).toMatchObject({ status: 400 });
    expect(await bad({ macs: "52:54:00:be:ef:99", kernel: K })).toMatchObject({ status: 400 });
    expect(await bad({ macs: ["52:54:00:be:ef:99"], kernel: K, "cloud-init": { "user-data": "#cloud-config" } })).toMatchObject({
      status: 400,
    });
    expect((await send("POST", BP, "{not json")).status).toBe(400);
    expect((await getJson(`${BP}?mac=52:54:00:be:ef:99`)).status).toBe(404);
  });

  it("PUT (`params set`) replaces the whole entry of each identifier and drops configs nobody uses", async () => {
    await ochamiSend("PUT", BP, ochamiBody({ macs: ["52:54:00:be:ef:21"], kernel: "http://a/k", initrd: "http://a/i", params: "a=1" }));
    const before = await configCount();
    const r = await ochamiSend("PUT", BP, ochamiBody({ macs: ["52:54:00:be:ef:21"], kernel: "http://b/k" }));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ nodes: [], identifiers: { macs: ["52:54:00:be:ef:21"] }, unknown: { macs: ["52:54:00:be:ef:21"] } });
    expect(r.res.headers.get("bss-referral-token")).toBeTruthy();
    expect((await getJson(`${BP}?mac=52:54:00:be:ef:21`)).body).toEqual([
      { macs: ["52:54:00:be:ef:21"], kernel: "http://b/k", "cloud-init": ZERO_CI },
    ]);
    expect(await configCount()).toBe(before); // the a/k config went, the b/k one came
    const stale = await env.DB.prepare("SELECT count(*) AS n FROM boot_configs WHERE kernel = 'http://a/k'").first<{ n: number }>();
    expect(stale!.n).toBe(0);
  });

  it("stores the cloud-init object and echoes it back", async () => {
    const ci = {
      "meta-data": { "local-hostname": "nid0031", tags: ["a", "b"] },
      "user-data": { packages: ["vim"] },
      "phone-home": {
        pub_key_dsa: "",
        pub_key_rsa: "ssh-rsa AAA",
        pub_key_ecdsa: "",
        pub_key_ed25519: "ssh-ed25519 BBB",
        instance_id: "i-1",
        hostname: "nid0031",
        fqdn: "",
      },
    };
    expect((await ochamiSend("PUT", BP, { macs: ["52:54:00:be:ef:31"], kernel: K, "cloud-init": ci })).status).toBe(200);
    const got = await getJson(`${BP}?mac=52:54:00:be:ef:31`);
    expect(got.body[0]["cloud-init"]).toEqual(ci);
  });

  it("PATCH (`params update`) changes only given fields of the given identifiers; ochami's zero cloud-init keeps the stored one", async () => {
    const ci = { "meta-data": { rack: 7 }, "user-data": null, "phone-home": ZERO_CI["phone-home"] };
    await ochamiSend("PUT", BP, {
      macs: ["52:54:00:be:ef:41", "52:54:00:be:ef:42"],
      kernel: "http://c/k",
      initrd: "http://c/i",
      params: "old",
      "cloud-init": ci,
    });
    const r = await ochamiSend("PATCH", BP, ochamiBody({ macs: ["52:54:00:be:ef:41"], params: "new" }));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ nodes: [], identifiers: { macs: ["52:54:00:be:ef:41"] }, unknown: { macs: ["52:54:00:be:ef:41"] } });
    const one = (await getJson(`${BP}?mac=52:54:00:be:ef:41`)).body;
    expect(one).toEqual([{ macs: ["52:54:00:be:ef:41"], params: "new", kernel: "http://c/k", initrd: "http://c/i", "cloud-init": ci }]);
    const other = (await getJson(`${BP}?mac=52:54:00:be:ef:42`)).body;
    expect(other[0].params).toBe("old");
  });

  it("PATCH is all or nothing: an identifier without boot parameters is a 404 and nothing changes", async () => {
    const r = await ochamiSend(
      "PATCH",
      BP,
      ochamiBody({ macs: ["52:54:00:be:ef:42", "52:54:00:be:ef:98"], nids: [998], kernel: "http://d/k" }),
    );
    expect(problemOf(r)).toMatchObject({
      status: 404,
      detail: "Not Found: no boot parameters to update for macs=[52:54:00:be:ef:98] nids=[998]",
    });
    expect((await getJson(`${BP}?mac=52:54:00:be:ef:42`)).body[0].kernel).toBe("http://c/k");
    expect(problemOf(await ochamiSend("PATCH", BP, ochamiBody({ macs: ["52:54:00:be:ef:42"] })))).toMatchObject({
      status: 400,
      detail: "Bad Request: nothing to update: give kernel, initrd, params or cloud-init",
    });
  });

  it("hosts may name a role or Default, on PUT and POST alike", async () => {
    expect((await ochamiSend("PUT", BP, ochamiBody({ hosts: ["compute"], kernel: "http://role/k" }))).status).toBe(200);
    expect((await ochamiSend("POST", BP, ochamiBody({ hosts: ["Default"], kernel: "http://default/k" }))).status).toBe(201);
    const got = await getJson(`${BP}?name=Compute&name=default`);
    expect(got.body).toEqual([
      { hosts: ["Compute"], kernel: "http://role/k", "cloud-init": ZERO_CI },
      { hosts: ["Default"], kernel: "http://default/k", "cloud-init": ZERO_CI },
    ]);
  });

  it("GET with filters lists only the identifiers asked about, and 404s with upstream's wording when nothing matches", async () => {
    const got = await getJson(`${BP}?mac=52:54:00:be:ef:02`);
    expect(got.body).toEqual([{ macs: ["52:54:00:be:ef:02"], params: P, kernel: K, initrd: I, "cloud-init": ZERO_CI }]);
    expect(problemOf(await getJson(`${BP}?mac=02:00:00:00:00:00`))).toMatchObject({
      status: 404,
      detail: "Cannot find boot parameters for requested MACs",
    });
    expect(problemOf(await getJson(`${BP}?name=x9c0s0b0n0&mac=02:00:00:00:00:00&nid=4242`))).toMatchObject({
      status: 404,
      detail: "Cannot find boot parameters for requested Hosts, MACs or NIDs",
    });
    expect(problemOf(await getJson(`${BP}?nid=abc`))).toMatchObject({ status: 400, detail: "Bad Request - Invalid nid 'abc'" });
    // ochami `params get -n 11`, and Go's base-0 integers
    expect((await getJson(`${BP}?nid=0xb`)).body[0].nids).toEqual([11]);
  });

  it("DELETE (`params delete`) by identifiers, then by config; 404 when nothing matches", async () => {
    const r = await ochamiSend("DELETE", BP, ochamiBody({ macs: ["52:54:00:be:ef:01"] }));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ nodes: [], identifiers: { macs: ["52:54:00:be:ef:01"] }, unknown: { macs: ["52:54:00:be:ef:01"] } });
    expect((await getJson(`${BP}?mac=52:54:00:be:ef:01`)).status).toBe(404);
    expect((await getJson(`${BP}?mac=52:54:00:be:ef:02`)).status).toBe(200);
    expect(problemOf(await ochamiSend("DELETE", BP, ochamiBody({ macs: ["52:54:00:be:ef:01"] })))).toMatchObject({
      status: 404,
      detail: "Not Found: no boot parameters match macs=[52:54:00:be:ef:01]",
    });
    // By config: every identifier booting this kernel+initrd goes, the entry's config with it.
    const byConfig = await ochamiSend("DELETE", BP, ochamiBody({ kernel: K, initrd: I }));
    expect(byConfig.status).toBe(200);
    expect(byConfig.body).toEqual({ nodes: [], identifiers: { macs: ["52:54:00:be:ef:02", "52:54:00:be:ef:04"] } });
    expect((await getJson(`${BP}?mac=52:54:00:be:ef:02,52:54:00:be:ef:04`)).status).toBe(404);
    expect((await getJson(`${BP}?mac=52:54:00:be:ef:11`)).status).toBe(200); // same kernel, no initrd: kept
    const gone = await env.DB.prepare("SELECT count(*) AS n FROM boot_configs WHERE kernel = ? AND initrd = ?")
      .bind(K, I)
      .first<{ n: number }>();
    expect(gone!.n).toBe(0);
    // Identifiers and config together: only those identifiers whose config matches.
    expect(problemOf(await ochamiSend("DELETE", BP, ochamiBody({ nids: [11], kernel: "http://nope/k" })))).toMatchObject({ status: 404 });
    expect((await ochamiSend("DELETE", BP, ochamiBody({ nids: [11], kernel: K }))).status).toBe(200);
    expect(problemOf(await ochamiSend("DELETE", BP, ochamiBody({})))).toMatchObject({ status: 400 });
  });

  it("answers other methods with 405 and upstream's Allow list", async () => {
    const r = await send("OPTIONS", BP);
    expect(r.status).toBe(405);
    expect(r.res.headers.get("allow")).toBe("GET,PUT,POST,PATCH,DELETE");
  });
});
