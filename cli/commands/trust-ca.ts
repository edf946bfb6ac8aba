import { X509Certificate } from "node:crypto";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline/promises";
import { Command } from "commander";
import { NetworkError, request } from "../../shared/api-client/http";
import { clusterIndex, editConfigFile, readConfigFile } from "../config/files";
import { UsageError } from "../errors";
import { act, examples, type Run } from "./define";

/**
 * `ochami config cluster trust-ca <name>`: fetch the cluster's CA certificate from <uri>/ca.pem,
 * have the admin compare its fingerprint with the one `npm start` printed (or pass it with
 * --fingerprint), check that the server's certificate is really that CA's, save it next to the
 * configuration file and set cluster.cacert to it (upstream's key; --cacert overrides it per run).
 *
 * The first fetch cannot verify anything (there is no CA yet): the fingerprint comparison is what
 * makes the download trustworthy, so it is never skipped; a script passes the fingerprint.
 */
interface TrustOptions {
  fingerprint?: string;
}

/** "AB:CD:…", "abcd…", "SHA256:AB:CD…" → "ABCD…". */
const normalize = (fp: string) =>
  fp
    .trim()
    .replace(/^sha-?256[:=]?\s*/i, "")
    .replace(/[:\s]/g, "")
    .toUpperCase();

export function trustCaCommand(targetFile: (run: Run) => string): Command {
  const cmd = act<TrustOptions, [name: string]>(
    new Command("trust-ca")
      .description("fetch the cluster's CA certificate (<uri>/ca.pem), compare its fingerprint, and pin it as cluster.cacert")
      .argument("<name>", "cluster name (its cluster.uri must be https)")
      .option("--fingerprint <sha256>", "the CA's SHA-256 fingerprint as `npm start` printed it (else asked on the terminal)"),
    async (run) => {
      const name = run.args[0];
      const file = targetFile(run);
      const cfg = readConfigFile(file);
      const entry = (cfg.clusters ?? []).find((c) => c.name === name);
      if (!entry)
        throw new UsageError(
          `no cluster named '${name}' in ${file} (add it: ochami config cluster set ${name} cluster.uri https://<head node>:8443)`,
        );
      const uri = entry.cluster?.uri;
      if (!uri || !/^https:\/\//i.test(uri))
        throw new UsageError(`cluster ${name}: cluster.uri must be an https URL to pin a CA for it, got '${uri ?? "(unset)"}'`);
      const caUrl = `${new URL(uri).origin}/ca.pem`;
      const timeoutMs = run.ctx.timeoutMs();

      // Unverified on purpose: the fingerprint check below is what makes this download trusted.
      const pem = await fetchText(caUrl, { insecure: true }, timeoutMs);
      let ca: X509Certificate;
      try {
        ca = new X509Certificate(pem);
      } catch {
        throw new UsageError(`${caUrl} did not answer with a PEM certificate`);
      }
      if (!ca.ca) throw new UsageError(`${caUrl} holds a certificate that is not a CA's (${ca.subject.replace(/\n/g, ", ")})`);
      const fingerprint = ca.fingerprint256;

      if (run.opts.fingerprint !== undefined) {
        if (normalize(run.opts.fingerprint) !== normalize(fingerprint))
          throw new UsageError(
            `the CA at ${caUrl} has SHA-256 fingerprint ${fingerprint}, not ${run.opts.fingerprint}: not trusted (someone between you and the head node, or another head node)`,
          );
      } else {
        process.stderr.write(`CA certificate at ${caUrl}:\n  subject ${ca.subject.replace(/\n/g, ", ")}\n  SHA-256 ${fingerprint}\n`);
        if (!process.stdin.isTTY)
          throw new UsageError(
            "compare that fingerprint with the one `npm start` printed on the head node, then run again with --fingerprint <sha256> (standard input is not a terminal to ask on)",
          );
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        const answer = await rl.question("Is it the fingerprint the head node printed? [y/N]: ").finally(() => rl.close());
        if (!/^y(es)?$/i.test(answer.trim())) throw new UsageError("not trusted: the fingerprint was not confirmed");
      }

      // The server must present a certificate of this CA for the cluster's own name.
      try {
        await fetchText(caUrl, { ca: pem }, timeoutMs);
      } catch (err) {
        throw new UsageError(`${uri} does not present a certificate of this CA for its name: ${(err as Error).message}`);
      }

      const saved = path.join(path.dirname(path.resolve(file)), `${name}-ca.pem`);
      mkdirSync(path.dirname(saved), { recursive: true });
      writeFileSync(saved, ca.toString());
      chmodSync(saved, 0o644);
      editConfigFile(file, (doc) => doc.setIn(["clusters", clusterIndex(doc, name), "cluster", "cacert"], saved));
      process.stderr.write(`cluster ${name} trusts the CA in ${saved} (SHA-256 ${fingerprint}): cluster.cacert set in ${file}\n`);
    },
  );
  examples(cmd, [
    "ochami config cluster set --default demo cluster.uri https://head.cluster:8443",
    "ochami config cluster trust-ca demo --fingerprint 1F:38:7B:...:45:43",
  ]);
  return cmd;
}

async function fetchText(url: string, tls: { ca?: string; insecure?: boolean }, timeoutMs: number): Promise<string> {
  try {
    const res = await request(url, { timeoutMs, tls });
    if (res.status !== 200) throw new UsageError(`${url} answered ${res.status} ${res.statusText}: ${res.text().slice(0, 200)}`);
    return res.text();
  } catch (err) {
    if (err instanceof NetworkError) throw new UsageError(`${url}: ${err.message}`);
    throw err;
  }
}
