import { describe, expect, it } from "vitest";
import { createApp } from "../../workers/app";
import { compilePattern, decide, POLICY } from "../../workers/auth/policy";
import { concreteRoutes, samplePath } from "./auth-routes";

describe("route policy table", () => {
  it("keeps upstream's public routes public (SMD's health probes and collections, BSS scripts, cloud-init documents)", () => {
    const publicRoutes: [string, string][] = [
      ["GET", "/hsm/v2/service/ready"],
      ["GET", "/hsm/v2/service/liveness"],
      ["GET", "/hsm/v2/service/values"],
      ["GET", "/hsm/v2/service/values/subrole"],
      ["GET", "/hsm/v2/State/Components"],
      ["HEAD", "/hsm/v2/State/Components"],
      ["GET", "/hsm/v2/State/Components/"],
      ["GET", "/hsm/v2/Inventory/EthernetInterfaces"],
      ["GET", "/hsm/v2/Inventory/EthernetInterfaces/"],
      ["GET", "/boot/v1/bootscript"],
      ["GET", "/apis/bss/boot/v1/bootscript"],
      ["GET", "/boot/v1/hosts"],
      ["GET", "/boot/v1/dumpstate"],
      ["GET", "/boot/v1/endpoint-history"],
      ["GET", "/boot/v1/service/status"],
      ["POST", "/boot/v1/service/status/all"],
      ["GET", "/cloud-init/meta-data"],
      ["GET", "/cloud-init/user-data"],
      ["GET", "/cloud-init/vendor-data"],
      ["GET", "/cloud-init/compute.yaml"],
      ["POST", "/token"],
      ["POST", "/oauth2/token"],
      ["GET", "/keys"],
      ["GET", "/.well-known/jwks.json"],
      ["GET", "/.well-known/openid-configuration"],
    ];
    for (const [method, path] of publicRoutes) expect(decide(method, path).access, `${method} ${path}`).toBe("public");
  });

  it("protects everything else with the service's read or write scope", () => {
    const protectedRoutes: [string, string, string][] = [
      ["GET", "/hsm/v2/State/Components/x1000c0s0b0n0", "smd:read"],
      ["POST", "/hsm/v2/State/Components", "smd:write"],
      ["DELETE", "/hsm/v2/State/Components", "smd:write"],
      ["POST", "/hsm/v2/State/Components/Query", "smd:read"],
      ["GET", "/hsm/v2/Inventory/EthernetInterfaces/a4bf0138ee65", "smd:read"],
      ["POST", "/hsm/v2/Inventory/EthernetInterfaces", "smd:write"],
      ["GET", "/hsm/v2/Inventory/RedfishEndpoints", "smd:read"], // BSS's "is auth on?" probe: must be a 401 without a token
      ["POST", "/hsm/v2/service/ready", "smd:write"],
      ["GET", "/boot/v1/bootparameters", "bss:read"],
      ["HEAD", "/boot/v1/bootparameters", "bss:read"],
      ["POST", "/boot/v1/bootparameters", "bss:write"],
      ["PUT", "/apis/bss/boot/v1/bootparameters", "bss:write"],
      ["PATCH", "/boot/v1/bootparameters", "bss:write"],
      ["DELETE", "/boot/v1/bootparameters", "bss:write"],
      ["GET", "/boot/v1", "bss:read"],
      ["POST", "/boot/v1/hosts", "bss:write"],
      ["GET", "/cloud-init/admin/groups", "cloud-init:read"],
      ["PUT", "/cloud-init/admin/groups/compute", "cloud-init:write"],
      ["POST", "/cloud-init/admin/cluster-defaults", "cloud-init:write"],
      ["GET", "/cloud-init/admin/impersonation/x1/meta-data", "cloud-init:read"],
      ["GET", "/auth/clients", "admin"],
      ["DELETE", "/auth/clients/abc", "admin"],
    ];
    for (const [method, path, scope] of protectedRoutes) expect(decide(method, path).access, `${method} ${path}`).toBe(scope);
  });

  it("denies by default: an unlisted route needs admin, never public", () => {
    for (const [method, path] of [
      ["GET", "/"],
      ["GET", "/nowhere"],
      ["GET", "/hsm/v3/State/Components"],
      ["GET", "/HSM/v2/State/Components"], // paths are case-sensitive, as the router's
      ["GET", "/hsm/v2State/Components"],
      ["OPTIONS", "/hsm/v2/State/Components"],
      ["GET", "/cloud-init-secure/meta-data"],
    ]) {
      const d = decide(method, path);
      expect(d.access, `${method} ${path}`).toBe("admin");
      expect(d.rule, `${method} ${path}`).toBeUndefined();
    }
  });

  it("matches path patterns segment by segment", () => {
    const one = compilePattern("/a/:id");
    expect(one.test("/a/x")).toBe(true);
    expect(one.test("/a/")).toBe(false);
    expect(one.test("/a/x/y")).toBe(false);
    const suffix = compilePattern("/c/:group.yaml");
    expect(suffix.test("/c/compute.yaml")).toBe(true);
    expect(suffix.test("/c/computeXyaml")).toBe(false);
    expect(suffix.test("/c/.yaml")).toBe(false);
    expect(suffix.test("/c/a/b.yaml")).toBe(false);
    const rest = compilePattern("/s/*");
    expect(rest.test("/s/a")).toBe(true);
    expect(rest.test("/s/a/b/c")).toBe(true);
    expect(rest.test("/s")).toBe(false);
    expect(rest.test("/s/")).toBe(false);
    expect(() => compilePattern("/a/*/b")).toThrow(/last segment/);
  });

  it("every rule is reachable: an earlier rule never shadows a later one", () => {
    for (const rule of POLICY) {
      const methods = rule.methods === "*" ? ["GET", "POST", "PUT", "PATCH", "DELETE"] : rule.methods;
      for (const m of methods) expect(decide(m, samplePath(rule.path)).rule, `${m} ${rule.path}`).toBe(rule);
    }
  });

  it("every route the app registers is covered by an explicit rule (authors: add yours to policy.ts)", () => {
    const routes = concreteRoutes(createApp());
    expect(routes.length).toBeGreaterThan(10);
    const uncovered = routes.filter((r) => decide(r.method, r.path).rule === undefined).map((r) => `${r.method} ${r.pattern}`);
    expect(uncovered).toEqual([]);
  });
});
