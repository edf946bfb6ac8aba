/**
 * Option negotiation for a read request: blksize (RFC 2348), timeout and tsize (RFC 2349),
 * windowsize (RFC 7440). Pure. An option with a value we cannot use is left out of the OACK,
 * which RFC 2347 defines as "not accepted": the client then falls back to the default.
 */

export interface Limits {
  maxBlockSize: number;
  maxWindowSize: number;
  /** Largest `timeout` accepted: a client asking for 255 s would hold its transfer slot for minutes. */
  maxRequestedTimeoutSeconds: number;
}

export interface Negotiated {
  blockSize: number;
  windowSize: number;
  /** Retransmission timeout the client asked for, in ms; undefined keeps the server's default. */
  timeoutMs?: number;
  /** What to send in the OACK, in the client's order; empty means no OACK (plain RFC 1350). */
  oack: Map<string, string>;
  /** Options present but not accepted, for the debug log. */
  ignored: string[];
}

const DEFAULT_BLOCK_SIZE = 512;

function integer(value: string): number | undefined {
  return /^\d{1,10}$/.test(value) ? Number(value) : undefined;
}

export function negotiate(requested: ReadonlyMap<string, string>, transferSize: number, limits: Limits): Negotiated {
  const result: Negotiated = { blockSize: DEFAULT_BLOCK_SIZE, windowSize: 1, oack: new Map(), ignored: [] };
  for (const [name, raw] of requested) {
    const value = integer(raw);
    switch (name) {
      case "blksize":
        if (value === undefined || value < 8) break;
        result.blockSize = Math.min(value, limits.maxBlockSize);
        result.oack.set(name, String(result.blockSize));
        continue;
      case "windowsize":
        if (value === undefined || value < 1 || value > 65535) break;
        result.windowSize = Math.min(value, limits.maxWindowSize);
        result.oack.set(name, String(result.windowSize));
        continue;
      case "timeout":
        // RFC 2349: 1–255 seconds, and the server must echo it unchanged or not accept it.
        if (value === undefined || value < 1 || value > Math.min(255, limits.maxRequestedTimeoutSeconds)) break;
        result.timeoutMs = value * 1000;
        result.oack.set(name, String(value));
        continue;
      case "tsize":
        // In a read request the client sends 0 and the server answers with the size.
        if (value === undefined) break;
        result.oack.set(name, String(transferSize));
        continue;
    }
    result.ignored.push(name);
  }
  return result;
}
