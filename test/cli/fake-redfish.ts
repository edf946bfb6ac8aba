import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";

/**
 * BMCs for `ochami discover redfish` tests: one HTTPS Redfish service per loopback address, with
 * the resource shapes real BMCs serve (DSP0266 service root, Systems/Managers collections,
 * ComputerSystem, Manager, EthernetInterface with MACAddress, PermanentMACAddress,
 * InterfaceEnabled, LinkStatus, IPv4Addresses), HTTP Basic authentication (the service root is
 * public, as the standard requires), an optional delay per answer, and a count of requests in
 * flight so a test can see the client's concurrency.
 */
export interface FakeNic {
  id: string;
  mac: string;
  enabled?: boolean;
  linkUp?: boolean;
  ipv4?: string;
}

export interface FakeBmc {
  ip: string;
  /** Dell-style resource ids (System.Embedded.1, iDRAC.Embedded.1) instead of generic ones. */
  dell?: boolean;
  managerNics: FakeNic[];
  systemNics: FakeNic[];
  /**
   * Host MACs only under Chassis/FCP_Baseboard/NetworkAdapters/Nic259/NetworkPorts (the seed's
   * hardware, read by its gen_nodes_file.sh), with an empty Systems/1/EthernetInterfaces.
   */
  chassisPorts?: FakeNic[];
  /** Collections split into pages of this size, linked by Members@odata.nextLink. */
  pageSize?: number;
  password?: string;
  delayMs?: number;
}

export interface FakeBmcs {
  port: number;
  caFile: string;
  /** Most requests in flight at once, over all BMCs. */
  maxInFlight(): number;
  resetStats(): void;
  requests: string[];
  stop(): Promise<void>;
}

/** A CA and a server certificate for the given IPs, made with openssl. */
export function makeCertificates(ips: string[]): { dir: string; ca: string; cert: string; key: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "cl-bmc-tls-"));
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
  ssl(
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    f("ca.key"),
    "-out",
    f("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=cl test BMC CA",
  );
  ssl(
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    f("bmc.key"),
    "-out",
    f("bmc.csr"),
    "-subj",
    "/CN=bmc",
  );
  writeFileSync(f("san.ext"), `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(",")}\nbasicConstraints=CA:FALSE\n`);
  ssl(
    "x509",
    "-req",
    "-in",
    f("bmc.csr"),
    "-CA",
    f("ca.pem"),
    "-CAkey",
    f("ca.key"),
    "-CAcreateserial",
    "-out",
    f("bmc.pem"),
    "-days",
    "2",
    "-extfile",
    f("san.ext"),
  );
  return { dir, ca: f("ca.pem"), cert: readFileSync(f("bmc.pem"), "utf8"), key: readFileSync(f("bmc.key"), "utf8") };
}

function resources(b: FakeBmc): Record<string, unknown> {
  const sysId = b.dell ? "System.Embedded.1" : "1";
  const mgrId = b.dell ? "iDRAC.Embedded.1" : "bmc";
  const sys = `/redfish/v1/Systems/${sysId}`;
  const mgr = `/redfish/v1/Managers/${mgrId}`;
  const uuid = (n: number) =>
    `4c4c4544-0000-0000-0000-${b.ip
      .split(".")
      .map((o) => o.padStart(3, "0"))
      .join("")
      .slice(-10)}${n}0`;
  const nic = (base: string, n: FakeNic) => ({
    "@odata.id": `${base}/EthernetInterfaces/${n.id}`,
    "@odata.type": "#EthernetInterface.v1_6_0.EthernetInterface",
    Id: n.id,
    Name: `Ethernet Interface ${n.id}`,
    MACAddress: n.mac.toUpperCase(),
    PermanentMACAddress: n.mac.toUpperCase(),
    InterfaceEnabled: n.enabled ?? true,
    LinkStatus: n.linkUp === false ? "LinkDown" : "LinkUp",
    SpeedMbps: 1000,
    IPv4Addresses: n.ipv4 ? [{ Address: n.ipv4, SubnetMask: "255.255.255.0", AddressOrigin: "DHCP", Gateway: "0.0.0.0" }] : [],
    Status: { State: n.enabled === false ? "Disabled" : "Enabled", Health: "OK" },
  });
  const collection = (id: string, type: string, members: string[]) => ({
    "@odata.id": id,
    "@odata.type": `#${type}Collection.${type}Collection`,
    Name: `${type} Collection`,
    Members: members.map((m) => ({ "@odata.id": m })),
    "Members@odata.count": members.length,
  });
  const chassis = "/redfish/v1/Chassis/FCP_Baseboard";
  const adapter = `${chassis}/NetworkAdapters/Nic259`;
  const out: Record<string, unknown> = {
    "/redfish/v1": {
      "@odata.id": "/redfish/v1",
      "@odata.type": "#ServiceRoot.v1_11_0.ServiceRoot",
      Id: "RootService",
      Name: "Root Service",
      RedfishVersion: "1.15.0",
      UUID: uuid(0),
      Systems: { "@odata.id": "/redfish/v1/Systems" },
      Managers: { "@odata.id": "/redfish/v1/Managers" },
      Chassis: { "@odata.id": "/redfish/v1/Chassis" },
      SessionService: { "@odata.id": "/redfish/v1/SessionService" },
    },
    "/redfish/v1/Systems": collection("/redfish/v1/Systems", "ComputerSystem", [sys]),
    [sys]: {
      "@odata.id": sys,
      "@odata.type": "#ComputerSystem.v1_20_0.ComputerSystem",
      Id: sysId,
      Name: b.dell ? "System" : "Computer System",
      SystemType: "Physical",
      UUID: uuid(1),
      PowerState: "On",
      EthernetInterfaces: { "@odata.id": `${sys}/EthernetInterfaces` },
      Actions: {
        "#ComputerSystem.Reset": {
          target: `${sys}/Actions/ComputerSystem.Reset`,
          "ResetType@Redfish.AllowableValues": ["On", "ForceOff", "ForceRestart"],
        },
      },
    },
    [`${sys}/EthernetInterfaces`]: collection(
      `${sys}/EthernetInterfaces`,
      "EthernetInterface",
      b.systemNics.map((n) => `${sys}/EthernetInterfaces/${n.id}`),
    ),
    "/redfish/v1/Managers": collection("/redfish/v1/Managers", "Manager", [mgr]),
    [mgr]: {
      "@odata.id": mgr,
      "@odata.type": "#Manager.v1_17_0.Manager",
      Id: mgrId,
      Name: "Manager",
      ManagerType: "BMC",
      UUID: uuid(2),
      EthernetInterfaces: { "@odata.id": `${mgr}/EthernetInterfaces` },
    },
    [`${mgr}/EthernetInterfaces`]: collection(
      `${mgr}/EthernetInterfaces`,
      "EthernetInterface",
      b.managerNics.map((n) => `${mgr}/EthernetInterfaces/${n.id}`),
    ),
  };
  for (const n of b.systemNics) out[`${sys}/EthernetInterfaces/${n.id}`] = nic(sys, n);
  const ports = b.chassisPorts ?? [];
  out["/redfish/v1/Chassis"] = collection("/redfish/v1/Chassis", "Chassis", [chassis]);
  out[chassis] = {
    "@odata.id": chassis,
    "@odata.type": "#Chassis.v1_14_0.Chassis",
    Id: "FCP_Baseboard",
    ChassisType: "RackMount",
    NetworkAdapters: { "@odata.id": `${chassis}/NetworkAdapters` },
  };
  out[`${chassis}/NetworkAdapters`] = collection(`${chassis}/NetworkAdapters`, "NetworkAdapter", ports.length ? [adapter] : []);
  out[adapter] = {
    "@odata.id": adapter,
    "@odata.type": "#NetworkAdapter.v1_5_0.NetworkAdapter",
    Id: "Nic259",
    NetworkPorts: { "@odata.id": `${adapter}/NetworkPorts` },
  };
  out[`${adapter}/NetworkPorts`] = collection(
    `${adapter}/NetworkPorts`,
    "NetworkPort",
    ports.map((p) => `${adapter}/NetworkPorts/${p.id}`),
  );
  for (const p of ports)
    out[`${adapter}/NetworkPorts/${p.id}`] = {
      "@odata.id": `${adapter}/NetworkPorts/${p.id}`,
      "@odata.type": "#NetworkPort.v1_2_1.NetworkPort",
      Id: p.id,
      PhysicalPortNumber: "1",
      LinkStatus: p.linkUp === false ? "Down" : "Up",
      AssociatedNetworkAddresses: [p.mac.toUpperCase()],
    };
  for (const n of b.managerNics) out[`${mgr}/EthernetInterfaces/${n.id}`] = nic(mgr, n);
  return out;
}

export async function startFakeBmcs(
  bmcs: FakeBmc[],
  opts: { port: number; cert: string; key: string; caFile: string; user: string; password: string },
): Promise<FakeBmcs> {
  let inFlight = 0;
  let maxInFlight = 0;
  const requests: string[] = [];
  const servers = await Promise.all(
    bmcs.map(
      (b) =>
        new Promise<https.Server>((resolve, reject) => {
          const tree = resources(b);
          const expected = `Basic ${Buffer.from(`${opts.user}:${b.password ?? opts.password}`).toString("base64")}`;
          const server = https.createServer({ cert: opts.cert, key: opts.key }, async (req, res) => {
            inFlight++;
            maxInFlight = Math.max(maxInFlight, inFlight);
            requests.push(`${b.ip} ${req.url}`);
            try {
              // A slow BMC, on purpose: the delay is the behaviour being simulated, not a wait.
              if (b.delayMs) await new Promise((r) => setTimeout(r, b.delayMs));
              const u = new URL(req.url ?? "/", "https://bmc");
              const url = u.pathname.replace(/\/+$/, "");
              const headers = { "content-type": "application/json; charset=utf-8", "odata-version": "4.0" };
              if (url !== "/redfish/v1" && req.headers.authorization !== expected) {
                res.writeHead(401, { ...headers, "www-authenticate": 'Basic realm="RedfishService"' });
                res.end(JSON.stringify({ error: { code: "Base.1.8.GeneralError", message: "Unauthorized" } }));
                return;
              }
              let body = tree[url] as Record<string, any> | undefined;
              if (body && Array.isArray(body.Members) && b.pageSize) {
                const skip = Number(u.searchParams.get("$skip") ?? 0);
                const page = body.Members.slice(skip, skip + b.pageSize);
                body = { ...body, Members: page };
                if (skip + b.pageSize < (tree[url] as any).Members.length)
                  body["Members@odata.nextLink"] = `${url}?$skip=${skip + b.pageSize}`;
              }
              if (!body) {
                res.writeHead(404, headers);
                res.end(JSON.stringify({ error: { code: "Base.1.8.ResourceMissingAtURI", message: `${url} not found` } }));
                return;
              }
              res.writeHead(200, headers);
              res.end(JSON.stringify(body));
            } finally {
              inFlight--;
            }
          });
          server.once("error", reject);
          server.listen(opts.port, b.ip, () => resolve(server));
        }),
    ),
  );
  return {
    port: opts.port,
    caFile: opts.caFile,
    maxInFlight: () => maxInFlight,
    resetStats: () => {
      maxInFlight = 0;
      requests.length = 0;
    },
    requests,
    stop: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((r) => {
              s.closeAllConnections();
              s.close(() => r());
            }),
        ),
      );
    },
  };
}

export function removeDir(dir: string) {
  rmSync(dir, { recursive: true, force: true });
}
