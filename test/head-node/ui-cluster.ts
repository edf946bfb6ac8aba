/**
 * A cluster for the dashboard's browser tests and its scale measurement: nodes laid out by
 * cabinet, chassis, slot and node, their SMD records and interfaces posted through the API, and
 * boot steps reported as the on-prem agent reports them (its own BootEventReporter) or fetched as
 * a node fetches them (bootscript, cloud-init), so the API records them itself.
 */

import { BootEventReporter } from "../../onprem-agent/boot-events";
import { ApiClient } from "../../shared/api-client/client";
import { ClientCredentialsTokens } from "../../shared/api-client/tokens";
import type { ReportedBootEvent } from "../../shared/boot-events";

export interface TestNode {
  xname: string;
  nid: number;
  mac: string;
  ip: string;
  role: string;
  state: string;
}

/** `cabinets` cabinets of `chassis` chassis × `slots` slots × 2 BMCs × 2 nodes (HPE EX-like: 256 per cabinet at 8×8). */
export function makeNodes(shape: { cabinets: number; chassis: number; slots: number; firstCabinet?: number }): TestNode[] {
  const nodes: TestNode[] = [];
  for (let cab = 0; cab < shape.cabinets; cab++)
    for (let c = 0; c < shape.chassis; c++)
      for (let s = 0; s < shape.slots; s++)
        for (let b = 0; b < 2; b++)
          for (let n = 0; n < 2; n++) {
            const i = nodes.length;
            nodes.push({
              xname: `x${(shape.firstCabinet ?? 1000) + cab}c${c}s${s}b${b}n${n}`,
              nid: i + 1,
              mac: `02:00:${hex(i >> 16)}:${hex((i >> 8) & 255)}:${hex(i & 255)}:01`,
              ip: `10.${100 + ((i + 1) >> 16)}.${((i + 1) >> 8) & 255}.${(i + 1) & 255}`,
              role: i % 16 === 15 ? "Service" : "Compute",
              state: i % 10 === 9 ? "Off" : "Ready",
            });
          }
  return nodes;
}

const hex = (n: number) => n.toString(16).padStart(2, "0");

/** Calls the API as an admin would (curl with a bearer token); throws on an answer that is not 2xx. */
export function adminApi(url: string, token: string) {
  return async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : undefined;
  };
}

/** Components in one request, then each node's interface (`concurrency` at a time). */
export async function postInventory(call: ReturnType<typeof adminApi>, nodes: TestNode[], concurrency = 8): Promise<void> {
  for (let i = 0; i < nodes.length; i += 5000)
    await call("POST", "/hsm/v2/State/Components", {
      Components: nodes
        .slice(i, i + 5000)
        .map((n) => ({ ID: n.xname, Type: "Node", State: n.state, Role: n.role, NID: n.nid, Enabled: true })),
    });
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < nodes.length) {
        const n = nodes[next++];
        await call("POST", "/hsm/v2/Inventory/EthernetInterfaces", {
          MACAddress: n.mac,
          ComponentID: n.xname,
          IPAddresses: [{ IPAddress: n.ip }],
        });
      }
    }),
  );
}

/** The on-prem agent's reporter, with a client of scope `boot:report`. */
export function agentReporter(url: string, clientId: string, secret: string): BootEventReporter {
  const tokens = new ClientCredentialsTokens({ tokenUrl: `${url}/token`, clientId, secret, scope: "boot:report" }, { timeoutMs: 10_000 });
  const api = new ApiClient({ baseUrl: () => url, tokens, timeoutMs: 10_000 });
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  return new BootEventReporter(api, { enabled: true, interval: 0.05, batchSize: 5000, maxQueued: 1_000_000 }, quiet);
}

/** What the agent reports of a node's firmware boot up to its initrd: DHCP with a boot file, TFTP, kernel, initrd. */
export function agentSteps(n: TestNode, startMs: number, upTo: "dhcp" | "tftp" | "kernel" | "initrd" = "initrd"): ReportedBootEvent[] {
  const steps: ReportedBootEvent[] = [
    { mac: n.mac, ip: n.ip, name: n.xname, endpoint: "dhcp", epoch_ms: startMs, detail: `ACK ${n.ip} file=ipxe.efi` },
    { mac: n.mac, ip: n.ip, endpoint: "tftp", epoch_ms: startMs + 300, detail: "ipxe.efi" },
    { mac: n.mac, ip: n.ip, endpoint: "kernel", epoch_ms: startMs + 2000, detail: "/compute/vmlinuz" },
    { mac: n.mac, ip: n.ip, endpoint: "initrd", epoch_ms: startMs + 2500, detail: "/compute/initramfs.img" },
  ];
  return steps.slice(0, ["dhcp", "tftp", "kernel", "initrd"].indexOf(upTo) + 1);
}

/**
 * What the API is started with to believe the test's X-Forwarded-For, as the agent's node proxy
 * is believed: loopback as a trusted proxy, and the secret such a proxy sends.
 */
export const TRUSTED_PROXY_VARS = {
  OCHAMI_TRUSTED_PROXIES: "127.0.0.1",
  OCHAMI_PROXY_SECRET: "dashboard-test-proxy-secret-0123456789abcdef",
};

/** Fetches as the node would, from its own address (through the trusted proxy's header and secret). */
export async function nodeFetch(url: string, path: string, from: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}${path}`, {
    headers: { "x-forwarded-for": from, "x-ochami-proxy-secret": TRUSTED_PROXY_VARS.OCHAMI_PROXY_SECRET },
  });
  return { status: res.status, body: await res.text() };
}
