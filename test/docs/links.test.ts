import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/** The repository's documentation: the README, docs/ and bench/README.md. */
const root = path.resolve(import.meta.dirname, "../..");
const files = ["README.md", "bench/README.md", ...readdirSync(path.join(root, "docs")).map((f) => `docs/${f}`)].filter((f) =>
  f.endsWith(".md"),
);

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens; repeats get -1, -2, … */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const m = !fenced && /^#{1,6} (.*)$/.exec(line);
    if (!m) continue;
    const base = m[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n ? `${base}-${n}` : base);
  }
  return anchors;
}

/** Relative links `[text](target)` outside code blocks and inline code. */
function linksOf(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^[a-z]+:/i.test(t));
}

describe("documentation links", () => {
  it("the README is a short front door", () => {
    expect(readFileSync(path.join(root, "README.md"), "utf8").split("\n").length).toBeLessThanOrEqual(200);
  });

  it("every relative link and anchor resolves", () => {
    const broken: string[] = [];
    for (const file of files) {
      for (const link of linksOf(readFileSync(path.join(root, file), "utf8"))) {
        const [target, anchor] = link.split("#");
        const resolved = target ? path.resolve(path.dirname(path.join(root, file)), target) : path.join(root, file);
        if (!existsSync(resolved)) {
          broken.push(`${file}: ${link} (no such file)`);
          continue;
        }
        if (anchor && resolved.endsWith(".md") && !anchorsOf(readFileSync(resolved, "utf8")).has(anchor))
          broken.push(`${file}: ${link} (no such heading)`);
      }
    }
    expect(files.length).toBeGreaterThan(8);
    expect(broken).toEqual([]);
  });
});
