import { describe, expect, it } from "vitest";
import { derivedInstanceId } from "../../workers/cloud-init/metadata";
import { api, getJson, problemOf, send } from "./client";

/** /cloud-init/admin: what `ochami cloud-init defaults|group|node` sends. */

const D = "/cloud-init/admin/cluster-defaults";
const G = "/cloud-init/admin/groups";
const I = "/cloud-init/admin/instance-info";

describe("cluster-defaults", () => {
  it("is {} until set; POST merges non-empty fields (201); PUT replaces", async () => {
    expect(await getJson(D)).toMatchObject({ status: 200, body: {} });
    // ochami's example payload (a raw body, no Content-Type), including keys we store but do not use.
    const first = await api(D, {
      method: "POST",
      body: JSON.stringify({
        "availability-zone": "",
        "base-url": "http://172.16.0.254:8081/cloud-init",
        "boot-subnet": "172.16.0.0/24",
        cloud_provider: "",
        "cluster-name": "demo",
        "nid-length": 3,
        "public-keys": ["ssh-ed25519 AAAA one@head"],
        region: "",
        "short-name": "nid",
        "wg-subnet": "",
      }),
    });
    expect(first.status).toBe(201);
    // Upstream's key order; empty fields omitted.
    expect(Object.keys((await getJson(D)).body)).toEqual([
      "cluster-name",
      "public-keys",
      "base-url",
      "boot-subnet",
      "short-name",
      "nid-length",
    ]);

    // Merge: only non-empty fields replace; `cloud-provider` (upstream's README spelling) is accepted.
    const merged = await send("POST", D, { region: "west", "cloud-provider": "openchami", "cluster-name": "", "nid-length": 0 });
    expect(merged.status).toBe(201);
    expect((await getJson(D)).body).toEqual({
      cloud_provider: "openchami",
      region: "west",
      "cluster-name": "demo",
      "public-keys": ["ssh-ed25519 AAAA one@head"],
      "base-url": "http://172.16.0.254:8081/cloud-init",
      "boot-subnet": "172.16.0.0/24",
      "short-name": "nid",
      "nid-length": 3,
    });

    // Case-insensitive keys, as Go decodes them; a trailing slash on base-url is dropped.
    const put = await send("PUT", D, { "Cluster-Name": "venado", "base-url": "http://10.0.0.1/cloud-init/" });
    expect(put.status).toBe(200);
    expect((await getJson(D)).body).toEqual({ "cluster-name": "venado", "base-url": "http://10.0.0.1/cloud-init" });
  });

  it("rejects bodies that are not defaults", async () => {
    expect(problemOf(await send("POST", D, "{bad"))).toMatchObject({ status: 400, type: "application/problem+json" });
    expect(problemOf(await send("POST", D, { "nid-length": "three" }))).toMatchObject({ status: 400 });
    expect(problemOf(await send("POST", D, { "nid-length": 99 })).detail).toBe("nid-length must be an integer from 0 to 32");
    expect(problemOf(await send("POST", D, { "public-keys": "ssh-rsa AAA" }))).toMatchObject({ status: 400 });
    expect(problemOf(await send("POST", D, { "base-url": "ftp://x/" })).detail).toBe("base-url must be an http(s) URL, got 'ftp://x'");
    expect(problemOf(await send("POST", D, ["x"]))).toMatchObject({ status: 400 });
    expect((await send("DELETE", D)).status).toBe(405);
  });
});

describe("groups", () => {
  const compute = {
    name: "compute",
    description: "compute config",
    "meta-data": { chrony_server: "172.16.0.254" },
    file: { encoding: "plain", content: "#cloud-config\nruncmd:\n- true\n" },
  };

  it("POST creates (201 + Location), GET one and GET all (a map, as ochami expects)", async () => {
    const r = await send("POST", G, compute);
    expect(r.status).toBe(201);
    expect(r.res.headers.get("location")).toBe("/cloud-init/admin/groups/compute");
    expect((await getJson(`${G}/compute`)).body).toEqual({ ...compute, file: { ...compute.file, filename: "" } });
    const all = await api(G);
    const text = await all.text();
    expect(text).toContain('{\n\t"compute": {\n\t\t"name": "compute"');
    expect(JSON.parse(text)).toEqual({ compute: { ...compute, file: { ...compute.file, filename: "" } } });
  });

  it("409 when the group exists; names are SMD labels (lower-cased)", async () => {
    expect(problemOf(await send("POST", G, { name: "COMPUTE" }))).toMatchObject({
      status: 409,
      detail: "group 'compute' not added as it already exists",
    });
    const upper = await send("POST", G, { name: "Slurm", file: { content: "#cloud-config\n" } });
    expect(upper.status).toBe(201);
    // Content without an encoding is plain (ochami's `group get config` needs the encoding).
    expect((await getJson(`${G}/SLURM`)).body).toEqual({
      name: "slurm",
      file: { content: "#cloud-config\n", filename: "", encoding: "plain" },
    });
  });

  it("422 for invalid groups: no name, bad name, meta-data not an object, bad encoding, bad base64", async () => {
    const cases: Array<[unknown, string]> = [
      [{ description: "x" }, "name is required"],
      [{ name: "a/b" }, "group name 'a/b' is not a valid SMD group label (letters, digits, '-', '_', '.', ':')"],
      [{ name: "m", "meta-data": ["a"] }, "meta-data must be a JSON object (key: value pairs merged into each member's meta-data)"],
      [{ name: "m", "meta-data": "a=b" }, "meta-data must be a JSON object (key: value pairs merged into each member's meta-data)"],
      [{ name: "e", file: { content: "x", encoding: "gzip" } }, 'file.encoding must be "plain" or "base64", got "gzip"'],
      [
        { name: "b", file: { content: "not base64!", encoding: "base64" } },
        "file.content is not valid base64 (standard alphabet, padded), but file.encoding is base64",
      ],
      [{ name: "b", file: { content: "YWJj", encoding: "base64", filename: 7 } }, "file.filename must be a string"],
      [{ name: "b", file: "#cloud-config" }, "file must be an object {content, encoding, filename}"],
      [[compute], "expected a JSON object (GroupData)"],
    ];
    for (const [body, detail] of cases) {
      expect(problemOf(await send("POST", G, body))).toEqual({
        status: 422,
        type: "application/problem+json",
        title: "Unprocessable Entity",
        detail,
      });
    }
    expect(problemOf(await send("POST", G, "{"))).toMatchObject({ status: 400 });
  });

  it("base64 content: line-wrapped input accepted and kept as sent", async () => {
    const content = btoa("#cloud-config\nwrite_files: []\n").replace(/(.{8})/g, "$1\n");
    expect((await send("POST", G, { name: "b64", file: { encoding: "base64", content } })).status).toBe(201);
    expect((await getJson(`${G}/b64`)).body.file).toEqual({ content, filename: "", encoding: "base64" });
  });

  it("PUT creates (201) or replaces whole (200); the body name must match the path", async () => {
    const created = await send("PUT", `${G}/chrony`, { name: "chrony", description: "ntp" });
    expect(created.status).toBe(201);
    expect(created.res.headers.get("location")).toBe("/cloud-init/admin/groups/chrony");
    const replaced = await send("PUT", `${G}/chrony`, { "meta-data": { server: "10.0.0.1" } });
    expect(replaced.status).toBe(200);
    expect((await getJson(`${G}/chrony`)).body).toEqual({
      name: "chrony",
      "meta-data": { server: "10.0.0.1" },
      file: { content: "", filename: "" },
    });
    expect(problemOf(await send("PUT", `${G}/chrony`, { name: "other" }))).toMatchObject({
      status: 422,
      detail: "name in the body ('other') does not match the name in the path ('chrony')",
    });
  });

  it("DELETE removes (200); unknown groups are 404 problems", async () => {
    expect((await send("DELETE", `${G}/chrony`)).status).toBe(200);
    expect(problemOf(await getJson(`${G}/chrony`))).toMatchObject({ status: 404, detail: "group (chrony) not found" });
    expect(problemOf(await send("DELETE", `${G}/chrony`))).toMatchObject({ status: 404 });
    expect(problemOf(await getJson(`${G}/no%20such`))).toMatchObject({ status: 404 });
    expect((await send("PATCH", `${G}/compute`, {})).status).toBe(405);
  });
});

describe("instance-info", () => {
  const node = "x3000c0s1b0n0";

  it("PUT stores (201, then 200), GET answers it with the effective instance-id, DELETE removes", async () => {
    // ochami `cloud-init node set`: id in the body, empty instance-id.
    const put = await send("PUT", `${I}/${node}`, {
      id: node,
      "instance-id": "",
      "local-hostname": "compute1",
      "public-keys": ["ssh-rsa K k@x"],
    });
    expect(put.status).toBe(201);
    const iid = await derivedInstanceId(node);
    expect(put.body).toEqual({ id: node, "instance-id": iid, "local-hostname": "compute1", "public-keys": ["ssh-rsa K k@x"] });
    expect((await getJson(`${I}/X3000C0S1B0N0`)).body).toEqual(put.body);
    expect((await getJson(I)).body).toEqual([put.body]);

    const again = await send("PUT", `${I}/${node}`, { region: "west" });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ id: node, "instance-id": iid, region: "west" });

    expect((await send("DELETE", `${I}/${node}`)).status).toBe(200);
    expect(problemOf(await getJson(`${I}/${node}`))).toMatchObject({ status: 404, detail: `no instance-info for node ${node}` });
    expect(problemOf(await send("DELETE", `${I}/${node}`))).toMatchObject({ status: 404 });
  });

  it("rejects a bad xname, a mismatched body id, bad types and a bad base URL", async () => {
    expect(problemOf(await send("PUT", `${I}/compute1`, {}))).toMatchObject({ status: 400, detail: "'compute1' is not a valid xname" });
    expect(problemOf(await send("PUT", `${I}/${node}`, { id: "x3000c0s1b0n1" }))).toMatchObject({
      status: 400,
      detail: `id in the body ('x3000c0s1b0n1') does not match the node in the path ('${node}')`,
    });
    expect(problemOf(await send("PUT", `${I}/${node}`, { hostname: 5 }))).toMatchObject({ status: 400 });
    expect(problemOf(await send("PUT", `${I}/${node}`, { "cloud-init-base-url": "nope" }))).toMatchObject({ status: 400 });
    expect(problemOf(await send("PUT", `${I}/${node}`, "x"))).toMatchObject({ status: 400 });
  });
});

describe("service", () => {
  it("/cloud-init/version answers (ochami cloud-init service status)", async () => {
    const r = await getJson("/cloud-init/version");
    expect(r.status).toBe(200);
    expect(r.body.process_name).toBe("cloud-init-server");
  });
});
