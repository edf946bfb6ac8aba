import { isIP } from "../../shared/ip";

/**
 * The TCP peer's address as workerd reports it, or "" when unknown. workerd puts the peer in
 * `request.cf.clientIp` as `host:port` (`127.0.0.1:46036`, `[::1]:46036`) on a plain `http = ()`
 * socket (see onprem-agent/api-runner/workerd-config.ts); Cloudflare puts the bare address there.
 * Nothing a client sends in a header can change it. Behind a proxy this is the proxy's address.
 */
export function peerAddress(req: Request): string {
  const raw = (req as { cf?: { clientIp?: unknown } }).cf?.clientIp;
  if (typeof raw !== "string") return "";
  if (isIP(raw)) return raw;
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(raw);
  if (bracketed && isIP(bracketed[1])) return bracketed[1];
  const v4 = /^([\d.]+):\d+$/.exec(raw);
  return v4 && isIP(v4[1]) ? v4[1] : "";
}
