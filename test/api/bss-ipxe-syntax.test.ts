import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { SEED_INITRD, SEED_KERNEL, SEED_PARAMS } from "../cli/seed";
import { api, ochamiSend, problemOf, send } from "./client";

/**
 * Boot parameters cannot make iPXE do anything but boot: kernel, initrd and params go on iPXE
 * script lines, so what iPXE acts on there is refused (400) at every write, and not rendered
 * if it is stored anyway.
 */

const BP = "/boot/v1/bootparameters";
const NODE = "x1000c1s7b1n0";
const MAC = "ec:e7:a7:05:a1:f1";
const K = "http://172.16.0.254:8080/vmlinuz";

/**
 * The commands iPXE runs for one script line, by its rules (src/core/exec.c): the line is split
 * on whitespace; a word that is exactly `||`, `&&` or `;` ends a command; a word starting with `#`
 * ends the line. A line starting with `:` is a label.
 */
function ipxeCommands(script: string): string[][] {
  const commands: string[][] = [];
  for (const line of script.split("\n").slice(1)) {
    if (line.trim().startsWith(":")) continue;
    let current: string[] = [];
    for (const word of line.split(/\s+/).filter(Boolean)) {
      if (word.startsWith("#")) break;
      if (word === "||" || word === "&&" || word === ";") {
        commands.push(current);
        current = [];
      } else current.push(word);
    }
    if (current.length) commands.push(current);
  }
  return commands;
}

async function script(): Promise<string> {
  const res = await api(`/boot/v1/bootscript?mac=${MAC}`);
  expect(res.status).toBe(200);
  return res.text();
}

beforeAll(async () => {
  expect(
    (await send("POST", "/hsm/v2/State/Components", { Components: [{ ID: NODE, State: "Ready", Role: "Compute", NID: 1 }] })).status,
  ).toBe(204);
  expect((await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", { MACAddress: MAC, ComponentID: NODE })).status).toBe(201);
});

describe("iPXE syntax in boot parameters", () => {
  it("the seed's params (with `;` inside ds=nocloud;s=…) are accepted and rendered as one kernel command", async () => {
    const r = await ochamiSend("PUT", BP, { hosts: [NODE], kernel: SEED_KERNEL, initrd: SEED_INITRD, params: SEED_PARAMS });
    expect(r.status).toBe(200);
    const text = await script();
    expect(text.split("\n")[1]).toBe(
      `kernel --name kernel ${SEED_KERNEL} initrd=initrd ${SEED_PARAMS} xname=${NODE} nid=1 || goto boot_retry`,
    );
    expect(ipxeCommands(text).map((c) => c[0])).toEqual(["kernel", "goto", "initrd", "goto", "boot", "goto", "sleep", "chain"]);
    // Words with these characters inside (not whole words, not at a word's start) are plain text to iPXE.
    const inside = "console=ttyS0 a||b c&&d e;f g#h $HOME {x} k=$";
    expect((await ochamiSend("PATCH", BP, { hosts: [NODE], params: inside, initrd: "http://h/i.img#frag" })).status).toBe(200);
    const kernelLine = ipxeCommands(await script())[0];
    expect(kernelLine.slice(0, 5)).toEqual(["kernel", "--name", "kernel", SEED_KERNEL, "initrd=initrd"]);
    expect(kernelLine.slice(5, 13).join(" ")).toBe(inside);
  });

  it("a params that would end the kernel command, comment out the line or expand iPXE settings is a 400 naming what it found", async () => {
    const r = await ochamiSend("PUT", BP, { hosts: [NODE], kernel: K, params: "console=ttyS0 ${net0/ip} || shell ; goto x" });
    expect(problemOf(r)).toEqual({
      status: 400,
      type: "application/problem+json",
      title: "Bad Request",
      detail:
        'Bad Request: params contains "||", ";" and "${", which iPXE would act on: a separate "||" ends the iPXE command and runs what follows; ' +
        'a separate ";" ends the iPXE command and runs what follows (";" inside a word, as in ds=nocloud;s=…, is fine); "${" makes iPXE expand one of its settings on the node',
    });
    for (const params of ["quiet && shell", "quiet #", "quiet #rest of line", "ip=${ip}", "a ; b", "x\tshell"])
      for (const method of ["PUT", "POST", "PATCH"])
        expect((await ochamiSend(method, BP, { hosts: [NODE], kernel: K, params })).status, `${method} ${params}`).toBe(400);
    // Nothing was written: the node still boots what it had.
    expect(ipxeCommands(await script()).map((c) => c[0])).toEqual(["kernel", "goto", "initrd", "goto", "boot", "goto", "sleep", "chain"]);
  });

  it("kernel and initrd URLs: one word, no iPXE syntax, no leading `-` (iPXE would read an option)", async () => {
    const bad = async (fields: Record<string, string>) => problemOf(await ochamiSend("PUT", BP, { hosts: [NODE], kernel: K, ...fields }));
    expect(await bad({ kernel: "--name=x" })).toMatchObject({
      status: 400,
      detail: 'Bad Request: kernel contains "-" at the start, which iPXE would act on: a leading "-" makes iPXE read the URL as an option',
    });
    expect(await bad({ kernel: "http://h/${net0/mac}/vmlinuz" })).toMatchObject({
      status: 400,
      detail: 'Bad Request: kernel contains "${", which iPXE would act on: "${" makes iPXE expand one of its settings on the node',
    });
    expect(await bad({ initrd: "#x" })).toMatchObject({
      status: 400,
      detail: expect.stringMatching(/^Bad Request: initrd contains "#" at the start of a word/),
    });
    expect(await bad({ initrd: "||" })).toMatchObject({ status: 400 });
    expect(await bad({ initrd: "http://h/i shell" })).toMatchObject({
      status: 400,
      detail: "Bad Request: initrd must be one URL without spaces or control characters",
    });
  });

  it("an entry stored around the API (by SQL) with such params is not rendered: the node gets no kernel and the reason", async () => {
    await env.DB.prepare("UPDATE boot_configs SET params = ?").bind("console=ttyS0 || shell").run();
    const first = await api(`/boot/v1/bootscript?mac=${MAC}`);
    const retry = await first.text();
    expect(ipxeCommands(retry).map((c) => c[0])).toEqual(["sleep", "chain"]);
    const second = await api(`/boot/v1/bootscript?mac=${MAC}&arch=x86_64`);
    expect(second.status).toBe(404);
    expect((await second.json<{ detail: string }>()).detail).toBe(
      `MAC ${MAC} (${NODE}) architecture x86_64: its boot parameters are not rendered: params contains "||", which iPXE would act on: a separate "||" ends the iPXE command and runs what follows (set them again)`,
    );
  });
});
