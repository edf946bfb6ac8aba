import type { MiddlewareHandler } from "hono";
import type { AppEnv, BootEnv } from "../env";
import { d1Reader } from "./d1";
import { currentSnapshot } from "./snapshot/current";
import type { BootKey, LookupOptions, NodeLookup, Resolution } from "./types";

/**
 * The one way the boot path reads: which node asks and what it gets. Two implementations give
 * the same answers: the in-memory snapshot (snapshot/model.ts) when it is current, else D1's
 * live tables (d1.ts). Which one serves a request is decided once, by the middleware below, so
 * a handler reads as parse → read → decide → record.
 */
export interface BootReader {
  readonly source: "snapshot" | "d1";
  /** The SMD Node a bootscript key names, and the boot parameters that win for it. */
  resolveBoot(key: BootKey): Promise<Resolution>;
  /** The node holding `ip` in SMD, or undefined when no interface with a component holds it. */
  nodeByIp(ip: string, opts?: LookupOptions): Promise<NodeLookup | undefined>;
  /** The node `id` (an xname) as if it had asked itself; `inSmd` false when SMD lacks it. */
  nodeById(id: string, opts?: LookupOptions): Promise<NodeLookup>;
  /**
   * An answer computed only from this reader's data and `key`: the snapshot keeps it (when
   * `keep`) for as long as it is current, D1 computes it every time.
   */
  remember<T>(key: string, compute: () => Promise<{ value: T; keep: boolean }>): Promise<T>;
}

/**
 * Sets `c.var.boot` for a route of the boot path: the snapshot when OCHAMI_BOOT_SNAPSHOT allows
 * it and it is current, else D1 (snapshot/current.ts says when; a stale snapshot is rebuilt in
 * the background while D1 answers).
 */
export function bootReader(): MiddlewareHandler<BootEnv> {
  return async (c, next) => {
    const { db, config, waiter } = c.var;
    c.set("boot", (await currentSnapshot(db, config.bootSnapshot, waiter)) ?? d1Reader(db));
    return next();
  };
}

/** D1 always: the admin routes (impersonation) read what is stored, whatever the snapshot holds. */
export function liveReader(c: { var: AppEnv["Variables"] }): BootReader {
  return d1Reader(c.var.db);
}
