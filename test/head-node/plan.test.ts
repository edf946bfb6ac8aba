/** The rules `npm start` follows to configure the agent and the API's node-facing variables. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AGENT_VARIABLES, type PlanInput, planHeadNode } from "../../head-node/plan";
import { ConfigError } from "../../onprem-agent/config";

const dir = mkdtempSync(path.join(tmpdir(), "e2-plan-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The state directory's node proxy secret (auth-state.ts makes a random one). */
const STATE_SECRET = "state-dir-proxy-secret-0123456789abcdefghij";

/** The agent's part: HTTPS off here, its own rules are in the HTTPS suite below. */
const plan = (env: NodeJS.ProcessEnv, o: Partial<PlanInput> = {}) =>
  planHeadNode({
    env: { OCHAMI_TLS: "off", ...env },
    host: "127.0.0.1",
    port: 8081,
    stateDir: "/var/lib/ochami",
    addressOf: (i) => (i === "eth1" ? "10.64.9.1" : undefined),
    proxySecret: STATE_SECRET,
    ...o,
  });

function yaml(text: string): string {
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
}

describe("npm start's agent plan", () => {
  it("first start on a laptop: DHCP, TFTP and the proxy off, images on loopback from the state directory, nothing for the API", () => {
    const p = plan({});
    expect(p.agentEnabled).toBe(true);
    expect(p.agent.dhcp.interface).toBeUndefined();
    expect(p.agent.tftp.enabled).toBe(false);
    expect(p.agent.nodeProxy.enabled).toBe(false);
    expect(p.agent.images).toMatchObject({ enabled: true, address: "127.0.0.1", port: 8080, root: "/var/lib/ochami/images" });
    expect(p.agent.api).toMatchObject({ url: "http://127.0.0.1:8081" });
    expect(p.agent.api.bootUrl).toBeUndefined();
    expect(p.workerVars).toEqual({});
  });

  it("a boot interface with the API on loopback: everything on the boot address, nodes go through the proxy, which the API trusts", () => {
    const p = plan({ OCHAMI_DHCP_INTERFACE: "eth1" });
    expect(p.bootAddress).toBe("10.64.9.1");
    expect(p.agent.tftp).toMatchObject({ enabled: true, address: "10.64.9.1" });
    expect(p.agent.images).toMatchObject({ enabled: true, address: "10.64.9.1" });
    expect(p.agent.nodeProxy).toMatchObject({ enabled: true, address: "10.64.9.1", port: 8082 });
    expect(p.agent.api.bootUrl).toBe("http://10.64.9.1:8082");
    expect(p.agent.dhcp.boot.httpBase).toBe("http://{server}:8080");
    expect(p.workerVars).toEqual({
      OCHAMI_NODE_BASE_URL: "http://10.64.9.1:8082",
      OCHAMI_TRUSTED_PROXIES: "127.0.0.1",
      OCHAMI_PROXY_SECRET: STATE_SECRET,
    });
    // The proxy proves itself with the same secret: any local user connects from 127.0.0.1 too.
    expect(p.agent.nodeProxy.secret).toBe(STATE_SECRET);
  });

  it("the proxy secret: the agent YAML's, else OCHAMI_PROXY_SECRET, else the state directory's; the API gets the same", () => {
    const own = "yaml-proxy-secret-0123456789abcdefghijklmnop";
    const env = "env-proxy-secret-0123456789abcdefghijklmnopq";
    const fromYaml = plan({ OCHAMI_DHCP_INTERFACE: "eth1", OCHAMI_AGENT_CONFIG: yaml(`nodeProxy:\n  secret: ${own}\n`) });
    expect(fromYaml.workerVars.OCHAMI_PROXY_SECRET).toBe(own);
    expect(fromYaml.agent.nodeProxy.secret).toBe(own);
    const secretFile = path.join(dir, "proxy.secret");
    writeFileSync(secretFile, `${own}\n`);
    const fromFile = plan({ OCHAMI_DHCP_INTERFACE: "eth1", OCHAMI_AGENT_CONFIG: yaml(`nodeProxy:\n  secretFile: ${secretFile}\n`) });
    expect(fromFile.workerVars.OCHAMI_PROXY_SECRET).toBe(own);
    expect(fromFile.agent.nodeProxy.secretFile).toBe(secretFile);
    expect(fromFile.agent.nodeProxy.secret).toBeUndefined();
    const fromEnv = plan({ OCHAMI_DHCP_INTERFACE: "eth1", OCHAMI_PROXY_SECRET: env });
    expect(fromEnv.workerVars.OCHAMI_PROXY_SECRET).toBe(env);
    expect(fromEnv.agent.nodeProxy.secret).toBe(env);
    expect(() =>
      plan({ OCHAMI_DHCP_INTERFACE: "eth1", OCHAMI_PROXY_SECRET: env, OCHAMI_AGENT_CONFIG: yaml(`nodeProxy:\n  secret: ${own}\n`) }),
    ).toThrow(/nodeProxy.secret differs from OCHAMI_PROXY_SECRET/);
    // No proxy, no secret for the API.
    expect(plan({ OCHAMI_DHCP_INTERFACE: "eth1" }, { host: "0.0.0.0" }).workerVars.OCHAMI_PROXY_SECRET).toBeUndefined();
  });

  it("the API listening on every address: no proxy, nodes reach the API directly, nothing is trusted", () => {
    const p = plan({ OCHAMI_DHCP_INTERFACE: "eth1" }, { host: "0.0.0.0" });
    expect(p.agent.nodeProxy.enabled).toBe(false);
    expect(p.agent.api).toMatchObject({ url: "http://127.0.0.1:8081", bootUrl: "http://10.64.9.1:8081" });
    expect(p.workerVars).toEqual({ OCHAMI_NODE_BASE_URL: "http://10.64.9.1:8081" });
  });

  it("YAML over the defaults, environment over YAML; the admin's own variables and URLs are kept", () => {
    const file = yaml(
      "dhcp:\n  interface: eth1\nimages:\n  port: 9000\n  root: /srv/images\nnodeProxy:\n  port: 9082\ntftp:\n  enabled: false\n",
    );
    const p = plan({
      OCHAMI_AGENT_CONFIG: file,
      OCHAMI_IMAGES_DIR: "/data/domain-images",
      OCHAMI_TRUSTED_PROXIES: "10.0.0.5",
      OCHAMI_NODE_BASE_URL: "http://head:8081",
    });
    expect(p.agent.images).toMatchObject({ port: 9000, root: "/data/domain-images" });
    expect(p.agent.tftp.enabled).toBe(false);
    expect(p.agent.dhcp.boot.httpBase).toBe("http://{server}:9000");
    expect(p.agent.api.bootUrl).toBe("http://10.64.9.1:9082");
    expect(p.workerVars).toEqual({ OCHAMI_TRUSTED_PROXIES: "10.0.0.5,127.0.0.1", OCHAMI_PROXY_SECRET: STATE_SECRET });
    expect(plan({ OCHAMI_AGENT_CONFIG: yaml("api:\n  bootUrl: http://gw:80\ndhcp:\n  interface: eth1\n") }).agent.api.bootUrl).toBe(
      "http://gw:80",
    );
  });

  it("every port the agent listens on is a variable, over the YAML; the node-facing URLs follow them", () => {
    const file = yaml("nodeProxy:\n  port: 9082\ntftp:\n  port: 6969\n");
    const p = plan({
      OCHAMI_AGENT_CONFIG: file,
      OCHAMI_DHCP_INTERFACE: "eth1",
      OCHAMI_IMAGES_PORT: "18080",
      OCHAMI_AGENT_METRICS_PORT: "19464",
      OCHAMI_NODE_PROXY_PORT: "18082",
      OCHAMI_TFTP_PORT: "1069",
      OCHAMI_DHCP_PORT: "1067",
      OCHAMI_DHCP_PROXY_PORT: "14011",
    });
    expect(p.agent.images.port).toBe(18080);
    expect(p.agent.metrics.port).toBe(19464);
    expect(p.agent.nodeProxy.port).toBe(18082);
    expect(p.agent.tftp.port).toBe(1069);
    expect(p.agent.dhcp).toMatchObject({ serverPort: 1067, proxyPort: 14011 });
    expect(p.agent.api.bootUrl).toBe("http://10.64.9.1:18082");
    expect(p.agent.dhcp.boot.httpBase).toBe("http://{server}:18080");
    expect(p.workerVars.OCHAMI_NODE_BASE_URL).toBe("http://10.64.9.1:18082");
    for (const name of ["OCHAMI_NODE_PROXY_PORT", "OCHAMI_TFTP_PORT", "OCHAMI_DHCP_PORT", "OCHAMI_DHCP_PROXY_PORT"]) {
      expect(() => plan({ [name]: "65536" })).toThrow(new RegExp(`${name} must be a port number`));
      expect(AGENT_VARIABLES.has(name), `${name} is the agent's, not the worker's`).toBe(true);
    }
  });

  it("a proxy pointed elsewhere changes nothing in this API's trust", () => {
    const p = plan({ OCHAMI_AGENT_CONFIG: yaml("dhcp:\n  interface: eth1\nnodeProxy:\n  apiUrl: https://api.site.example\n") });
    expect(p.workerVars.OCHAMI_TRUSTED_PROXIES).toBeUndefined();
    expect(p.workerVars.OCHAMI_PROXY_SECRET).toBeUndefined();
  });

  it("refuses bad values with the variable's or the key's name", () => {
    expect(() => plan({ OCHAMI_TFTP: "maybe" })).toThrow(ConfigError);
    expect(() => plan({ OCHAMI_TFTP: "maybe" })).toThrow(/OCHAMI_TFTP must be on or off/);
    expect(() => plan({ OCHAMI_IMAGES_PORT: "http" })).toThrow(/OCHAMI_IMAGES_PORT must be a port number/);
    expect(() => plan({ OCHAMI_AGENT_CONFIG: yaml("images:\n  prot: 1\n") })).toThrow(/images.*prot/s);
    expect(() => plan({ OCHAMI_AGENT_CONFIG: path.join(dir, "missing.yaml") })).toThrow(/cannot read/);
    expect(() => plan({ OCHAMI_AGENT_CONFIG: yaml("- a list\n") })).toThrow(/expected a mapping/);
  });

  it("OCHAMI_AGENT=off: the API alone, with nothing set for an agent that does not run", () => {
    const p = plan({ OCHAMI_AGENT: "off", OCHAMI_DHCP_INTERFACE: "eth1" });
    expect(p.agentEnabled).toBe(false);
    expect(p.workerVars).toEqual({});
  });
});

describe("npm start's HTTPS plan", () => {
  const tlsPlan = (env: NodeJS.ProcessEnv, o: Partial<PlanInput> = {}) => plan({ OCHAMI_TLS: "", ...env }, o);

  it("first start: on, port 8443 on HOST, for the host name, localhost and 127.0.0.1, built-in CA, 24 h renewed 8 h before", () => {
    const p = tlsPlan({});
    expect(p.tls).toEqual({
      enabled: true,
      host: "127.0.0.1",
      port: 8443,
      names: [...new Set([hostname(), "localhost", "127.0.0.1"])],
      source: { kind: "builtin", lifetimeMs: 86_400_000, renewBeforeMs: 28_800_000 },
      caFile: undefined,
    });
    // The front forwards the client's address: the API believes it from loopback with the secret.
    expect(p.workerVars).toEqual({ OCHAMI_TRUSTED_PROXIES: "127.0.0.1", OCHAMI_PROXY_SECRET: STATE_SECRET });
  });

  it("names the boot address when DHCP is on, and a specific OCHAMI_TLS_HOST; never a wildcard", () => {
    expect(tlsPlan({ OCHAMI_DHCP_INTERFACE: "eth1" }).tls.names).toContain("10.64.9.1");
    expect(tlsPlan({ OCHAMI_TLS_HOST: "10.1.0.5" }).tls.names).toContain("10.1.0.5");
    const wild = tlsPlan({ OCHAMI_TLS_HOST: "0.0.0.0" }).tls;
    expect(wild.host).toBe("0.0.0.0");
    expect(wild.names).not.toContain("0.0.0.0");
    expect(tlsPlan({ OCHAMI_TLS_NAMES: "head.cluster, 10.1.0.5" }).tls.names).toEqual(["head.cluster", "10.1.0.5"]);
  });

  it("durations in the project's grammar; the site's files; ACME (DNS names only by default)", () => {
    expect(tlsPlan({ OCHAMI_TLS_CERT_LIFETIME: "1m", OCHAMI_TLS_RENEW_BEFORE: "40s" }).tls.source).toEqual({
      kind: "builtin",
      lifetimeMs: 60_000,
      renewBeforeMs: 40_000,
    });
    expect(tlsPlan({ OCHAMI_TLS_CERT_FILE: "/etc/ssl/head.crt", OCHAMI_TLS_KEY_FILE: "/etc/ssl/head.key" }).tls.source).toEqual({
      kind: "files",
      certFile: "/etc/ssl/head.crt",
      keyFile: "/etc/ssl/head.key",
    });
    const acme = tlsPlan({ OCHAMI_TLS_ACME_DIRECTORY: "https://ca.site:9000/acme/acme/directory", OCHAMI_TLS_ACME_HTTP_PORT: "5002" }).tls;
    expect(acme.source).toMatchObject({ kind: "acme", directoryUrl: "https://ca.site:9000/acme/acme/directory", httpPort: 5002 });
    expect(acme.names).toEqual([hostname()]);
  });

  it("refuses bad values up front, naming the variable", () => {
    const bad: Array<[NodeJS.ProcessEnv, RegExp]> = [
      [{ OCHAMI_TLS: "sometimes" }, /OCHAMI_TLS must be on or off/],
      [{ OCHAMI_TLS_PORT: "https" }, /OCHAMI_TLS_PORT must be a port number/],
      [{ OCHAMI_TLS_CERT_LIFETIME: "forever" }, /OCHAMI_TLS_CERT_LIFETIME must be a number of seconds, or a duration/],
      [{ OCHAMI_TLS_CERT_LIFETIME: "5s" }, /OCHAMI_TLS_CERT_LIFETIME must be from 10s to 397d/],
      [{ OCHAMI_TLS_CERT_LIFETIME: "1h", OCHAMI_TLS_RENEW_BEFORE: "1h" }, /OCHAMI_TLS_RENEW_BEFORE must be shorter/],
      [{ OCHAMI_TLS_CERT_FILE: "/a.crt" }, /OCHAMI_TLS_CERT_FILE and OCHAMI_TLS_KEY_FILE go together/],
      [{ OCHAMI_TLS_CERT_FILE: "/a", OCHAMI_TLS_KEY_FILE: "/b", OCHAMI_TLS_ACME_DIRECTORY: "https://x/d" }, /exclude each other/],
      [{ OCHAMI_TLS_CERT_FILE: "/a", OCHAMI_TLS_KEY_FILE: "/b", OCHAMI_TLS_CERT_LIFETIME: "1h" }, /applies to the built-in CA only/],
      [{ OCHAMI_TLS_ACME_DIRECTORY: "http://ca.site/directory" }, /must be an https URL/],
      [{ OCHAMI_TLS_NAMES: "head.cluster, not_a name!" }, /'not_a' is neither a DNS name nor an IP address/],
    ];
    for (const [env, message] of bad) {
      expect(() => tlsPlan(env), JSON.stringify(env)).toThrow(ConfigError);
      expect(() => tlsPlan(env), JSON.stringify(env)).toThrow(message);
    }
  });
});
