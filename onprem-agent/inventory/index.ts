/**
 * The agent's copy of SMD for DHCP: MAC → reservation, read with the same two calls coresmd makes
 * (`GET /hsm/v2/Inventory/EthernetInterfaces`, `GET /hsm/v2/State/Components`) and joined on
 * ComponentID. Refreshed on an interval and early when DHCP sees an unknown MAC (at most one such
 * refresh per `missRefreshInterval`, coalesced). A failed refresh keeps the last good copy.
 */
import { z } from "zod";
import type { ApiClient } from "../../shared/api-client/client";
import { normalizeMac } from "../../shared/mac";
import { type Clock, realClock, type TimerHandle } from "../clock";
import { seconds } from "../config-types";
import { InventoryDocument } from "./document";
import type { InventoryView, Reservation } from "./reservation";

export type { InventoryView, Reservation } from "./reservation";

export const inventoryConfigSchema = z
  .strictObject({
    refreshInterval: seconds.default(30),
    missRefreshInterval: seconds.default(1),
    /**
     * Option 12 hostname by component type. `{Nd}` is the NID zero-padded to N digits (`{04d}` →
     * 0001), `{nid}` the plain NID, `{id}` the xname. Types not listed use `default`. Components
     * without a NID fall back to `{id}`.
     */
    hostnames: z.record(z.string(), z.string().min(1)).default({ Node: "nid{04d}", default: "{id}" }),
  })
  .prefault({});

export type InventoryConfig = z.infer<typeof inventoryConfigSchema>;

interface EthernetInterface {
  MACAddress?: unknown;
  ComponentID?: unknown;
  IPAddresses?: unknown;
}

interface Component {
  ID?: unknown;
  Type?: unknown;
  NID?: unknown;
}

export function renderHostname(pattern: string, c: { xname?: string; nid?: number }): string | undefined {
  const needsNid = /\{(nid|\d+d)\}/.test(pattern);
  if (needsNid && (c.nid === undefined || c.nid <= 0)) pattern = "{id}";
  if (pattern.includes("{id}") && !c.xname) return undefined;
  return pattern
    .replace(/\{(\d+)d\}/g, (_, w: string) => String(c.nid).padStart(Number(w), "0"))
    .replaceAll("{nid}", String(c.nid))
    .replaceAll("{id}", c.xname ?? "");
}

interface ComponentFacts {
  nid?: number;
  type?: string;
}

/** Component ID (lower-case) → NID and Type, from `{"Components":[...]}` elements. */
export class ComponentIndex {
  /** NID (NaN: none) and an index into `types`, packed in one number: no object per component. */
  private byId = new Map<string, number>();
  private types: string[] = [];
  private typeIndex = new Map<string, number>();

  add(c: Component | null | undefined): void {
    if (typeof c?.ID !== "string") return;
    let t = 0;
    if (typeof c.Type === "string") {
      t = this.typeIndex.get(c.Type) ?? 0;
      if (!t) {
        this.types.push(c.Type);
        t = this.types.length;
        this.typeIndex.set(c.Type, t);
      }
    }
    const nid = typeof c.NID === "number" && Number.isSafeInteger(c.NID) && c.NID >= 0 && c.NID < 2 ** 40 ? c.NID : -1;
    this.byId.set(flat(c.ID.toLowerCase()), (nid + 1) * 1024 + t);
  }

  get(id: string): ComponentFacts | undefined {
    const v = this.byId.get(id.toLowerCase());
    if (v === undefined) return undefined;
    const nid = Math.floor(v / 1024) - 1;
    const t = v % 1024;
    return { nid: nid >= 0 ? nid : undefined, type: t ? this.types[t - 1] : undefined };
  }
}

/** One EthernetInterface element → reservation, or undefined when it has no usable MAC or IPv4. */
export function reservationFrom(
  e: EthernetInterface | null | undefined,
  comps: ComponentIndex,
  hostnames: Record<string, string>,
): Reservation | undefined {
  const mac = normalizeMac(e?.MACAddress);
  if (!mac || !e) return undefined;
  const ips: string[] = [];
  if (Array.isArray(e.IPAddresses))
    for (const a of e.IPAddresses) {
      const ip = (a as { IPAddress?: unknown })?.IPAddress;
      if (typeof ip === "string" && /^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) ips.push(ip);
    }
  if (ips.length === 0) return undefined;
  const xname = typeof e.ComponentID === "string" && e.ComponentID ? e.ComponentID : undefined;
  const comp = xname ? comps.get(xname) : undefined;
  const pattern = hostnames[comp?.type ?? ""] ?? hostnames.default ?? "{id}";
  return { mac, ips, xname, nid: comp?.nid, type: comp?.type, hostname: renderHostname(pattern, { xname, nid: comp?.nid }) };
}

/** Joins SMD's two lists (already parsed) into a reservation map. Pure; exported for tests. */
export function buildReservations(ifaces: unknown, components: unknown, hostnames: Record<string, string>): Map<string, Reservation> {
  if (!Array.isArray(ifaces)) throw new Error("EthernetInterfaces is not an array");
  const list = (components as { Components?: unknown })?.Components;
  if (!Array.isArray(list)) throw new Error("Components has no Components array");
  const comps = new ComponentIndex();
  for (const c of list) comps.add(c as Component);
  const out = new Map<string, Reservation>();
  for (const e of ifaces) {
    const r = reservationFrom(e as EthernetInterface, comps, hostnames);
    if (r) out.set(r.mac, r);
  }
  return out;
}

export interface InventoryEvents {
  /** `unchanged`: SMD answered exactly what the copy in place was built from; nothing was parsed. */
  onRefresh?(r: { size: number; ms: number; reason: string; unchanged: boolean }): void;
  onError?(err: Error, reason: string): void;
}

/**
 * Reservations are kept packed, one string per MAC ("ips<TAB>xname<TAB>nid<TAB>type"), and
 * unpacked on lookup: about a third of the memory of an object per MAC, which matters at 100,000
 * nodes; a lookup costs one split.
 */
function pack(r: Reservation): string {
  return flat(`${r.ips.join(",")}\t${r.xname ?? ""}\t${r.nid ?? ""}\t${r.type ?? ""}`);
}

/**
 * A copy of `s` as one contiguous string. Strings built by concatenation are trees of their parts,
 * and strings JSON.parse returns may be slices of the parsed text; kept in a long-lived map either
 * would hold on to the whole element text it came from (several times the useful size at 100,000
 * entries).
 */
function flat(s: string): string {
  return Buffer.from(s, "utf8").toString("utf8");
}

/**
 * Each document is kept unparsed up to this size until it is known to differ from the copy in
 * place: about 30,000 nodes' worth; one larger is parsed as it streams, as is the first read.
 */
const KEEP_BYTES = 8 << 20;

export class SmdInventory implements InventoryView {
  private map = new Map<string, string>();
  /** IPv4 address → MAC, for servers that see only a node's address (TFTP, images). */
  private byIp = new Map<string, string>();
  private lastGood = 0;
  private lastStart = 0;
  private lastDurationMs = 0;
  private inFlight?: Promise<void>;
  private missTimer?: TimerHandle;
  private timer?: TimerHandle;
  /** Digests of the two documents the map in place was built from ("": rebuild on the next refresh). */
  private lastDigests = "";
  /** Sizes of the two documents last read: one larger than KEEP_BYTES is streamed the next time too. */
  private lastSizes = [0, 0];
  errors = 0;

  constructor(
    private readonly api: ApiClient,
    private readonly cfg: InventoryConfig,
    private readonly events: InventoryEvents = {},
    private readonly clock: Clock = realClock,
  ) {}

  lookup(mac: string): Reservation | undefined {
    const packed = this.map.get(mac);
    if (packed === undefined) return undefined;
    const [ips, xnameText, nidText, typeText] = packed.split("\t");
    const xname = xnameText || undefined;
    const nid = nidText ? Number(nidText) : undefined;
    const type = typeText || undefined;
    const pattern = this.cfg.hostnames[type ?? ""] ?? this.cfg.hostnames.default ?? "{id}";
    return { mac, ips: ips.split(","), xname, nid, type, hostname: renderHostname(pattern, { xname, nid }) };
  }

  /** The reservation holding `ip` (the first MAC listed with it, if SMD has it twice). */
  lookupIp(ip: string): Reservation | undefined {
    const mac = this.byIp.get(ip);
    return mac === undefined ? undefined : this.lookup(mac);
  }

  get size(): number {
    return this.map.size;
  }

  /** Epoch ms of the last successful refresh (0: never). */
  get refreshedAt(): number {
    return this.lastGood;
  }

  /** First load (errors are reported, not thrown: DHCP starts and serves once the API answers), then the interval. */
  async start(): Promise<void> {
    await this.refresh("start");
    this.timer = this.clock.setInterval(() => void this.refresh("interval"), this.cfg.refreshInterval * 1000);
  }

  stop(): void {
    this.clock.clear(this.timer);
    this.clock.clear(this.missTimer);
  }

  /**
   * Unknown MACs may trigger refreshes at most every missRefreshInterval, and never more than 10%
   * of the time: with 100,000 nodes a full read costs about a second of CPU, and a room of
   * unregistered machines in a boot loop must not keep the agent busy re-reading SMD.
   */
  private missIntervalMs(): number {
    return Math.max(this.cfg.missRefreshInterval * 1000, 10 * this.lastDurationMs);
  }

  /** DHCP saw a MAC that is not here: refresh soon, at most once per missRefreshInterval. */
  onMiss(_mac: string): void {
    if (this.inFlight || this.missTimer) return;
    const wait = this.lastStart + this.missIntervalMs() - this.clock.now();
    if (wait <= 0) {
      void this.refresh("miss");
      return;
    }
    this.missTimer = this.clock.setTimeout(() => {
      this.missTimer = undefined;
      void this.refresh("miss");
    }, wait);
  }

  /**
   * For a DISCOVER from an unknown MAC: a refresh to wait for (running, or started now), or
   * undefined when one ran less than missRefreshInterval ago (one is then scheduled).
   */
  missRefresh(mac: string): Promise<void> | undefined {
    if (this.inFlight) return this.inFlight;
    if (this.clock.now() - this.lastStart >= this.missIntervalMs()) return this.refresh("miss");
    this.onMiss(mac);
    return undefined;
  }

  /** One refresh at a time; callers during a refresh share it. */
  refresh(reason: string): Promise<void> {
    this.inFlight ??= this.load(reason).finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  /**
   * Components first (for NID and Type), then interfaces, both parsed element by element; the new
   * map replaces the old one only when both lists arrived whole, so a failed or truncated read
   * leaves the last good copy in place. When both documents are byte for byte those of the copy in
   * place, nothing is parsed (InventoryDocument).
   */
  private async load(reason: string): Promise<void> {
    const t0 = this.clock.now();
    this.lastStart = t0;
    try {
      const comps = new ComponentIndex();
      const next = new Map<string, string>();
      const nextByIp = new Map<string, string>();
      // Worth keeping unparsed only when it may match the copy in place, and fits.
      const keep = (i: number) => (this.lastDigests && this.lastSizes[i] <= KEEP_BYTES ? KEEP_BYTES : 0);
      const compsDoc = new InventoryDocument("/hsm/v2/State/Components", "Components", (c) => comps.add(c as Component), keep(0));
      const ifacesDoc = new InventoryDocument(
        "/hsm/v2/Inventory/EthernetInterfaces",
        undefined,
        (e) => {
          const r = reservationFrom(e as EthernetInterface, comps, {});
          if (!r) return;
          const mac = flat(r.mac);
          next.set(mac, pack(r));
          for (const ip of r.ips) if (!nextByIp.has(ip)) nextByIp.set(flat(ip), mac);
        },
        keep(1),
        // The interfaces are joined with the components: those are parsed first.
        () => compsDoc.parse(),
      );
      await this.read(compsDoc);
      await this.read(ifacesDoc);
      const digests = `${compsDoc.digest} ${ifacesDoc.digest}`;
      this.lastSizes = [compsDoc.size, ifacesDoc.size];
      const unchanged = compsDoc.unparsed && ifacesDoc.unparsed && digests === this.lastDigests;
      if (!unchanged) {
        if (compsDoc.unparsed) compsDoc.parse();
        ifacesDoc.parse();
        this.map = next;
        this.byIp = nextByIp;
        this.lastDigests = digests;
      }
      this.lastGood = this.clock.now();
      this.lastDurationMs = this.lastGood - t0;
      this.events.onRefresh?.({ size: this.map.size, ms: this.lastGood - t0, reason, unchanged });
    } catch (err) {
      this.lastDigests = "";
      this.errors++;
      this.events.onError?.(err as Error, reason);
    }
  }

  private async read(doc: InventoryDocument): Promise<void> {
    await this.api.call("root", "GET", doc.path, { onChunk: (chunk) => doc.push(chunk) });
    doc.finish();
  }
}
