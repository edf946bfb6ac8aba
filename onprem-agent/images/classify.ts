/** Maps a served path to the boot step it represents, by glob rules on the file name. Pure. */
import path from "node:path";
import type { ServedEndpoint } from "../service-deps";

export interface ClassifyRule {
  endpoint: "kernel" | "initrd" | "rootfs";
  match: string[];
}

/**
 * Only `*` and `?` are needed for file-name patterns, so they are translated here instead of
 * pulling in a glob library.
 */
function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "i");
}

export function classifier(rules: readonly ClassifyRule[]): (servedPath: string) => ServedEndpoint {
  const compiled = rules.map((r) => ({ endpoint: r.endpoint, patterns: r.match.map(globToRegExp) }));
  return (servedPath) => {
    const name = path.posix.basename(servedPath);
    return compiled.find((r) => r.patterns.some((p) => p.test(name)))?.endpoint ?? "image";
  };
}
