/**
 * The DHCP decision: request + inventory + lease table + settings → a reply (and where it goes) or
 * a drop with a reason. No I/O and no mutation: lease changes come back as LeaseOps for the server
 * to apply, so every rule here is unit-testable with Buffers.
 *
 * Rules follow RFC 2131 §4.3 (server behaviour) and §4.1 (where replies go). Unknown MACs in
 * bootloop mode follow RFC 2131's client states rather than coresmd's bootloop plugin, which NAKs
 * any non-iPXE packet from a leased MAC and so also the REQUEST that completes the first DORA:
 * here a full DORA always succeeds, and only RENEWING/REBINDING/INIT-REBOOT of a pool lease get the
 * NAK that forces a fresh DORA (and so a fresh inventory lookup).
 *
 * Packets whose client hardware address is broadcast, multicast or all zeros are ignored: no NIC
 * has such an address, and a reply (or a pool lease) for one is spoofed traffic. A new pool lease
 * needs the source's budget (new-lease-limit.ts); the reply names the source it spends.
 */

import type { InventoryView, Reservation } from "../inventory/reservation";
import { BROADCAST_FLAG, clientMac, type DhcpPacket } from "./codec";
import type { DhcpSettings, SubnetSettings } from "./config";
import { inCidr, ipToInt, ZERO } from "./ipv4";
import type { LeaseOp, LeaseTable } from "./leases";
import type { NewLeaseBudget } from "./new-lease-limit";
import {
  domainList,
  ipBytes,
  ipListBytes,
  MessageType,
  messageTypeName,
  Opt,
  readArchList,
  readIp,
  readText,
  readU16,
  readUserClasses,
  subOptions,
  text,
  u8,
  u32,
} from "./options";

export interface DhcpRequest {
  packet: DhcpPacket;
  /** Which local port it arrived on: the DHCP server port or the ProxyDHCP boot-server port. */
  localPort: number;
  source: { address: string; port: number };
}

export interface Destination {
  address: string;
  port: number;
  broadcast: boolean;
}

/** Facts about the exchange for logs, metrics and boot events. */
export interface DecisionInfo {
  mac: string;
  type: string;
  xid: number;
  xname?: string;
  ip?: string;
  bootfile?: string;
  /** Client class: ipxe, pxe, http, or plain. */
  client: string;
  arch?: number;
  relayed?: boolean;
  /** Served from the bootloop pool. */
  bootloop?: boolean;
}

export type Decision =
  | {
      action: "reply";
      kind: "OFFER" | "ACK" | "NAK";
      reason: string;
      reply: DhcpPacket;
      to: Destination;
      maxMessageSize?: number;
      droppable: number[];
      leaseOps: LeaseOp[];
      info: DecisionInfo;
      /** The MAC is not in SMD: worth an early inventory refresh. */
      inventoryMiss?: boolean;
      /** A new pool lease: the source (relay or interface) whose new-lease budget it spends. */
      newLeaseFrom?: string;
    }
  | {
      action: "drop";
      reason: string;
      leaseOps: LeaseOp[];
      info?: DecisionInfo;
      inventoryMiss?: boolean;
      /** Drops a client can cause at will, counted and logged rate-limited: `poolLimited` names the source. */
      ignored?: { invalidMac: true } | { poolLimited: string };
    };

export interface DecideContext {
  settings: DhcpSettings;
  inventory: InventoryView;
  leases: LeaseTable;
  now: number;
  /** New pool leases each relay or interface may still take; unlimited when absent. */
  newLeases?: NewLeaseBudget;
}

/** Options that may be left out, least useful first, when a client's maximum size is small. */
const DROPPABLE = [
  Opt.DomainSearch,
  Opt.BroadcastAddress,
  Opt.DomainName,
  Opt.RootPath,
  Opt.Hostname,
  Opt.TftpServerName,
  Opt.IpxeEncapsulated,
];

interface ClientKind {
  ipxe: boolean;
  pxe: boolean;
  http: boolean;
  arch?: number;
  label: string;
}

function classify(p: DhcpPacket): ClientKind {
  const vendor = readText(p.options.get(Opt.VendorClassId)) ?? "";
  const ipxe = readUserClasses(p.options.get(Opt.UserClass)).includes("iPXE") || p.options.has(Opt.IpxeEncapsulated);
  const arch = readArchList(p.options.get(Opt.ClientSystemArch))?.[0];
  const http = vendor.startsWith("HTTPClient") || arch === 15 || arch === 16 || arch === 19 || arch === 18;
  const pxe = vendor.startsWith("PXEClient");
  return { ipxe, pxe, http, arch, label: ipxe ? "ipxe" : http ? "http" : pxe ? "pxe" : "plain" };
}

function drop(reason: string, info?: DecisionInfo, extra: Partial<Extract<Decision, { action: "drop" }>> = {}): Decision {
  return { action: "drop", reason, leaseOps: [], info, ...extra };
}

/** Why a client hardware address cannot be a NIC's: broadcast, multicast (group bit) or all zeros. */
export function invalidMacReason(chaddr: Buffer): string | undefined {
  const mac = chaddr.subarray(0, 6);
  if (mac.every((b) => b === 0xff)) return "the broadcast address";
  if (mac[0] & 1) return "a multicast address";
  if (mac.every((b) => b === 0)) return "all zeros";
  return undefined;
}

/** Whose new-lease budget a request spends: its relay's (giaddr), else the served interface's. */
export function leaseSource(p: DhcpPacket, s: DhcpSettings): string {
  return p.giaddr !== ZERO ? p.giaddr : s.interface;
}

export function decide(req: DhcpRequest, ctx: DecideContext): Decision {
  const p = req.packet;
  if (p.op !== 1) return drop("not a BOOTREQUEST");
  const mt = p.options.get(Opt.MessageType);
  if (mt?.length !== 1) return drop("no DHCP message type (plain BOOTP is not served)");
  const type = mt[0];
  if (p.htype !== 1 || p.hlen !== 6) return drop(`hardware type ${p.htype}/length ${p.hlen} is not Ethernet`);
  const mac = clientMac(p);
  const kind = classify(p);
  const relayed = p.giaddr !== ZERO;
  const info: DecisionInfo = {
    mac,
    type: messageTypeName[type] ?? `type-${type}`,
    xid: p.xid,
    client: kind.label,
    arch: kind.arch,
    relayed: relayed || undefined,
  };
  const invalid = invalidMacReason(p.chaddr);
  if (invalid)
    return drop(`client hardware address ${mac} is ${invalid}, which no NIC has: ignored`, info, { ignored: { invalidMac: true } });
  if (ctx.settings.mode === "proxy") return decideProxy(req, ctx, type, kind, info);

  const subnet = subnetFor(p, ctx.settings);
  if (!subnet)
    return drop(relayed ? `relay ${p.giaddr} is in no configured subnet` : `client address ${p.ciaddr} is in no configured subnet`, info);
  const reservation = ctx.inventory.lookup(mac);
  if (reservation) info.xname = reservation.xname;

  switch (type) {
    case MessageType.Discover:
    case MessageType.Request:
      return reservation
        ? decideReserved(req, ctx, type, kind, info, subnet, reservation)
        : decideUnknown(req, ctx, type, kind, info, subnet);
    case MessageType.Decline: {
      const ip = readIp(p.options.get(Opt.RequestedAddress)) ?? ZERO;
      if (reservation) return drop(`client declined its reserved address ${ip}: another host uses it (fix SMD or the network)`, info);
      const lease = ctx.leases.get(mac);
      if (lease && lease.ip === ip)
        return {
          action: "drop",
          reason: `bootloop address ${ip} declined; quarantined`,
          info,
          leaseOps: [{ op: "decline", mac, ip, until: ctx.now + 600_000 }],
        };
      return drop(`DECLINE for ${ip}, which is not leased to ${mac}`, info);
    }
    case MessageType.Release: {
      const lease = ctx.leases.get(mac);
      if (!reservation && lease && lease.ip === p.ciaddr)
        return { action: "drop", reason: `bootloop lease ${p.ciaddr} released`, info, leaseOps: [{ op: "release", mac }] };
      return drop(`RELEASE of ${p.ciaddr} noted`, info);
    }
    case MessageType.Inform:
      return decideInform(req, ctx, kind, info, subnet, reservation);
    default:
      return drop(`message type ${info.type} is not one a server answers`, info);
  }
}

/** The subnet a request belongs to: the relay's, else the client's (renewals), else ours. */
function subnetFor(p: DhcpPacket, s: DhcpSettings): SubnetSettings | undefined {
  if (p.giaddr !== ZERO) return s.subnets.find((n) => inCidr(p.giaddr, n.cidr));
  if (p.ciaddr !== ZERO) return s.subnets.find((n) => inCidr(p.ciaddr, n.cidr));
  return s.subnets[0];
}

type RequestState = { state: "SELECTING" | "INIT-REBOOT" | "RENEWING"; target?: string; serverId?: string };

function requestState(p: DhcpPacket): RequestState {
  const serverId = readIp(p.options.get(Opt.ServerId));
  const requested = readIp(p.options.get(Opt.RequestedAddress));
  if (serverId) return { state: "SELECTING", target: requested, serverId };
  if (p.ciaddr === ZERO) return { state: "INIT-REBOOT", target: requested };
  return { state: "RENEWING", target: p.ciaddr };
}

function decideReserved(
  req: DhcpRequest,
  ctx: DecideContext,
  type: number,
  kind: ClientKind,
  info: DecisionInfo,
  subnet: SubnetSettings,
  r: Reservation,
): Decision {
  const p = req.packet;
  const ip = r.ips.find((a) => inCidr(a, subnet.cidr));
  if (!ip) return drop(`SMD has no address for ${info.mac} in ${subnetText(subnet)} (has ${r.ips.join(", ") || "none"})`, info);
  info.ip = ip;
  // A client that had a bootloop lease and is now in SMD: forget the pool address.
  const stale = ctx.leases.get(info.mac);
  const leaseOps: LeaseOp[] = stale ? [{ op: "release", mac: info.mac }] : [];
  const boot = bootFile(ctx.settings, kind, info.mac, true);
  if (type === MessageType.Discover) {
    return reply(req, ctx, "OFFER", "reserved", {
      yiaddr: ip,
      subnet,
      kind,
      boot,
      reservation: r,
      lease: ctx.settings.leaseTime,
      leaseOps,
      info,
    });
  }
  const st = requestState(p);
  if (st.state === "SELECTING" && st.serverId !== ctx.settings.serverId) return drop(`client chose server ${st.serverId}`, info);
  if (!st.target) return drop(`${st.state} REQUEST without a requested address (option 50)`, info);
  if (st.target !== ip) return nak(req, ctx, `${st.state}: requested ${st.target}, reserved ${ip}`, info, leaseOps);
  return reply(req, ctx, "ACK", `reserved (${st.state})`, {
    yiaddr: ip,
    subnet,
    kind,
    boot,
    reservation: r,
    lease: ctx.settings.leaseTime,
    leaseOps,
    info,
  });
}

function decideUnknown(
  req: DhcpRequest,
  ctx: DecideContext,
  type: number,
  kind: ClientKind,
  info: DecisionInfo,
  subnet: SubnetSettings,
): Decision {
  const s = ctx.settings;
  const p = req.packet;
  if (s.unknownClients === "ignore") return drop("MAC not in SMD (unknownClients: ignore)", info, { inventoryMiss: true });
  info.bootloop = true;
  const pool = subnet.pool;
  if (!pool) return drop(`MAC not in SMD and ${subnetText(subnet)} has no bootloop pool`, info, { inventoryMiss: true });
  const boot = bootFile(s, kind, info.mac, false);
  const lease = s.bootloop.leaseTime;
  const current = ctx.leases.get(info.mac);
  // A MAC holding a live offer or lease keeps it; anything else is a new pool lease, which the
  // source must have budget for.
  const source = leaseSource(p, s);
  const isNew = !(current && current.expires > ctx.now);
  const overBudget = () =>
    drop(
      `new bootloop lease refused: ${p.giaddr !== ZERO ? "relay" : "interface"} ${source} is over its limit of ${s.bootloop.newLeasesPerMinute} new pool leases per minute`,
      info,
      { inventoryMiss: true, ignored: { poolLimited: source } },
    );
  if (type === MessageType.Discover) {
    if (isNew && ctx.newLeases && !ctx.newLeases.available(source, ctx.now)) return overBudget();
    const ip = ctx.leases.candidate(info.mac, pool, ctx.now);
    if (!ip) return drop(`bootloop pool of ${subnetText(subnet)} is exhausted`, info, { inventoryMiss: true });
    info.ip = ip;
    const leaseOps: LeaseOp[] = [{ op: "offer", mac: info.mac, ip, expires: ctx.now + s.bootloop.offerHold * 1000 }];
    return {
      ...reply(req, ctx, "OFFER", "bootloop", { yiaddr: ip, subnet, kind, boot, lease, leaseOps, info }),
      ...{ inventoryMiss: true, newLeaseFrom: isNew ? source : undefined },
    };
  }
  const st = requestState(p);
  if (st.state === "SELECTING") {
    if (st.serverId !== s.serverId) {
      // The client took another server's offer: give back the address we held for it.
      const ops: LeaseOp[] = current?.state === "offered" ? [{ op: "release", mac: info.mac }] : [];
      return { action: "drop", reason: `client chose server ${st.serverId}`, info, leaseOps: ops };
    }
    const target = st.target;
    const n = target ? ipToInt(target) : -1;
    const ours = current !== undefined && current.ip === target && current.expires > ctx.now;
    // Also accept a REQUEST whose offer hold ran out (or that predates a restart) if the address is still free.
    const free = target !== undefined && n >= pool.start && n <= pool.end && ctx.leases.available(target, info.mac, ctx.now);
    if (!target || !(ours || free))
      return nak(req, ctx, `bootloop SELECTING: ${target ?? "no address"} was not offered to this client`, info, []);
    // A REQUEST for a free address without a live offer is a new lease too (a client may skip DISCOVER).
    const fresh = !ours && isNew;
    if (fresh && ctx.newLeases && !ctx.newLeases.available(source, ctx.now)) return overBudget();
    info.ip = target;
    const leaseOps: LeaseOp[] = [{ op: "bind", mac: info.mac, ip: target, expires: ctx.now + lease * 1000 }];
    return {
      ...reply(req, ctx, "ACK", "bootloop", { yiaddr: target, subnet, kind, boot, lease, leaseOps, info }),
      newLeaseFrom: fresh ? source : undefined,
    };
  }
  // INIT-REBOOT, RENEWING, REBINDING: bootloop leases are never extended, so the node runs a full
  // DORA again and picks up its SMD address once it has one.
  const ops: LeaseOp[] = current ? [{ op: "release", mac: info.mac }] : [];
  return { ...nak(req, ctx, `bootloop ${st.state}: lease not extended, forcing a new DORA`, info, ops), ...{ inventoryMiss: true } };
}

function decideInform(
  req: DhcpRequest,
  ctx: DecideContext,
  kind: ClientKind,
  info: DecisionInfo,
  subnet: SubnetSettings,
  r?: Reservation,
): Decision {
  const p = req.packet;
  if (p.ciaddr === ZERO) return drop("INFORM without ciaddr", info);
  info.ip = p.ciaddr;
  const boot = bootFile(ctx.settings, kind, info.mac, r !== undefined);
  return reply(req, ctx, "ACK", "inform", { yiaddr: ZERO, subnet, kind, boot, reservation: r, leaseOps: [], info, inform: true });
}

/** ProxyDHCP (PXE spec §2.2): boot options only, never an address. */
function decideProxy(req: DhcpRequest, ctx: DecideContext, type: number, kind: ClientKind, info: DecisionInfo): Decision {
  const s = ctx.settings;
  if (!kind.pxe && !kind.http && !kind.ipxe) return drop("not a PXE client (proxy mode)", info);
  const onBootPort = req.localPort === s.proxyPort;
  if (!(type === MessageType.Discover && !onBootPort) && !(type === MessageType.Request && onBootPort))
    return drop(`${info.type} on port ${req.localPort} is for the DHCP server (proxy mode)`, info);
  const r = ctx.inventory.lookup(info.mac);
  if (r) info.xname = r.xname;
  if (!r && s.unknownClients === "ignore") return drop("MAC not in SMD (unknownClients: ignore)", info, { inventoryMiss: true });
  if (!r) info.bootloop = true;
  const boot = bootFile(s, kind, info.mac, r !== undefined);
  if (!boot) return drop(`no boot file for client architecture ${kind.arch ?? "(none sent)"}`, info, { inventoryMiss: !r });
  const d = reply(req, ctx, type === MessageType.Discover ? "OFFER" : "ACK", "proxy", {
    yiaddr: ZERO,
    kind,
    boot,
    reservation: r,
    leaseOps: [],
    info,
    proxy: true,
  });
  return r ? d : { ...d, inventoryMiss: true };
}

interface Boot {
  file: string;
  /** UEFI HTTP boot: the file is a URL, and option 60 must say HTTPClient. */
  http: boolean;
}

function bootFile(s: DhcpSettings, kind: ClientKind, mac: string, known: boolean): Boot | undefined {
  if (kind.ipxe) return { file: known ? s.boot.ipxeScriptUrl.replaceAll("{mac}", mac) : s.bootloop.script, http: false };
  if (kind.arch === undefined) return undefined;
  const file = s.boot.arch.get(kind.arch);
  if (!file) return undefined;
  return { file, http: kind.http || /^https?:\/\//.test(file) };
}

function subnetText(n: SubnetSettings): string {
  return `${n.cidr.network >>> 24}.${(n.cidr.network >>> 16) & 255}.${(n.cidr.network >>> 8) & 255}.${n.cidr.network & 255}/${n.cidr.prefix}`;
}

/** RFC 2131 §4.1: relay → giaddr:67; NAK → broadcast; ciaddr → unicast; else broadcast. */
function destination(req: DhcpRequest, s: DhcpSettings, isNak: boolean): Destination {
  const p = req.packet;
  if (req.localPort === s.proxyPort && req.source.address !== ZERO)
    return { address: req.source.address, port: req.source.port, broadcast: false };
  if (p.giaddr !== ZERO) return { address: p.giaddr, port: s.serverPort, broadcast: false };
  if (!isNak && p.ciaddr !== ZERO) return { address: p.ciaddr, port: s.clientPort, broadcast: false };
  // Unicast to yiaddr would need an ARP entry injected for a client without an address; like most
  // servers without raw sockets, broadcast instead (every client accepts it).
  return { address: "255.255.255.255", port: s.clientPort, broadcast: true };
}

interface ReplyParts {
  yiaddr: string;
  subnet?: SubnetSettings;
  kind: ClientKind;
  boot?: Boot;
  reservation?: Reservation;
  lease?: number;
  leaseOps: LeaseOp[];
  info: DecisionInfo;
  inform?: boolean;
  proxy?: boolean;
}

function reply(
  req: DhcpRequest,
  ctx: DecideContext,
  kindName: "OFFER" | "ACK",
  reason: string,
  parts: ReplyParts,
): Extract<Decision, { action: "reply" }> {
  const s = ctx.settings;
  const p = req.packet;
  const prl = p.options.get(Opt.ParameterRequestList);
  const wants = (code: number) => !prl || prl.includes(code);
  const o = new Map<number, Buffer>();
  o.set(Opt.MessageType, u8(kindName === "OFFER" ? MessageType.Offer : MessageType.Ack));
  o.set(Opt.ServerId, ipBytes(s.serverId));
  if (parts.lease !== undefined && !parts.inform) {
    o.set(Opt.LeaseTime, u32(parts.lease));
    o.set(Opt.RenewalTime, u32(parts.lease === s.leaseTime ? s.renewalTime : parts.lease / 2));
    o.set(Opt.RebindingTime, u32(parts.lease === s.leaseTime ? s.rebindingTime : parts.lease * 0.875));
  }
  const n = parts.subnet;
  if (n && !parts.proxy) {
    o.set(Opt.SubnetMask, ipBytes(n.mask));
    if (n.routers.length) o.set(Opt.Router, ipListBytes(n.routers));
    if (n.dns.length && wants(Opt.DnsServers)) o.set(Opt.DnsServers, ipListBytes(n.dns));
    const host = parts.reservation?.hostname;
    if (host && wants(Opt.Hostname)) o.set(Opt.Hostname, text(host));
    if (n.domain && wants(Opt.DomainName)) o.set(Opt.DomainName, text(n.domain));
    if (n.domainSearch?.length && prl?.includes(Opt.DomainSearch)) o.set(Opt.DomainSearch, domainList(n.domainSearch));
    if (wants(Opt.BroadcastAddress)) o.set(Opt.BroadcastAddress, ipBytes(n.broadcast));
  }
  let file = "";
  let sname = "";
  let siaddr = ZERO;
  const boot = parts.boot;
  if (boot) {
    parts.info.bootfile = boot.file;
    siaddr = s.boot.nextServer;
    sname = s.boot.nextServer;
    if (boot.file.length <= 127) file = boot.file;
    if (s.boot.rootPath && wants(Opt.RootPath)) o.set(Opt.RootPath, text(s.boot.rootPath));
    if (wants(Opt.TftpServerName) && !boot.http) o.set(Opt.TftpServerName, text(s.boot.nextServer));
    if (wants(Opt.BootfileName) || file === "") o.set(Opt.BootfileName, text(boot.file));
  }
  if (boot?.http) o.set(Opt.VendorClassId, text("HTTPClient"));
  else if (parts.kind.pxe || parts.proxy) o.set(Opt.VendorClassId, text("PXEClient"));
  if (parts.kind.pxe && !parts.kind.ipxe && boot && s.boot.pxeDiscoveryControl) o.set(Opt.VendorSpecific, subOptions([[6, u8(8)]], true));
  const uuid = p.options.get(Opt.ClientUuid);
  if (uuid && (parts.kind.pxe || parts.kind.http)) o.set(Opt.ClientUuid, uuid);
  if (parts.kind.ipxe && s.boot.ipxeNoProxyDhcp && !parts.proxy) o.set(Opt.IpxeEncapsulated, subOptions([[176, u8(1)]], false));
  const relayInfo = p.options.get(Opt.RelayAgentInfo);
  if (relayInfo && p.giaddr !== ZERO) o.set(Opt.RelayAgentInfo, relayInfo);

  const packet: DhcpPacket = {
    op: 2,
    htype: p.htype,
    hlen: p.hlen,
    hops: 0,
    xid: p.xid,
    secs: 0,
    flags: p.flags & BROADCAST_FLAG,
    ciaddr: parts.inform || (kindName === "ACK" && p.ciaddr !== ZERO) ? p.ciaddr : ZERO,
    yiaddr: parts.yiaddr,
    siaddr,
    giaddr: p.giaddr,
    chaddr: p.chaddr,
    sname,
    file,
    options: o,
  };
  return {
    action: "reply",
    kind: kindName,
    reason,
    reply: packet,
    to: destination(req, s, false),
    maxMessageSize: readU16(p.options.get(Opt.MaxMessageSize)),
    droppable: DROPPABLE,
    leaseOps: parts.leaseOps,
    info: parts.info,
  };
}

function nak(
  req: DhcpRequest,
  ctx: DecideContext,
  reason: string,
  info: DecisionInfo,
  leaseOps: LeaseOp[],
): Extract<Decision, { action: "reply" }> {
  const p = req.packet;
  const o = new Map<number, Buffer>([
    [Opt.MessageType, u8(MessageType.Nak)],
    [Opt.ServerId, ipBytes(ctx.settings.serverId)],
    [Opt.Message, text(reason.slice(0, 200))],
  ]);
  const relayInfo = p.options.get(Opt.RelayAgentInfo);
  if (relayInfo && p.giaddr !== ZERO) o.set(Opt.RelayAgentInfo, relayInfo);
  const packet: DhcpPacket = {
    op: 2,
    htype: p.htype,
    hlen: p.hlen,
    hops: 0,
    xid: p.xid,
    secs: 0,
    // RFC 2131 §4.3.2: a relayed NAK sets the broadcast bit so the relay broadcasts it.
    flags: p.giaddr !== ZERO ? BROADCAST_FLAG : p.flags & BROADCAST_FLAG,
    ciaddr: ZERO,
    yiaddr: ZERO,
    siaddr: ZERO,
    giaddr: p.giaddr,
    chaddr: p.chaddr,
    sname: "",
    file: "",
    options: o,
  };
  return {
    action: "reply",
    kind: "NAK",
    reason,
    reply: packet,
    to: destination(req, ctx.settings, true),
    droppable: [Opt.Message],
    leaseOps,
    info,
  };
}
