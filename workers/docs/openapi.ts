import type { OpenAPIHono } from "@hono/zod-openapi";
import { decide, PUBLIC } from "../auth/policy";
import { SCOPES } from "../auth/scopes";
import type { AppEnv } from "../env";
import { VERSION } from "../version";

/**
 * The API described: every route registered through workers/http/route.ts, as OpenAPI 3.1, with
 * the access each operation needs from the one policy table (workers/auth/policy.ts), so the
 * document cannot disagree with the gate.
 */

const TAGS = [
  { name: "SMD", description: "State Management Database: components, interfaces, groups, Redfish endpoints (/hsm/v2)" },
  { name: "BSS", description: "Boot Script Service: boot parameters and iPXE scripts (/boot/v1, alias /apis/bss/boot/v1)" },
  { name: "Boot history", description: "every step of every boot: DHCP, TFTP, bootscript, kernel, initrd, cloud-init" },
  { name: "cloud-init", description: "NoCloud data for nodes, and its administration (/cloud-init)" },
  { name: "Auth", description: "the token issuer (OAuth 2.0 client credentials), its keys and clients" },
  { name: "Docs", description: "this description" },
];

const SECURITY_SCHEME = "oauth2";

export type OpenApiDocument = ReturnType<OpenAPIHono["getOpenAPI31Document"]>;
type Operation = { security?: Array<Record<string, string[]>>; description?: string; [key: string]: unknown };

/** The document for clients reaching the API at `origin` (the token URL must be absolute). */
export function openApiDocument(app: OpenAPIHono<AppEnv>, origin: string): OpenApiDocument {
  const doc = app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "ochami-edge API",
      version: VERSION,
      description:
        "OpenCHAMI's SMD, BSS and cloud-init APIs and our token issuer, on one origin. Compatible with OpenCHAMI's clients " +
        "(ochami, coresmd, iPXE, cloud-init); where upstream differs, the route's description says so. Errors are RFC 7807 " +
        "problem details. Operations that need a token name its scope; `admin` holds every scope.",
    },
    servers: [{ url: origin }],
    tags: TAGS,
  });
  doc.components = {
    ...doc.components,
    securitySchemes: {
      [SECURITY_SCHEME]: {
        type: "oauth2",
        description: "Bearer tokens from this API's issuer (or a configured external one). Send `Authorization: Bearer <token>`.",
        flows: { clientCredentials: { tokenUrl: `${origin}/token`, scopes: { ...SCOPES } } },
      },
    },
  };
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const sample = path.replace(/\{[^}]+\}/g, "x");
    for (const [method, operation] of Object.entries(item as Record<string, Operation>)) {
      const { access } = decide(method.toUpperCase(), sample);
      operation.security = access === PUBLIC ? [] : [{ [SECURITY_SCHEME]: [access] }];
      operation["x-access"] = access;
    }
  }
  return doc;
}
