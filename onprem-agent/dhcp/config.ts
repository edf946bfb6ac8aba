/**
 * The `dhcp:` section of the agent config, and its resolution into the settings decide.ts uses
 * (interface addresses looked up, templates filled, times in seconds).
 */
import { execFileSync } from "node:child_process";
import { networkInterfaces } from "node:os";
import { z } from "zod";
import { cidrv4, ipv4, port, seconds } from "../config-types";
import { broadcastOf, type Cidr, intToIp, ipToInt, parseCidr } from "./ipv4";

const poolSchema = z.strictObject({ start: ipv4, end: ipv4 });

const subnetFields = {
  routers: z.array(ipv4).default([]),
  dns: z.array(ipv4).default([]),
  domain: z.string().min(1).optional(),
  domainSearch: z.array(z.string().min(1)).optional(),
  pool: poolSchema.optional(),
};

/**
 * Client architecture (option 93) → boot file. Firmware PXE gets an iPXE binary over TFTP (names as
 * Debian's `ipxe` package ships them; arm binaries as OpenCHAMI's ipxe-binaries name them); UEFI
 * HTTP boot (15, 16, 19) gets a URL. `{server}` is this server's address, `{http}` is boot.httpBase.
 */
export const DEFAULT_ARCH_BOOTFILES: Record<string, string> = {
  "0": "undionly.kpxe",
  "6": "ipxe.efi",
  "7": "ipxe.efi",
  "9": "ipxe.efi",
  "10": "ipxe-arm32.efi",
  "11": "ipxe-arm64.efi",
  "15": "{http}/ipxe.efi",
  "16": "{http}/ipxe.efi",
  "19": "{http}/ipxe-arm64.efi",
};

export const dhcpConfigSchema = z
  .strictObject({
    /** The interface to serve on. Without it the DHCP server stays off. */
    interface: z.string().min(1).max(15).optional(),
    /** full: assign addresses; proxy: PXE boot options only, addresses come from another server. */
    mode: z.enum(["full", "proxy"]).default("full"),
    /** Our address on that interface (option 54, siaddr). Default: the interface's first IPv4. */
    serverAddress: ipv4.optional(),
    /** The subnet on that interface. Default: read from the interface. */
    subnet: cidrv4.optional(),
    ...subnetFields,
    /** Subnets served through DHCP relays (giaddr inside `subnet`). */
    relayed: z.array(z.strictObject({ subnet: cidrv4, ...subnetFields })).default([]),
    leaseTime: seconds.default(3600),
    renewalTime: seconds.optional(),
    rebindingTime: seconds.optional(),
    /** MACs not in SMD: ignore them, or give a short lease and a reboot script until they are added. */
    unknownClients: z.enum(["ignore", "bootloop"]).default("ignore"),
    bootloop: z
      .strictObject({
        leaseTime: seconds.default(300),
        /** Boot file for unknown iPXE clients: a script that reboots (served by TFTP/HTTP). */
        script: z.string().min(1).default("default"),
        /** How long an offered address is held for the REQUEST. */
        offerHold: seconds.default(60),
        leaseFile: z.string().min(1).optional(),
        /**
         * New pool leases (an address for a MAC holding none) per relay (giaddr) or, on the
         * served link, per interface: a token bucket of this many, refilled at this rate per
         * minute. Beyond it DISCOVERs from new MACs are ignored (counted), so one client sending
         * from random MACs cannot take the whole pool.
         */
        newLeasesPerMinute: z.number().int().min(1).default(20),
      })
      .prefault({}),
    boot: z
      .strictObject({
        /** Next server (siaddr, option 66). Default: serverAddress. */
        tftpServer: ipv4.optional(),
        /** Boot file for iPXE clients; `{api}` = api.bootUrl, `{mac}` = the client's MAC. */
        ipxeScriptUrl: z.string().min(1).default("{api}/boot/v1/bootscript?mac={mac}"),
        /** Base for HTTP boot URLs (`{http}` in the arch map). */
        httpBase: z.string().min(1).default("http://{server}:8080"),
        arch: z.record(z.string().regex(/^\d+$/), z.string()).default({}),
        /** Option 17; OpenCHAMI's iPXE binaries chain tftp://${root-path}/config.ipxe. Empty: not sent. */
        rootPath: z.string().default("{server}"),
        /** PXE option 43 discovery control = 8: boot the file in this reply, skip boot-server discovery. */
        pxeDiscoveryControl: z.boolean().default(true),
        /** iPXE option 175.176 no-pxedhcp: iPXE does not wait for ProxyDHCP offers. */
        ipxeNoProxyDhcp: z.boolean().default(true),
      })
      .prefault({}),
    /**
     * Answer IPv6 router solicitations on the interface with an advertisement that configures
     * nothing (router-advert.ts): iPXE then fetches its boot file right after DHCP instead of
     * waiting 4-16 s for a router. Turn off where an IPv6 router serves the boot network.
     */
    answerRouterSolicitations: z.boolean().default(true),
    /** Ports; only tests change them. */
    serverPort: port.default(67),
    clientPort: port.default(68),
    /** ProxyDHCP boot-server port (PXE spec); 0 disables it. */
    proxyPort: port.default(4011),
  })
  .superRefine((c, ctx) => {
    if (c.unknownClients === "bootloop" && c.mode === "full" && !c.pool && c.relayed.every((r) => !r.pool))
      ctx.addIssue({ code: "custom", path: ["pool"], message: "unknownClients: bootloop needs a pool (start/end)" });
  });

export type DhcpConfig = z.infer<typeof dhcpConfigSchema>;

export interface SubnetSettings {
  cidr: Cidr;
  mask: string;
  broadcast: string;
  routers: string[];
  dns: string[];
  domain?: string;
  domainSearch?: string[];
  pool?: { start: number; end: number };
}

export interface DhcpSettings {
  mode: "full" | "proxy";
  interface: string;
  serverId: string;
  /** First: the interface's own subnet; then relayed ones. */
  subnets: SubnetSettings[];
  leaseTime: number;
  renewalTime: number;
  rebindingTime: number;
  unknownClients: "ignore" | "bootloop";
  bootloop: { leaseTime: number; script: string; offerHold: number; leaseFile?: string; newLeasesPerMinute: number };
  boot: {
    nextServer: string;
    /** With `{mac}` still to fill. */
    ipxeScriptUrl: string;
    arch: Map<number, string>;
    rootPath?: string;
    pxeDiscoveryControl: boolean;
    ipxeNoProxyDhcp: boolean;
  };
  answerRouterSolicitations: boolean;
  serverPort: number;
  clientPort: number;
  proxyPort: number;
}

function subnetSettings(cidrText: string, s: z.infer<z.ZodObject<typeof subnetFields>>): SubnetSettings {
  const cidr = parseCidr(cidrText);
  const pool = s.pool ? { start: ipToInt(s.pool.start), end: ipToInt(s.pool.end) } : undefined;
  if (pool) {
    if (pool.start > pool.end) throw new Error(`pool ${s.pool!.start}-${s.pool!.end}: start is after end`);
    for (const ip of [pool.start, pool.end])
      if ((ip & cidr.mask) >>> 0 !== cidr.network) throw new Error(`pool address ${intToIp(ip)} is outside ${cidrText}`);
  }
  return {
    cidr,
    mask: intToIp(cidr.mask),
    broadcast: broadcastOf(cidr),
    routers: s.routers,
    dns: s.dns,
    domain: s.domain,
    domainSearch: s.domainSearch,
    pool,
  };
}

/**
 * The interface's first IPv4 address and its subnet, from the running system. Node lists only
 * interfaces that are up *with carrier*; a head node whose boot network cable is unplugged at
 * start (or a tap with no VM yet) is asked through iproute2 instead.
 */
export function interfaceAddress(name: string): { address: string; cidr: string } | undefined {
  const entry = networkInterfaces()[name]?.find((a) => a.family === "IPv4" && !a.internal);
  if (entry?.cidr) return { address: entry.address, cidr: entry.cidr };
  try {
    const out = JSON.parse(
      execFileSync("ip", ["-j", "-4", "addr", "show", "dev", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }),
    );
    const a = out?.[0]?.addr_info?.find((i: { family?: string }) => i.family === "inet");
    return a ? { address: a.local, cidr: `${a.local}/${a.prefixlen}` } : undefined;
  } catch {
    return undefined;
  }
}

/** Fills defaults from the interface; throws a readable error when something cannot be worked out. */
export function resolveDhcpSettings(c: DhcpConfig, apiBootUrl: string): DhcpSettings {
  if (!c.interface) throw new Error("dhcp.interface is not set");
  const found = interfaceAddress(c.interface);
  const serverId = c.serverAddress ?? found?.address;
  if (!serverId) throw new Error(`interface ${c.interface} has no IPv4 address; set dhcp.serverAddress`);
  const subnetText = c.subnet ?? found?.cidr;
  if (!subnetText) throw new Error(`cannot tell the subnet of ${c.interface}; set dhcp.subnet`);
  const subnets = [subnetSettings(subnetText, c), ...c.relayed.map((r) => subnetSettings(r.subnet, r))];
  const fill = (s: string) =>
    s
      .replaceAll("{server}", serverId)
      .replaceAll("{http}", c.boot.httpBase.replaceAll("{server}", serverId))
      .replaceAll("{api}", apiBootUrl);
  const arch = new Map<number, string>();
  for (const [k, v] of Object.entries({ ...DEFAULT_ARCH_BOOTFILES, ...c.boot.arch })) if (v) arch.set(Number(k), fill(v));
  return {
    mode: c.mode,
    interface: c.interface,
    serverId,
    subnets,
    leaseTime: c.leaseTime,
    renewalTime: c.renewalTime ?? Math.floor(c.leaseTime / 2),
    rebindingTime: c.rebindingTime ?? Math.floor(c.leaseTime * 0.875),
    unknownClients: c.unknownClients,
    bootloop: c.bootloop,
    boot: {
      nextServer: c.boot.tftpServer ?? serverId,
      ipxeScriptUrl: fill(c.boot.ipxeScriptUrl),
      arch,
      rootPath: c.boot.rootPath ? fill(c.boot.rootPath) : undefined,
      pxeDiscoveryControl: c.boot.pxeDiscoveryControl,
      ipxeNoProxyDhcp: c.boot.ipxeNoProxyDhcp,
    },
    answerRouterSolicitations: c.answerRouterSolicitations,
    serverPort: c.serverPort,
    clientPort: c.clientPort,
    proxyPort: c.proxyPort,
  };
}
