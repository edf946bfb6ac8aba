import { describe, expect, it } from "vitest";
import { InventoryDocument } from "../../onprem-agent/inventory/document";
import { JsonArrayStream } from "../../onprem-agent/inventory/json-array-stream";
import { seededRandom } from "../support/random";

function split(doc: string, key: string | undefined, chunkSizes: () => number): unknown[] {
  const out: unknown[] = [];
  const s = new JsonArrayStream(key, (t) => out.push(JSON.parse(t)));
  const bytes = Buffer.from(doc);
  for (let i = 0; i < bytes.length; ) {
    const n = Math.max(1, chunkSizes());
    s.push(bytes.subarray(i, i + n));
    i += n;
  }
  s.end();
  return out;
}

describe("streamed JSON array splitting", () => {
  const rnd = seededRandom(3);
  const tricky = ['a"b', "back\\slash", "\\", '\\"', "ü ünïcode €", "[{,:}]", "", '"'];
  const value = (d: number): unknown => {
    const k = Math.floor(rnd() * (d > 2 ? 4 : 7));
    if (k === 0) return tricky[Math.floor(rnd() * tricky.length)];
    if (k === 1) return Math.floor(rnd() * 1e6) / 7;
    if (k === 2) return rnd() < 0.5 ? null : true;
    if (k === 3) return `s${Math.floor(rnd() * 1000)}`;
    if (k === 4) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(d + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(rnd() * 4) }, (_, i) => [tricky[i % tricky.length] + i, value(d + 1)]));
  };

  it("yields exactly the elements JSON.parse sees, whatever the chunk boundaries", () => {
    for (let round = 0; round < 200; round++) {
      const items = Array.from({ length: Math.floor(rnd() * 20) }, () => value(0));
      const doc = JSON.stringify(items, null, round % 3 === 0 ? 2 : undefined);
      expect(split(doc, undefined, () => Math.floor(rnd() * 9))).toEqual(items);
      const wrapped = JSON.stringify({ 'Some"Key': [1, 2], Components: items, after: { Components: [9] } });
      expect(split(wrapped, "Components", () => Math.floor(rnd() * 40))).toEqual(items);
    }
  });

  it("rejects truncated documents, missing arrays and trailing junk", () => {
    expect(() => split('[{"a":1},{"b"', undefined, () => 4)).toThrow(/truncated/);
    expect(() => split('{"Other":[1]}', "Components", () => 4)).toThrow(/no "Components" array/);
    expect(() => split('{"a":1}', undefined, () => 4)).toThrow(/not a JSON array/);
    expect(() => split("[1] [2]", undefined, () => 100)).toThrow(/after the JSON document/);
    expect(() => split('["abc', undefined, () => 1)).toThrow(/truncated/);
  });
});

describe("inventory documents: kept unparsed up to a size, hashed", () => {
  const doc = JSON.stringify({ Components: Array.from({ length: 50 }, (_, i) => ({ ID: `x1c0s${i}b0n0`, NID: i })) });
  const read = (keepBytes: number, chunk = 100) => {
    const items: unknown[] = [];
    let before = 0;
    const d = new InventoryDocument(
      "/c",
      "Components",
      (c) => items.push(c),
      keepBytes,
      () => before++,
    );
    const bytes = Buffer.from(doc);
    for (let i = 0; i < bytes.length; i += chunk) d.push(bytes.subarray(i, i + chunk));
    d.finish();
    return { d, items, before: () => before };
  };

  it("a document within the limit is parsed only when asked, one larger as it streams; same digest for the same bytes", () => {
    const small = read(1 << 20);
    expect(small.d.unparsed).toBe(true);
    expect(small.items).toHaveLength(0);
    small.d.parse();
    expect(small.items).toHaveLength(50);
    expect(small.before()).toBe(1);

    const large = read(300);
    expect(large.d.unparsed).toBe(false);
    expect(large.items.length).toBeGreaterThan(40); // all but the last chunk's, before parse()
    large.d.parse();
    expect(large.items).toHaveLength(50);
    expect(large.before()).toBe(1);
    expect(large.d.digest).toBe(small.d.digest);
    const streamed = read(0);
    expect(streamed.d.unparsed).toBe(false);
    expect(streamed.before()).toBe(1);
    streamed.d.parse();
    expect(streamed.items).toHaveLength(50);
    expect(streamed.d.size).toBe(Buffer.byteLength(doc));
    expect(read(1 << 20, 7).d.digest).toBe(small.d.digest);
  });

  it("a truncated document or a bad element fails parse()", () => {
    const truncated = new InventoryDocument("/c", "Components", () => {}, 1 << 20);
    truncated.push(Buffer.from(doc.slice(0, -5)));
    truncated.finish();
    expect(() => truncated.parse()).toThrow(/truncated/);
    const bad = new InventoryDocument("/c", undefined, () => {}, 1 << 20);
    bad.push(Buffer.from('[{"a":1},{"a":tru}]'));
    bad.finish();
    expect(() => bad.parse()).toThrow(/1 elements are not valid JSON/);
  });
});
