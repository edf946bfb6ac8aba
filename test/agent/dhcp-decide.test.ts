import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { decodePacket, encodePacket } from "../../onprem-agent/dhcp/codec";
import { type DhcpSettings, dhcpConfigSchema, resolveDhcpSettings } from "../../onprem-agent/dhcp/config";
import { type Decision, decide } from "../../onprem-agent/dhcp/decide";
import { LeaseTable } from "../../onprem-agent/dhcp/leases";
import { NewLeaseLimit } from "../../onprem-agent/dhcp/new-lease-limit";
import { answerTo, EMPTY_ROUTER_ADVERTISEMENT } from "../../onprem-agent/dhcp/router-advert";
import type { Reservation } from "../../onprem-agent/inventory/reservation";
import { type ClientPacketSpec, clientPacket, ipOpt, readReply } from "./dhcp-packets";

const SERVER = "10.61.0.1";
const KNOWN = "52:54:00:00:00:01";
const UNKNOWN = "52:54:00:00:00:99";

function settings(extra: Record<string, unknown> = {}): DhcpSettings {
  const cfg = dhcpConfigSchema.parse({
    interface: "dh-none0",
    serverAddress: SERVER,
    subnet: "10.61.0.0/24",
    routers: ["10.61.0.254"],
    dns: ["10.61.0.2", "10.61.0.3"],
    domain: "cluster.test",
    leaseTime: "1h",
    pool: { start: "10.61.0.200", end: "10.61.0.202" },
    relayed: [{ subnet: "10.61.8.0/24", routers: ["10.61.8.1"] }],
    ...extra,
  });
  return resolveDhcpSettings(cfg, "http://10.61.0.1:8081");
}

const reservations = new Map<string, Reservation>([
  [KNOWN, { mac: KNOWN, ips: ["10.61.0.5"], hostname: "nid0001", xname: "x1000c0s0b0n0", nid: 1, type: "Node" }],
  [
    "52:54:00:00:00:08",
    { mac: "52:54:00:00:00:08", ips: ["10.61.0.9", "10.61.8.20"], hostname: "nid0008", xname: "x1000c0s1b0n0", nid: 8, type: "Node" },
  ],
]);

/** One decision, its lease operations applied (and its new-lease budget spent) as the server does. */
function run(
  spec: ClientPacketSpec,
  opts: { s?: DhcpSettings; leases?: LeaseTable; now?: number; localPort?: number; source?: string; newLeases?: NewLeaseLimit } = {},
) {
  const s = opts.s ?? settings();
  const leases = opts.leases ?? new LeaseTable();
  const now = opts.now ?? 1_000_000;
  const packet = decodePacket(clientPacket(spec));
  const d = decide(
    { packet, localPort: opts.localPort ?? 67, source: { address: opts.source ?? "0.0.0.0", port: 68 } },
    { settings: s, inventory: { lookup: (m) => reservations.get(m) }, leases, now, newLeases: opts.newLeases },
  );
  for (const op of d.leaseOps) leases.apply(op);
  if (d.action === "reply" && d.newLeaseFrom) opts.newLeases?.spend(d.newLeaseFrom, now);
  return { d, leases, r: d.action === "reply" ? readReply(encodePacket(d.reply)) : undefined };
}

function replyOf(d: Decision) {
  if (d.action !== "reply") throw new Error(`expected a reply, got drop: ${d.reason}`);
  return d;
}

const PRL_ALL = [55, [1, 3, 6, 12, 15, 17, 28, 43, 60, 66, 67, 119, 175]] as [number, number[]];

describe("DHCP decisions: reserved clients", () => {
  it("DISCOVER → OFFER of the SMD address with every configured option", () => {
    const { d, r } = run({ type: 1, mac: KNOWN, options: [PRL_ALL] });
    expect(replyOf(d).kind).toBe("OFFER");
    expect(r!.type).toBe(2);
    expect(r!.yiaddr).toBe("10.61.0.5");
    expect(r!.ipOf(54)).toBe(SERVER);
    expect(r!.ipOf(1)).toBe("255.255.255.0");
    expect(r!.ipOf(3)).toBe("10.61.0.254");
    expect([...r!.opts.get(6)!]).toEqual([10, 61, 0, 2, 10, 61, 0, 3]);
    expect(r!.text(12)).toBe("nid0001");
    expect(r!.text(15)).toBe("cluster.test");
    expect(r!.u32(51)).toBe(3600);
    expect(r!.u32(58)).toBe(1800);
    expect(r!.u32(59)).toBe(3150);
    expect(r!.ipOf(28)).toBe("10.61.0.255");
    // Plain client without architecture: no boot file, no PXE options.
    expect(r!.opts.has(67)).toBe(false);
    expect(r!.opts.has(43)).toBe(false);
    expect(d.action === "reply" && d.to).toEqual({ address: "255.255.255.255", port: 68, broadcast: true });
  });

  it("sends only requested optional options", () => {
    const { r } = run({ type: 1, mac: KNOWN, options: [[55, [1, 3]]] });
    expect(r!.opts.has(6)).toBe(false);
    expect(r!.opts.has(12)).toBe(false);
    expect(r!.opts.has(15)).toBe(false);
    expect(r!.ipOf(1)).toBe("255.255.255.0");
    expect(r!.u32(51)).toBe(3600);
  });

  it("firmware PXE gets the iPXE binary for its architecture, PXE options and siaddr/sname/file", () => {
    const cases: Array<[number, string]> = [
      [0, "undionly.kpxe"],
      [6, "ipxe.efi"],
      [7, "ipxe.efi"],
      [9, "ipxe.efi"],
      [11, "ipxe-arm64.efi"],
      [10, "ipxe-arm32.efi"],
    ];
    for (const [arch, file] of cases) {
      const { r } = run({
        type: 1,
        mac: KNOWN,
        options: [[60, "PXEClient:Arch:00000:UNDI:002001"], [93, [0, arch]], [97, [0, ...Array(16).fill(7)]], PRL_ALL],
      });
      expect(r!.text(67)).toBe(file);
      expect(r!.file).toBe(file);
      expect(r!.siaddr).toBe(SERVER);
      expect(r!.sname).toBe(SERVER);
      expect(r!.text(66)).toBe(SERVER);
      expect(r!.text(17)).toBe(SERVER);
      expect(r!.text(60)).toBe("PXEClient");
      expect([...r!.opts.get(43)!]).toEqual([6, 1, 8, 255]);
      expect(r!.opts.get(97)!.length).toBe(17);
    }
  });

  it("iPXE (option 77 plain or RFC 3004, or option 175) gets the bootscript URL and no-pxedhcp", () => {
    for (const options of [[[77, "iPXE"]], [[77, [4, ...Buffer.from("iPXE")]]], [[175, [19, 1, 1]]]] as Array<
      Array<[number, string | number[]]>
    >) {
      const { r } = run({ type: 1, mac: KNOWN, options: [...options, [93, [0, 7]], PRL_ALL] });
      expect(r!.text(67)).toBe(`http://10.61.0.1:8081/boot/v1/bootscript?mac=${KNOWN}`);
      expect([...r!.opts.get(175)!]).toEqual([176, 1, 1]);
      expect(r!.opts.has(43)).toBe(false);
    }
  });

  it("UEFI HTTP boot gets a URL and option 60 HTTPClient", () => {
    for (const [arch, path] of [
      [16, "ipxe.efi"],
      [19, "ipxe-arm64.efi"],
      [15, "ipxe.efi"],
    ] as const) {
      const { r } = run({ type: 1, mac: KNOWN, options: [[60, "HTTPClient:Arch:00016:UNDI:003000"], [93, [0, arch]], PRL_ALL] });
      expect(r!.text(67)).toBe(`http://10.61.0.1:8080/${path}`);
      expect(r!.text(60)).toBe("HTTPClient");
      expect(r!.opts.has(66)).toBe(false);
    }
  });

  it("the arch map is configurable", () => {
    const s = settings({ boot: { arch: { "7": "snponly.efi", "11": "snp-arm64.efi" } } });
    expect(run({ type: 1, mac: KNOWN, options: [[93, [0, 7]]] }, { s }).r!.file).toBe("snponly.efi");
    expect(run({ type: 1, mac: KNOWN, options: [[93, [0, 11]]] }, { s }).r!.file).toBe("snp-arm64.efi");
    expect(run({ type: 1, mac: KNOWN, options: [[93, [0, 0]]] }, { s }).r!.file).toBe("undionly.kpxe");
  });

  it("REQUEST SELECTING: ACK for our server id and the offered address; ignore other servers; NAK a wrong address", () => {
    const sel = (server: string, addr: string) =>
      run({
        type: 3,
        mac: KNOWN,
        options: [
          [54, ipOpt(server)],
          [50, ipOpt(addr)],
        ],
      });
    const ok = sel(SERVER, "10.61.0.5");
    expect(replyOf(ok.d).kind).toBe("ACK");
    expect(ok.r!.yiaddr).toBe("10.61.0.5");
    expect(ok.r!.type).toBe(5);
    const other = sel("10.61.0.77", "10.61.0.5");
    expect(other.d.action).toBe("drop");
    expect(other.d.reason).toMatch(/chose server 10.61.0.77/);
    const wrong = sel(SERVER, "10.61.0.6");
    expect(replyOf(wrong.d).kind).toBe("NAK");
    expect(wrong.r!.type).toBe(6);
    expect(wrong.r!.yiaddr).toBe("0.0.0.0");
    expect(wrong.r!.opts.has(51)).toBe(false);
    expect(wrong.d.action === "reply" && wrong.d.to.broadcast).toBe(true);
  });

  it("REQUEST INIT-REBOOT checks option 50; RENEWING checks ciaddr and answers by unicast", () => {
    expect(replyOf(run({ type: 3, mac: KNOWN, options: [[50, ipOpt("10.61.0.5")]] }).d).kind).toBe("ACK");
    expect(replyOf(run({ type: 3, mac: KNOWN, options: [[50, ipOpt("192.168.1.5")]] }).d).kind).toBe("NAK");
    expect(run({ type: 3, mac: KNOWN }).d.action).toBe("drop");
    const renew = run({ type: 3, mac: KNOWN, ciaddr: "10.61.0.5" });
    const d = replyOf(renew.d);
    expect(d.kind).toBe("ACK");
    expect(d.to).toEqual({ address: "10.61.0.5", port: 68, broadcast: false });
    expect(renew.r!.ciaddr).toBe("10.61.0.5");
    const foreign = replyOf(run({ type: 3, mac: KNOWN, ciaddr: "10.61.0.6" }).d);
    expect(foreign.kind).toBe("NAK");
    expect(foreign.to.broadcast).toBe(true);
  });

  it("INFORM: ACK without yiaddr or lease time, unicast to ciaddr", () => {
    const { d, r } = run({ type: 8, mac: KNOWN, ciaddr: "10.61.0.5", options: [PRL_ALL] });
    expect(replyOf(d).kind).toBe("ACK");
    expect(r!.yiaddr).toBe("0.0.0.0");
    expect(r!.ciaddr).toBe("10.61.0.5");
    expect(r!.opts.has(51)).toBe(false);
    expect(r!.ipOf(3)).toBe("10.61.0.254");
    expect(replyOf(d).to).toEqual({ address: "10.61.0.5", port: 68, broadcast: false });
  });

  it("relayed requests: reply to giaddr:67 with the relayed subnet's settings and the SMD address inside it; echo option 82", () => {
    const { d, r } = run({ type: 1, mac: "52:54:00:00:00:08", giaddr: "10.61.8.1", hops: 1, options: [[82, [1, 3, 0x61, 0x62, 0x63]]] });
    expect(replyOf(d).to).toEqual({ address: "10.61.8.1", port: 67, broadcast: false });
    expect(r!.yiaddr).toBe("10.61.8.20");
    expect(r!.giaddr).toBe("10.61.8.1");
    expect(r!.ipOf(3)).toBe("10.61.8.1");
    expect([...r!.opts.get(82)!]).toEqual([1, 3, 0x61, 0x62, 0x63]);
    // A relay from a network we do not serve, and a reservation without an address in the relay's subnet.
    expect(run({ type: 1, mac: KNOWN, giaddr: "172.16.9.1" }).d.reason).toMatch(/no configured subnet/);
    expect(run({ type: 1, mac: KNOWN, giaddr: "10.61.8.1" }).d.reason).toMatch(/no address for/);
  });

  it("drops BOOTP, non-Ethernet and server messages with a reason", () => {
    const bootp = decodePacket(clientPacket({ type: 1, mac: KNOWN }));
    bootp.options.delete(53);
    expect(
      decide(
        { packet: bootp, localPort: 67, source: { address: "0.0.0.0", port: 68 } },
        { settings: settings(), inventory: { lookup: () => undefined }, leases: new LeaseTable(), now: 0 },
      ).reason,
    ).toMatch(/BOOTP/);
    const p = decodePacket(clientPacket({ type: 2, mac: KNOWN }));
    const d = decide(
      { packet: p, localPort: 67, source: { address: "0.0.0.0", port: 68 } },
      { settings: settings(), inventory: { lookup: () => undefined }, leases: new LeaseTable(), now: 0 },
    );
    expect(d.action).toBe("drop");
    expect(d.reason).toMatch(/OFFER/);
    const ib = decodePacket(clientPacket({ type: 1, mac: KNOWN }));
    ib.htype = 32;
    expect(
      decide(
        { packet: ib, localPort: 67, source: { address: "0.0.0.0", port: 68 } },
        { settings: settings(), inventory: { lookup: () => undefined }, leases: new LeaseTable(), now: 0 },
      ).reason,
    ).toMatch(/not Ethernet/);
  });
});

describe("DHCP decisions: unknown clients", () => {
  it("ignore mode drops and asks for an inventory refresh", () => {
    const { d } = run({ type: 1, mac: UNKNOWN });
    expect(d.action).toBe("drop");
    expect(d.action === "drop" && d.inventoryMiss).toBe(true);
  });

  it("bootloop: a full DORA succeeds (no NAK on the first REQUEST), short lease, reboot script for iPXE", () => {
    const s = settings({ unknownClients: "bootloop", bootloop: { leaseTime: "5m", script: "reboot.ipxe" } });
    const leases = new LeaseTable();
    const offer = run({ type: 1, mac: UNKNOWN, options: [[77, "iPXE"], PRL_ALL] }, { s, leases });
    expect(replyOf(offer.d).kind).toBe("OFFER");
    const ip = offer.r!.yiaddr;
    expect(["10.61.0.200", "10.61.0.201", "10.61.0.202"]).toContain(ip);
    expect(offer.r!.u32(51)).toBe(300);
    expect(offer.r!.text(67)).toBe("reboot.ipxe");
    const ack = run(
      {
        type: 3,
        mac: UNKNOWN,
        options: [
          [77, "iPXE"],
          [54, ipOpt(SERVER)],
          [50, ipOpt(ip)],
        ],
      },
      { s, leases },
    );
    expect(replyOf(ack.d).kind).toBe("ACK");
    expect(ack.r!.yiaddr).toBe(ip);
    expect(leases.get(UNKNOWN)).toMatchObject({ ip, state: "bound" });
    // A second unknown client gets another address.
    const other = run({ type: 1, mac: "52:54:00:00:00:98" }, { s, leases });
    expect(other.r!.yiaddr).not.toBe(ip);
    // Firmware PXE from an unknown MAC still gets iPXE first.
    expect(run({ type: 1, mac: "52:54:00:00:00:97", options: [[93, [0, 0]]] }, { s, leases }).r!.file).toBe("undionly.kpxe");
  });

  it("bootloop: RENEW, REBIND and INIT-REBOOT get a NAK and free the address", () => {
    const s = settings({ unknownClients: "bootloop" });
    const leases = new LeaseTable();
    const ip = run({ type: 1, mac: UNKNOWN }, { s, leases }).r!.yiaddr;
    run(
      {
        type: 3,
        mac: UNKNOWN,
        options: [
          [54, ipOpt(SERVER)],
          [50, ipOpt(ip)],
        ],
      },
      { s, leases },
    );
    const renew = run({ type: 3, mac: UNKNOWN, ciaddr: ip }, { s, leases });
    expect(replyOf(renew.d).kind).toBe("NAK");
    expect(leases.get(UNKNOWN)).toBeUndefined();
    expect(replyOf(run({ type: 3, mac: UNKNOWN, options: [[50, ipOpt(ip)]] }, { s, leases }).d).kind).toBe("NAK");
  });

  it("bootloop: REQUEST for an address offered to someone else is NAKed; the pool runs out cleanly; RELEASE and DECLINE free", () => {
    const s = settings({ unknownClients: "bootloop" });
    const leases = new LeaseTable();
    const macs = ["52:54:00:00:01:01", "52:54:00:00:01:02", "52:54:00:00:01:03"];
    const ips = macs.map((m) => run({ type: 1, mac: m }, { s, leases }).r!.yiaddr);
    expect(new Set(ips).size).toBe(3);
    const full = run({ type: 1, mac: "52:54:00:00:01:04" }, { s, leases });
    expect(full.d.reason).toMatch(/exhausted/);
    expect(
      replyOf(
        run(
          {
            type: 3,
            mac: "52:54:00:00:01:04",
            options: [
              [54, ipOpt(SERVER)],
              [50, ipOpt(ips[0])],
            ],
          },
          { s, leases },
        ).d,
      ).kind,
    ).toBe("NAK");
    // Offers expire after the hold: the fourth client then gets one.
    const later = run({ type: 1, mac: "52:54:00:00:01:04" }, { s, leases, now: 1_000_000 + 61_000 });
    expect(replyOf(later.d).kind).toBe("OFFER");
    run({ type: 7, mac: macs[1], ciaddr: ips[1] }, { s, leases });
    expect(leases.get(macs[1])).toBeUndefined();
    run(
      {
        type: 4,
        mac: macs[2],
        options: [
          [50, ipOpt(ips[2])],
          [54, ipOpt(SERVER)],
        ],
      },
      { s, leases },
    );
    expect(leases.get(macs[2])).toBeUndefined();
    expect(leases.available(ips[2], "52:54:00:00:09:09", 1_000_000)).toBe(false);
  });

  it("a client that got a bootloop lease gets its SMD address once it is known", () => {
    const s = settings({ unknownClients: "bootloop" });
    const leases = new LeaseTable();
    leases.apply({ op: "bind", mac: KNOWN, ip: "10.61.0.200", expires: 2_000_000 });
    const { d, r } = run({ type: 1, mac: KNOWN }, { s, leases });
    expect(replyOf(d).kind).toBe("OFFER");
    expect(r!.yiaddr).toBe("10.61.0.5");
    expect(leases.get(KNOWN)).toBeUndefined();
  });
});

describe("DHCP decisions: spoofed MACs and the new-lease budget", () => {
  const bootloop = (extra: Record<string, unknown> = {}) =>
    settings({
      unknownClients: "bootloop",
      pool: { start: "10.61.0.200", end: "10.61.0.250" },
      relayed: [{ subnet: "10.61.8.0/24", routers: ["10.61.8.1"], pool: { start: "10.61.8.200", end: "10.61.8.250" } }],
      ...extra,
    });
  const ignoredOf = (d: Decision) => (d.action === "drop" ? d.ignored : undefined);

  it("ignores broadcast, multicast and all-zero client hardware addresses, in every mode and for every message", () => {
    const invalid = ["ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "01:00:5e:00:00:fb", "33:33:00:00:00:01", "03:00:00:00:00:01"];
    for (const s of [bootloop(), settings(), settings({ mode: "proxy" })])
      for (const mac of invalid)
        for (const type of [1, 3, 4, 7, 8]) {
          const leases = new LeaseTable();
          const { d } = run(
            {
              type,
              mac,
              ciaddr: type >= 7 ? "10.61.0.7" : undefined,
              options: [
                [93, [0, 7]],
                [60, "PXEClient"],
              ],
            },
            { s, leases },
          );
          expect(d.action, `${mac} type ${type}`).toBe("drop");
          expect(ignoredOf(d), `${mac} type ${type}`).toEqual({ invalidMac: true });
          expect(d.leaseOps).toEqual([]);
          expect(leases.size).toBe(0);
        }
    expect(run({ type: 1, mac: "ff:ff:ff:ff:ff:ff" }, { s: bootloop() }).d.reason).toMatch(/is the broadcast address/);
    expect(run({ type: 1, mac: "01:00:5e:00:00:fb" }, { s: bootloop() }).d.reason).toMatch(/is a multicast address/);
    expect(run({ type: 1, mac: "00:00:00:00:00:00" }, { s: bootloop() }).d.reason).toMatch(/is all zeros/);
    // Locally administered unicast addresses (VMs, containers) are ordinary clients.
    expect(replyOf(run({ type: 1, mac: "02:00:00:00:00:01" }, { s: bootloop() }).d).kind).toBe("OFFER");
  });

  it("new pool leases spend the source's budget; beyond it DISCOVERs from new MACs are ignored, and the pool keeps its addresses", () => {
    const s = bootloop({ bootloop: { newLeasesPerMinute: 3 } });
    const leases = new LeaseTable();
    const budget = new NewLeaseLimit(3);
    const mac = (i: number) => `52:54:00:aa:00:${i.toString(16).padStart(2, "0")}`;
    for (let i = 0; i < 3; i++) {
      const { d } = run({ type: 1, mac: mac(i) }, { s, leases, newLeases: budget });
      expect(replyOf(d).kind).toBe("OFFER");
      expect(d.action === "reply" && d.newLeaseFrom).toBe("dh-none0");
    }
    for (let i = 3; i < 50; i++) {
      const { d } = run({ type: 1, mac: mac(i) }, { s, leases, newLeases: budget });
      expect(ignoredOf(d)).toEqual({ poolLimited: "dh-none0" });
      expect(d.reason).toBe("new bootloop lease refused: interface dh-none0 is over its limit of 3 new pool leases per minute");
    }
    expect(leases.inUse(1_000_000)).toBe(3);
    // Clients already holding an offer are not new: their DISCOVER and REQUEST go through.
    const again = run({ type: 1, mac: mac(0) }, { s, leases, newLeases: budget });
    expect(replyOf(again.d).kind).toBe("OFFER");
    expect(again.d.action === "reply" && again.d.newLeaseFrom).toBeUndefined();
    const ip = again.r!.yiaddr;
    const select = {
      type: 3,
      mac: mac(0),
      options: [
        [54, ipOpt(SERVER)],
        [50, ipOpt(ip)],
      ] as Array<[number, number[]]>,
    };
    expect(replyOf(run(select, { s, leases, newLeases: budget }).d).kind).toBe("ACK");
    // A REQUEST for a free address with no offer is a new lease too (a client may skip DISCOVER).
    const skip = run(
      {
        type: 3,
        mac: mac(60),
        options: [
          [54, ipOpt(SERVER)],
          [50, ipOpt("10.61.0.240")],
        ],
      },
      { s, leases, newLeases: budget },
    );
    expect(ignoredOf(skip.d)).toEqual({ poolLimited: "dh-none0" });
    // Relays have budgets of their own.
    const relayed = run({ type: 1, mac: mac(70), giaddr: "10.61.8.1" }, { s, leases, newLeases: budget });
    expect(replyOf(relayed.d).kind).toBe("OFFER");
    expect(relayed.d.action === "reply" && relayed.d.newLeaseFrom).toBe("10.61.8.1");
    // A third of a minute later one new lease is allowed again, and only one.
    const later = 1_000_000 + 20_000;
    expect(replyOf(run({ type: 1, mac: mac(80) }, { s, leases, newLeases: budget, now: later }).d).kind).toBe("OFFER");
    expect(ignoredOf(run({ type: 1, mac: mac(81) }, { s, leases, newLeases: budget, now: later }).d)).toEqual({ poolLimited: "dh-none0" });
    // Reserved clients never need a budget.
    expect(replyOf(run({ type: 1, mac: KNOWN }, { s, leases, newLeases: budget, now: later }).d).kind).toBe("OFFER");
  });

  it("the budget is a token bucket per source that refills to its size and forgets full buckets", () => {
    const budget = new NewLeaseLimit(2);
    expect(budget.available("eth1", 0)).toBe(true);
    budget.spend("eth1", 0);
    budget.spend("eth1", 0);
    expect(budget.available("eth1", 0)).toBe(false);
    expect(budget.available("10.0.0.1", 0)).toBe(true);
    expect(budget.available("eth1", 29_999)).toBe(false);
    expect(budget.available("eth1", 30_000)).toBe(true);
    budget.sweep(30_000);
    expect(budget.sources).toBe(1);
    budget.sweep(10 * 60_000); // refilled long ago, but never past its size
    expect(budget.sources).toBe(0);
    budget.spend("eth1", 10 * 60_000);
    budget.spend("eth1", 10 * 60_000);
    expect(budget.available("eth1", 10 * 60_000)).toBe(false);
  });
});

describe("DHCP decisions: proxy mode", () => {
  const proxy = () => settings({ mode: "proxy" });
  it("answers PXE DISCOVERs with boot options and no address", () => {
    const { d, r } = run(
      {
        type: 1,
        mac: KNOWN,
        options: [
          [60, "PXEClient:Arch:00007:UNDI:003016"],
          [93, [0, 7]],
          [97, [0, ...Array(16).fill(1)]],
        ],
      },
      { s: proxy() },
    );
    expect(replyOf(d).kind).toBe("OFFER");
    expect(r!.yiaddr).toBe("0.0.0.0");
    expect(r!.opts.has(51)).toBe(false);
    expect(r!.opts.has(1)).toBe(false);
    expect(r!.text(60)).toBe("PXEClient");
    expect(r!.file).toBe("ipxe.efi");
    expect([...r!.opts.get(43)!]).toEqual([6, 1, 8, 255]);
    expect(r!.ipOf(54)).toBe(SERVER);
  });

  it("ignores non-PXE clients and REQUESTs for the real server; answers REQUESTs on 4011 by unicast", () => {
    expect(run({ type: 1, mac: KNOWN }, { s: proxy() }).d.reason).toMatch(/not a PXE client/);
    expect(
      run(
        {
          type: 3,
          mac: KNOWN,
          options: [
            [77, "iPXE"],
            [54, ipOpt("10.61.0.9")],
            [50, ipOpt("10.61.0.5")],
          ],
        },
        { s: proxy() },
      ).d.action,
    ).toBe("drop");
    const { d, r } = run(
      { type: 3, mac: KNOWN, ciaddr: "10.61.0.5", options: [[77, "iPXE"]] },
      { s: proxy(), localPort: 4011, source: "10.61.0.5" },
    );
    expect(replyOf(d).kind).toBe("ACK");
    expect(replyOf(d).to).toEqual({ address: "10.61.0.5", port: 68, broadcast: false });
    expect(r!.text(67)).toContain("/boot/v1/bootscript?mac=");
  });
});

describe("DHCP decisions on packets captured from real clients", () => {
  const fixture = (name: string) =>
    Buffer.from(readFileSync(path.join(import.meta.dirname, "../fixtures/dhcp", `${name}.hex`), "utf8").trim(), "hex");
  const mac = "52:54:00:61:0f:01";
  const inventory = {
    lookup: (m: string) =>
      m === mac ? { mac, ips: ["10.61.0.77"], hostname: "nid0077", xname: "x1000c0s7b0n0", nid: 77, type: "Node" } : undefined,
  };
  const answer = (name: string) => {
    const packet = decodePacket(fixture(name));
    const d = decide(
      { packet, localPort: 67, source: { address: "0.0.0.0", port: 68 } },
      { settings: settings(), inventory, leases: new LeaseTable(), now: 0 },
    );
    return {
      packet,
      d,
      r: d.action === "reply" ? readReply(encodePacket(d.reply, { maxMessageSize: d.maxMessageSize, droppable: d.droppable })) : undefined,
    };
  };

  it("busybox udhcpc posing as BIOS PXE firmware gets undionly.kpxe", () => {
    const { packet, d, r } = answer("udhcpc-pxe-bios");
    expect(packet.options.get(60)!.toString()).toBe("PXEClient:Arch:00000:UNDI:002001");
    expect(replyOf(d).kind).toBe("OFFER");
    expect(r!.yiaddr).toBe("10.61.0.77");
    expect(r!.file).toBe("undionly.kpxe");
    expect(r!.text(12)).toBe("nid0077");
  });

  it("ISC dhclient with user class iPXE and arch 7 gets the bootscript URL", () => {
    const { packet, d, r } = answer("dhclient-ipxe-efi");
    expect(packet.options.get(93)!.readUInt16BE(0)).toBe(7);
    expect(replyOf(d).kind).toBe("OFFER");
    expect(r!.file).toBe(`http://10.61.0.1:8081/boot/v1/bootscript?mac=${mac}`);
  });

  it("real iPXE (QEMU e1000 ROM: options 57, 60, 77, 93, 94, 97, 175) gets the bootscript URL, no-pxedhcp and its requested options", () => {
    const { packet, d, r } = answer("ipxe-qemu-e1000");
    expect(packet.options.get(77)!.toString()).toBe("iPXE");
    expect(packet.options.get(57)!.readUInt16BE(0)).toBe(1472);
    expect(packet.options.has(175)).toBe(true);
    expect(replyOf(d).kind).toBe("OFFER");
    expect(r!.yiaddr).toBe("10.61.0.77");
    expect(r!.file).toBe(`http://10.61.0.1:8081/boot/v1/bootscript?mac=${mac}`);
    expect(r!.text(17)).toBe("10.61.0.1"); // root-path: OpenCHAMI's iPXE binaries chain tftp://${root-path}/config.ipxe
    expect([...r!.opts.get(175)!]).toEqual([176, 1, 1]);
    expect(r!.text(12)).toBe("nid0077");
    expect(r!.text(60)).toBe("PXEClient");
    expect(r!.length).toBeLessThanOrEqual(1472 - 28);
  });
});

describe("IPv6 router solicitations (answered so iPXE does not wait for a router)", () => {
  // What iPXE sends: type 133, code 0, checksum, reserved, and its source link-layer address option.
  const rs = (code = 0, options = Buffer.from([1, 1, 0x52, 0x54, 0, 0x65, 1, 1])) =>
    Buffer.concat([Buffer.from([133, code, 0x12, 0x34, 0, 0, 0, 0]), options]);

  it("answers a link-local solicitor unicast, and :: on all nodes", () => {
    expect(answerTo(rs(), "fe80::5054:ff:fe65:101")).toEqual({ to: "fe80::5054:ff:fe65:101" });
    expect(answerTo(rs(0, Buffer.alloc(0)), "::")).toEqual({ to: "ff02::1" });
  });

  it("drops what RFC 4861 says to drop, and what may come from off the link", () => {
    expect(answerTo(rs(0, Buffer.alloc(0)).subarray(0, 6), "fe80::1")).toMatchObject({ drop: expect.stringMatching(/shorter/) });
    expect(answerTo(rs(1), "fe80::1")).toMatchObject({ drop: "router solicitation with code 1" });
    expect(answerTo(Buffer.from([134, 0, 0, 0, 0, 0, 0, 0]), "fe80::1")).toMatchObject({ drop: expect.stringMatching(/type 134/) });
    expect(answerTo(rs(0, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0])), "fe80::1")).toMatchObject({
      drop: expect.stringMatching(/malformed option/),
    });
    expect(answerTo(rs(0, Buffer.from([1, 2, 0, 0, 0, 0, 0, 0])), "fe80::1")).toMatchObject({
      drop: expect.stringMatching(/malformed option/),
    });
    expect(answerTo(rs(), "::")).toMatchObject({ drop: expect.stringMatching(/from :: with a source link-layer option/) });
    expect(answerTo(rs(), "2001:db8::1")).toMatchObject({ drop: "source 2001:db8::1 is not link-local" });
  });

  it("advertises nothing: no default router, no flags, no options", () => {
    const ra = EMPTY_ROUTER_ADVERTISEMENT;
    expect(ra.length).toBe(16);
    expect(ra[0]).toBe(134);
    expect(ra.readUInt16BE(6)).toBe(0); // router lifetime
    expect(ra[5]).toBe(0); // M and O flags
  });
});
