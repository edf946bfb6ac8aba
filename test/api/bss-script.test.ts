import { describe, expect, it } from "vitest";
import { bootScript, decideBootscript, kernelCommandLine, type ScriptSettings } from "../../workers/bss/bootscript/script";

/** Pure rendering, no HTTP or database: the inputs the lookup would give, the text iPXE gets. */
const S: ScriptSettings = {
  chainUrl: "http://h:8081/boot/v1/bootscript",
  cloudInitUrl: "http://h:8081/cloud-init/",
  retryDelay: 30,
  unknownDelay: 10,
};
const node = { xname: "x1c0s0b0n0", nid: 7 };
const DS = "ds=nocloud;s=http://h:8081/cloud-init/";

describe("kernel command line", () => {
  it("appends xname=, nid= and ds= in upstream's order", () => {
    expect(kernelCommandLine({ kernel: "k", initrd: "", params: "quiet" }, node, S.cloudInitUrl)).toBe(
      `quiet xname=x1c0s0b0n0 nid=7 ${DS}`,
    );
  });
  it("keeps tokens the params already have", () => {
    const params = "xname=custom nid=0 ds=nocloud-net;s=http://elsewhere/";
    expect(kernelCommandLine({ kernel: "k", initrd: "", params }, node, S.cloudInitUrl)).toBe(params);
  });
  it("puts initrd=initrd first and drops initrd= tokens, but not rd.initrd= or a trailing initrd token", () => {
    expect(kernelCommandLine({ kernel: "k", initrd: "i", params: "initrd=old quiet initrd=x" }, node, S.cloudInitUrl)).toBe(
      `initrd=initrd quiet xname=x1c0s0b0n0 nid=7 ${DS}`,
    );
    // Upstream: substring search for "initrd" (hits rd.initrd…); a hit in the last token panicked.
    expect(kernelCommandLine({ kernel: "k", initrd: "i", params: "rd.initrdkeep" }, { xname: "x1c0s0b0n0", nid: -1 }, S.cloudInitUrl)).toBe(
      `initrd=initrd rd.initrdkeep xname=x1c0s0b0n0 ${DS}`,
    );
  });
  it("has single spaces where upstream doubled them (empty params with an initrd)", () => {
    expect(kernelCommandLine({ kernel: "k", initrd: "i", params: "" }, node, S.cloudInitUrl)).toBe(
      `initrd=initrd xname=x1c0s0b0n0 nid=7 ${DS}`,
    );
  });
  it("keeps the admin's own spacing inside the params", () => {
    expect(kernelCommandLine({ kernel: "k", initrd: "", params: 'a  b="x y"' }, node, S.cloudInitUrl)).toBe(
      `a  b="x y" xname=x1c0s0b0n0 nid=7 ${DS}`,
    );
  });
  it("matches tokens by prefix only at token starts", () => {
    const line = (params: string) => kernelCommandLine({ kernel: "k", initrd: "", params }, node, S.cloudInitUrl);
    expect(line("foo ds=x")).toBe("foo ds=x xname=x1c0s0b0n0 nid=7");
    expect(line("rds=x anid=1 myxname=y")).toBe(`rds=x anid=1 myxname=y xname=x1c0s0b0n0 nid=7 ${DS}`);
  });
});

describe("scripts", () => {
  it("renders the boot script with and without initrd", () => {
    expect(bootScript({ kernel: "http://k", initrd: "", params: "" }, "a=1", "http://c?mac=m&retry=1", 5)).toBe(
      "#!ipxe\nkernel --name kernel http://k a=1 || goto boot_retry\nboot || goto boot_retry\n:boot_retry\nsleep 5\nchain http://c?mac=m&retry=1\n\n",
    );
    expect(bootScript({ kernel: "http://k", initrd: "http://i", params: "" }, "initrd=initrd", "c", 5).split("\n")[2]).toBe(
      "initrd --name initrd http://i || goto boot_retry",
    );
  });
  it("decides: unknown → retry script, with arch → 404; known → script with retry+1", () => {
    const req = { key: { mac: "02:00:00:00:00:01" }, retry: 0, arch: "", ts: 42, json: false };
    expect(decideBootscript(req, {}, S)).toMatchObject({
      kind: "script",
      body: "#!ipxe\nsleep 10\nchain http://h:8081/boot/v1/bootscript?mac=02:00:00:00:00:01&arch=${buildarch}&ts=42\n\n",
    });
    expect(decideBootscript({ ...req, arch: "arm64" }, {}, S)).toMatchObject({ kind: "problem", status: 404 });
    const known = decideBootscript(
      { ...req, retry: 3 },
      {
        component: { id: "x1c0s0b0n0", nid: 7, role: "Compute", enabled: true, macs: ["02:00:00:00:00:01"] },
        config: { kernel: "http://k", initrd: "", params: "" },
        matchedBy: "role",
      },
      S,
    );
    expect(known).toMatchObject({ kind: "script", note: "http://k (matched by role Compute; retry 3)" });
    expect((known as { body: string }).body).toContain("chain http://h:8081/boot/v1/bootscript?mac=02:00:00:00:00:01&retry=4\n");
  });
});

describe("Go integers (BSS's nid, retry, ts parameters)", () => {
  it("parses like strconv.ParseInt(s, 0, 64)", async () => {
    const { parseGoInt } = await import("../../workers/http/query");
    const cases: Array<[string, number | undefined]> = [
      ["42", 42],
      ["-1", -1],
      ["+5", 5],
      ["0x1F", 31],
      ["010", 8],
      ["0o10", 8],
      ["0b101", 5],
      ["1_000", 1000],
      ["0", 0],
      ["08", undefined],
      ["one", undefined],
      ["", undefined],
      ["0x", undefined],
      ["1__0", undefined],
    ];
    for (const [input, expected] of cases) expect(parseGoInt(input), input).toBe(expected);
  });
});
