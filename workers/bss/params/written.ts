import { z } from "zod";
import { compareIdentifiers, type Identifier } from "./model";

/**
 * What a successful /bootparameters write answers: upstream's status, JSON content type and
 * (POST/PUT) referral token, with a body upstream's is without (upstream answers an empty body,
 * which its clients, `ochami` included, never read): which nodes the write changed, what it
 * stored, and which identifiers name no Node in SMD.
 */

/** Identifiers in the BootParams shape: `hosts` (xnames, roles, Default), `macs`, `nids`; empty lists left out. */
function identifierLists(ids: Identifier[]) {
  const sorted = [...ids].sort(compareIdentifiers);
  const hosts = sorted.filter((i) => i.kind === "xname" || i.kind === "role" || i.kind === "default").map((i) => i.key);
  const macs = sorted.filter((i) => i.kind === "mac").map((i) => i.key);
  const nids = sorted.filter((i) => i.kind === "nid").map((i) => Number(i.key));
  return { ...(hosts.length ? { hosts } : {}), ...(macs.length ? { macs } : {}), ...(nids.length ? { nids } : {}) };
}

export interface WriteOutcome {
  /** The SMD Nodes whose boot the request changed. */
  nodes: string[];
  /** The stored identifiers it wrote (DELETE: removed). */
  identifiers: Identifier[];
  /** Identifiers of the request that name no Node in SMD. */
  unknown: Identifier[];
}

export function written(status: 200 | 201, referral: boolean, outcome: WriteOutcome): Response {
  const headers: Record<string, string> = { "content-type": "application/json; charset=UTF-8" };
  if (referral) headers["BSS-Referral-Token"] = crypto.randomUUID();
  const body = {
    nodes: outcome.nodes,
    identifiers: identifierLists(outcome.identifiers),
    ...(outcome.unknown.length ? { unknown: identifierLists(outcome.unknown) } : {}),
  };
  return new Response(JSON.stringify(body), { status, headers });
}

const IdentifierLists = z.object({
  hosts: z.array(z.string()).optional(),
  macs: z.array(z.string()).optional(),
  nids: z.array(z.int()).optional(),
});

export const WriteReport = z
  .object({
    nodes: z.array(z.string()).meta({
      description: "SMD Nodes whose boot this request changed: they boot what it wrote (DELETE: they booted what it removed)",
      example: ["x1000c0s0b0n0"],
    }),
    identifiers: IdentifierLists.meta({
      description: "the stored identifiers written (DELETE: removed); a MAC or NID of a Node in SMD is stored as that node's xname",
    }),
    unknown: IdentifierLists.optional().meta({
      description: "identifiers of the request that name no Node in SMD: stored as given, they apply once SMD has such a node",
    }),
  })
  .meta({ id: "BootParametersWritten", description: "what a write changed" });
