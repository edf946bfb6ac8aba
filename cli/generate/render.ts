import { compress, compressTerms, expand } from "./hostlist";

/**
 * The files the seed's tutorial has the admin write by hand (/etc/hosts entries for nodes and
 * BMCs, powerman.conf, conman.conf), generated from the inventory. Pure: entries in, text out.
 */
export interface HostEntry {
  /** Host name of the node (nid001). */
  node: string;
  xname: string;
  nid?: number;
  ip?: string;
  role?: string;
  bmc?: { name: string; ip?: string };
}

export const BEGIN = "# BEGIN ochami hosts (ochami generate hosts)";
export const END = "# END ochami hosts";

function hostLine(ip: string, name: string, domain?: string): string {
  const names = domain ? `${name}.${domain} ${name}` : name;
  return `${ip.padEnd(15)} ${names}`;
}

/** /etc/hosts lines, nodes then BMCs (the seed's order), inside BEGIN/END markers. */
export function renderHosts(entries: HostEntry[], opts: { domain?: string; extra?: Array<[string, string]> } = {}): string {
  const lines = [BEGIN];
  for (const [ip, name] of opts.extra ?? []) lines.push(hostLine(ip, name));
  for (const e of entries) if (e.ip) lines.push(hostLine(e.ip, e.node, opts.domain));
  const seen = new Set<string>();
  for (const e of entries)
    if (e.bmc?.ip && !seen.has(e.bmc.name)) {
      seen.add(e.bmc.name);
      lines.push(hostLine(e.bmc.ip, e.bmc.name, opts.domain));
    }
  lines.push(END);
  return `${lines.join("\n")}\n`;
}

/** Replaces the marked block in an existing hosts file, or appends it. */
export function updateHostsFile(current: string, block: string): string {
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END, start);
  if (start >= 0 && end > start) return current.slice(0, start) + block + current.slice(end + END.length).replace(/^\n/, "");
  return (current === "" || current.endsWith("\n") ? current : `${current}\n`) + block;
}

export interface BmcLogin {
  user: string;
  password: string;
}

/** Characters that would break out of the quoted strings of powerman.conf and conman.conf. */
export function checkLogin(login: BmcLogin, file: "powerman" | "conman"): string | undefined {
  const bad = file === "powerman" ? /["\s|&\\]/ : /["\s,\\]/;
  if (bad.test(login.user) || bad.test(login.password))
    return `the BMC user or password contains a character ${file}.conf cannot hold (${file === "powerman" ? "quote, space, |, & or \\" : "quote, space, comma or \\"})`;
  return undefined;
}

/** Node/plug pairs as few powerman `node` lines as keep them matched one to one. */
function nodeLines(nodes: string[], plugs: string[], device: string): string[] {
  const nodeTerms = compressTerms(nodes);
  const plugTerms = compressTerms(plugs);
  const aligned = nodeTerms.length === plugTerms.length && nodeTerms.every((t, i) => expand(t).length === expand(plugTerms[i]).length);
  if (aligned) return nodeTerms.map((t, i) => `node "${t}" "${device}" "${plugTerms[i]}"`);
  return nodes.map((n, i) => `node "${n}" "${device}" "${plugs[i]}"`);
}

/**
 * powerman.conf: the seed's ipmipower device (`-D lanplus ... -I <cipher suite> -W ipmiping`), or
 * a redfishpower device with one of powerman's redfishpower-*.dev specifications.
 */
export function renderPowerman(
  entries: HostEntry[],
  login: BmcLogin | undefined,
  opts: { driver: "ipmi" | "redfish"; cipherSuite: number; redfishSpec: string },
): string {
  const withBmc = entries.filter((e) => e.bmc);
  const nodes = withBmc.map((e) => e.node);
  const plugs = withBmc.map((e) => e.bmc!.name);
  const bmcs = compress([...new Set(plugs)]);
  if (opts.driver === "redfish") {
    return [
      `include "/etc/powerman/${opts.redfishSpec}.dev"`,
      "",
      `device "redfish0" "${opts.redfishSpec}" "/usr/sbin/redfishpower -h ${bmcs} |&"`,
      ...nodeLines(nodes, plugs, "redfish0"),
      "",
    ].join("\n");
  }
  return [
    'include "/etc/powerman/ipmipower.dev"',
    "",
    `device "ipmi0" "ipmipower" "/usr/sbin/ipmipower -D lanplus -u ${login!.user} -p ${login!.password} -h ${bmcs} -I ${opts.cipherSuite} -W ipmiping |&"`,
    ...nodeLines(nodes, plugs, "ipmi0"),
    "",
  ].join("\n");
}

/** conman.conf: the seed's SERVER and GLOBAL lines, then one IPMI serial-over-LAN console per node, by role. */
export function renderConman(entries: HostEntry[], login: BmcLogin, opts: { cipherSuite: number; logdir: string }): string {
  const lines = [
    "SERVER keepalive=ON",
    `SERVER logdir="${opts.logdir}"`,
    `SERVER logfile="${opts.logdir}.log"`,
    "SERVER loopback=ON",
    'SERVER pidfile="/var/run/conman.pid"',
    'SERVER resetcmd="/usr/bin/powerman -0 %N; sleep 5; /usr/bin/powerman -1 %N"',
    "SERVER tcpwrappers=ON",
    "",
    'GLOBAL seropts="115200,8n1"',
    `GLOBAL log="${opts.logdir}/console.%N"`,
    'GLOBAL logopts="sanitize,timestamp"',
  ];
  const roles = [...new Set(entries.filter((e) => e.bmc).map((e) => e.role || "Compute"))];
  for (const role of roles) {
    lines.push("", `# ${role} nodes`);
    for (const e of entries)
      if (e.bmc && (e.role || "Compute") === role)
        lines.push(
          `CONSOLE name="${e.node}" dev="ipmi:${e.bmc.name}" ipmiopts="U:${login.user},P:${login.password},C:${opts.cipherSuite},W:solpayloadsize"`,
        );
  }
  return `${lines.join("\n")}\n`;
}
