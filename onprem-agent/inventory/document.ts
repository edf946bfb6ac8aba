/**
 * One inventory document (a JSON array, or the array under `key`) read as it streams in, for a
 * refresh that usually finds nothing changed: the bytes are hashed, and kept (up to `keepBytes`)
 * rather than parsed, so that an unchanged document costs a hash instead of a JSON.parse per
 * element and a new map (at 10,000 nodes that parse was most of the agent's CPU and garbage
 * between packets at storm rates, with a 5 s refresh). A document larger than `keepBytes` is
 * parsed element by element while it streams, as before, so memory stays bounded at any size;
 * the caller passes 0 when the document cannot be unchanged (no copy yet) or was too large last
 * time, so a large inventory is streamed from its first byte and costs no more memory than before.
 */
import { createHash, type Hash } from "node:crypto";
import { JsonArrayStream } from "./json-array-stream";

export class InventoryDocument {
  private readonly hash: Hash = createHash("sha256");
  private readonly splitter: JsonArrayStream;
  private kept: Buffer[] = [];
  private keptBytes = 0;
  private parsing = false;
  private bad = 0;
  /** Bytes received. */
  size = 0;
  digest = "";

  constructor(
    readonly path: string,
    key: string | undefined,
    onItem: (item: unknown) => void,
    /** 0: parse as it streams from the first byte. */
    private readonly keepBytes: number,
    /** Called once, before the first element is parsed (a document parsed after another needs it parsed first). */
    private readonly beforeParse: () => void = () => {},
  ) {
    this.splitter = new JsonArrayStream(key, (text) => {
      try {
        onItem(JSON.parse(text));
      } catch {
        this.bad++;
      }
    });
  }

  /** Whether the document is still held unparsed (parse() not called, not streamed). */
  get unparsed(): boolean {
    return !this.parsing;
  }

  push(chunk: Buffer): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    if (!this.parsing && this.keptBytes + chunk.length <= this.keepBytes) {
      this.kept.push(chunk);
      this.keptBytes += chunk.length;
      return;
    }
    // Too large to keep: parse what is held, and the rest as it comes.
    this.startParsing();
    this.splitter.push(chunk);
  }

  /** All bytes arrived. */
  finish(): void {
    this.digest = this.hash.digest("base64");
  }

  /** Parses the held bytes (if any), checking the document is whole; throws otherwise. */
  parse(): void {
    this.startParsing();
    this.splitter.end();
    if (this.bad) throw new Error(`GET ${this.path}: ${this.bad} elements are not valid JSON`);
  }

  private startParsing(): void {
    if (this.parsing) return;
    this.parsing = true;
    this.beforeParse();
    const chunks = this.kept;
    this.kept = [];
    for (const chunk of chunks) this.splitter.push(chunk);
  }
}
