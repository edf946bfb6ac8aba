/**
 * The agent's copy of SMD for DHCP: MAC → reservation, read with the same two calls coresmd makes
 * (`GET /hsm/v2/Inventory/EthernetInterfaces`, `GET /hsm/v2/State/Components`) and joined on
 * ComponentID. Refreshed on an interval and early when DHCP sees an unknown MAC (at most one such
 * refresh per `missRefreshInterval`, coalesced). A failed refresh keeps the last good copy.
 */
import { z } from "zod";
import { normalizeMac } from "../../shared/mac";
import type { ApiClient } from "../api-client";
import { seconds } from "../config-types";
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

/** Joins SMD's two lists into the reservation map. Pure; exported for tests. */
export function buildReservations(ifaces: unknown, components: unknown, hostnames: Record<string, string>): Map<string, Reservation> {
  if (!Array.isArray(ifaces)) throw new Error("EthernetInterfaces is not an array");
  const comps = (components as { Components?: unknown })?.Components;
  if (!Array.isArray(comps)) throw new Error("Components has no Components array");
  const byId = new Map<string, Component>();
  for (const c of comps as Component[]) if (typeof c?.ID === "string") byId.set(c.ID.toLowerCase(), c);
  const out = new Map<string, Reservation>();
  for (const e of ifaces as EthernetInterface[]) {
    const mac = normalizeMac(e?.MACAddress);
    if (!mac) continue;
    const ips: string[] = [];
    if (Array.isArray(e.IPAddresses))
      for (const a of e.IPAddresses) {
        const ip = (a as { IPAddress?: unknown })?.IPAddress;
        if (typeof ip === "string" && /^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) ips.push(ip);
      }
    if (ips.length === 0) continue;
    const xname = typeof e.ComponentID === "string" && e.ComponentID ? e.ComponentID : undefined;
    const comp = xname ? byId.get(xname.toLowerCase()) : undefined;
    const nid = typeof comp?.NID === "number" ? comp.NID : undefined;
    const type = typeof comp?.Type === "string" ? comp.Type : undefined;
    const pattern = hostnames[type ?? ""] ?? hostnames.default ?? "{id}";
    out.set(mac, { mac, ips, xname, nid, type, hostname: renderHostname(pattern, { xname, nid }) });
  }
  return out;
}

export interface InventoryEvents {
  onRefresh?(r: { size: number; ms: number; reason: string }): void;
  onError?(err: Error, reason: string): void;
}

export class SmdInventory implements InventoryView {
  private map = new Map<string, Reservation>();
  private lastGood = 0;
  private lastStart = 0;
  private inFlight?: Promise<void>;
  private missTimer?: NodeJS.Timeout;
  private timer?: NodeJS.Timeout;
  errors = 0;

  constructor(
    private readonly api: ApiClient,
    private readonly cfg: InventoryConfig,
    private readonly events: InventoryEvents = {},
  ) {}

  lookup(mac: string): Reservation | undefined {
    return this.map.get(mac);
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
    this.timer = setInterval(() => void this.refresh("interval"), this.cfg.refreshInterval * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.missTimer);
  }

  /** DHCP saw a MAC that is not here: refresh soon, at most once per missRefreshInterval. */
  onMiss(_mac: string): void {
    if (this.inFlight || this.missTimer) return;
    const wait = this.lastStart + this.cfg.missRefreshInterval * 1000 - Date.now();
    if (wait <= 0) {
      void this.refresh("miss");
      return;
    }
    this.missTimer = setTimeout(() => {
      this.missTimer = undefined;
      void this.refresh("miss");
    }, wait);
    this.missTimer.unref();
  }

  /**
   * For a DISCOVER from an unknown MAC: a refresh to wait for (running, or started now), or
   * undefined when one ran less than missRefreshInterval ago (one is then scheduled).
   */
  missRefresh(mac: string): Promise<void> | undefined {
    if (this.inFlight) return this.inFlight;
    if (Date.now() - this.lastStart >= this.cfg.missRefreshInterval * 1000) return this.refresh("miss");
    this.onMiss(mac);
    return undefined;
  }

  /** One refresh at a time; callers during a refresh share it. */
  refresh(reason: string): Promise<void> {
    this.inFlight ??= this.load(reason).finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async load(reason: string): Promise<void> {
    const t0 = Date.now();
    this.lastStart = t0;
    try {
      const [ifaces, comps] = await Promise.all([this.api.getJson("/hsm/v2/Inventory/EthernetInterfaces"), this.api.getJson("/hsm/v2/State/Components")]);
      this.map = buildReservations(ifaces, comps, this.cfg.hostnames);
      this.lastGood = Date.now();
      this.events.onRefresh?.({ size: this.map.size, ms: this.lastGood - t0, reason });
    } catch (err) {
      this.errors++;
      this.events.onError?.(err as Error, reason);
    }
  }
}
