import { HttpProblem } from "../shared/problem";
import { op, type Router, resource } from "./http/route";
import { problems, text } from "./http/wire";

/**
 * The CA behind the API's HTTPS certificate (OCHAMI_CLUSTER_CA), for those who must trust it:
 *  - GET /ca.pem, public, for admins and tools: `ochami config cluster trust-ca` fetches it and
 *    pins it after the admin compared its fingerprint with the one `npm start` printed. A CA
 *    certificate is public; fetched over plain HTTP or unverified HTTPS it proves nothing by
 *    itself, which is why the fingerprint is compared.
 *  - the nodes, through cloud-init: vendor-data includes CA_CERTS_FILE first, a cloud-config with
 *    `ca_certs: trusted:`, so a node's own HTTPS calls to the head node verify. Upstream's
 *    cloud-init server has no such document; its name has capitals, which SMD group labels never
 *    have, so it cannot shadow a group's file.
 */
export const CA_CERTS_FILE = "CA-certs.yaml";

export function registerClusterCaRoutes(app: Router) {
  resource(app, "/ca.pem", {
    get: op(
      {
        summary: "The CA certificate of this API's HTTPS certificate (PEM)",
        description: "Compare its SHA-256 fingerprint with the one the head node printed before trusting it.",
        tags: ["TLS"],
        responses: { 200: text("PEM certificate(s)", "application/x-pem-file"), ...problems(404) },
      },
      (c) => {
        const pem = c.var.config.clusterCa;
        if (!pem)
          throw new HttpProblem(
            404,
            "no cluster CA is configured here (OCHAMI_CLUSTER_CA): the HTTPS certificate comes from the site's CA",
          );
        return new Response(pem, { headers: { "content-type": "application/x-pem-file", "cache-control": "no-cache" } });
      },
    ),
  });
}

/** The cloud-config that makes a node trust the cluster CA (cloud-init's cc_ca_certs module). */
export function caCertsCloudConfig(pem: string): string {
  const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const items = certs.map(
    (c) =>
      `    - |\n${c
        .split("\n")
        .map((l) => `      ${l.trim()}`)
        .join("\n")}\n`,
  );
  return `#cloud-config\nca_certs:\n  trusted:\n${items.join("")}`;
}
