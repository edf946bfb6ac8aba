/** Puts nodes into a running API through SMD's HTTP API, as an admin or the ochami CLI would. */
export interface SeedNode {
  xname: string;
  nid?: number;
  mac: string;
  ip: string;
}

async function check(res: Response, what: string): Promise<void> {
  if (res.ok) {
    await res.arrayBuffer();
    return;
  }
  throw new Error(`${what}: ${res.status} ${await res.text()}`);
}

export async function seedNodes(
  apiUrl: string,
  nodes: SeedNode[],
  opts: { concurrency?: number; headers?: Record<string, string> } = {},
): Promise<void> {
  const headers = { "content-type": "application/json", ...opts.headers };
  for (let i = 0; i < nodes.length; i += 1000) {
    const Components = nodes
      .slice(i, i + 1000)
      .map((n) => ({ ID: n.xname, State: "Ready", ...(n.nid !== undefined ? { NID: n.nid } : {}) }));
    await check(
      await fetch(`${apiUrl}/hsm/v2/State/Components`, { method: "POST", headers, body: JSON.stringify({ Components }) }),
      "POST Components",
    );
  }
  await addInterfaces(apiUrl, nodes, opts);
}

export async function addInterfaces(
  apiUrl: string,
  nodes: SeedNode[],
  opts: { concurrency?: number; headers?: Record<string, string> } = {},
): Promise<void> {
  const headers = { "content-type": "application/json", ...opts.headers };
  let next = 0;
  const worker = async () => {
    while (next < nodes.length) {
      const n = nodes[next++];
      const body = { MACAddress: n.mac, ComponentID: n.xname, IPAddresses: [{ IPAddress: n.ip }] };
      await check(
        await fetch(`${apiUrl}/hsm/v2/Inventory/EthernetInterfaces`, { method: "POST", headers, body: JSON.stringify(body) }),
        `POST EthernetInterface ${n.mac}`,
      );
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, worker));
}

/** Node i (0-based): xname x<1000+cabinet>c<chassis>s<slot>b0n<node> (2048 per cabinet), MAC 02:61:00:hh:hh:hh. */
export function nodeAt(i: number, ip: string): SeedNode {
  const cabinet = 1000 + Math.floor(i / 2048);
  const chassis = Math.floor((i % 2048) / 256);
  const slot = Math.floor((i % 256) / 4);
  const node = i % 4;
  const hex = (i + 1).toString(16).padStart(6, "0");
  return {
    xname: `x${cabinet}c${chassis}s${slot}b0n${node}`,
    nid: i + 1,
    mac: `02:61:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`,
    ip,
  };
}
