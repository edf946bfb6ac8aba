import { isIP } from "../../shared/ip";

/**
 * The TCP peer's address as workerd reports it (`request.cf.clientIp`; see
 * onprem-agent/api-runner/workerd-config.ts), or "" when unknown. Nothing a client sends in a
 * header can change it. Behind a proxy this is the proxy's address.
 */
export function peerAddress(req: Request): string {
  const ip = (req as { cf?: { clientIp?: unknown } }).cf?.clientIp;
  return typeof ip === "string" && isIP(ip) ? ip : "";
}
