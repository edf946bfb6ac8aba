/**
 * Splits a JSON document arriving in chunks into the elements of one array — the root array, or
 * the array under `key` in a root object (`{"Components":[...]}`) — and hands each element's text
 * to a callback.
 *
 * Why: SMD answers the inventory with one large document (about 20 MB of EthernetInterfaces and
 * 16 MB of Components for 100,000 nodes). `await res.json()` keeps the whole text and every parsed
 * object alive at once, which alone pushed the agent past 350 MB RSS; parsing element by element
 * while the bytes stream in keeps only one element in memory and yields to DHCP between chunks.
 * The scanner only tracks strings, escapes and nesting; each element is then parsed by JSON.parse,
 * so value syntax is still checked by the engine. (stream-json and similar packages build a token
 * object per value, which is several times slower for this one job.)
 */
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

export class JsonArrayStream {
  private depth = 0;
  private inString = false;
  private escape = false;
  /** Depth inside the target array (1 for a root array, 2 for a member of the root object), or 0. */
  private targetDepth = 0;
  private done = false;
  private found = false;
  private parts: Buffer[] = [];
  // Member names of the root object, to find `key`.
  private expectKey = false;
  private keyParts: number[] | undefined;
  private lastKey = "";
  private rootIsObject = false;

  constructor(
    private readonly key: string | undefined,
    private readonly onElement: (text: string) => void,
  ) {}

  push(chunk: Uint8Array): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = this.targetDepth && this.depth >= this.targetDepth ? 0 : -1;
    for (let i = 0; i < buf.length; i++) {
      if (this.inString && !this.keyParts) {
        // Fast path: jump to the closing quote (most bytes are inside strings).
        if (this.escape) {
          this.escape = false;
          continue; // this byte is escaped
        }
        const end = this.closingQuote(buf, i);
        if (end < 0) {
          i = buf.length;
          break;
        }
        this.inString = false;
        i = end;
        continue;
      }
      const b = buf[i];
      if (this.inString) {
        if (!(b === QUOTE && !this.escape)) this.keyParts!.push(b);
        if (this.escape) this.escape = false;
        else if (b === BACKSLASH) this.escape = true;
        else if (b === QUOTE) {
          this.inString = false;
          this.lastKey = Buffer.from(this.keyParts!).toString("utf8");
          this.keyParts = undefined;
        }
        continue;
      }
      if (b === QUOTE) {
        this.inString = true;
        if (this.rootIsObject && this.depth === 1 && this.expectKey) this.keyParts = [];
        continue;
      }
      if (this.done) {
        if (!isSpace(b)) throw new Error("unexpected data after the JSON document");
        continue;
      }
      const inTarget = this.targetDepth !== 0 && this.depth === this.targetDepth;
      if (inTarget && (b === COMMA || b === CLOSE_ARR)) {
        this.emit(buf, start, i);
        start = i + 1;
        if (b === CLOSE_ARR) {
          this.targetDepth = 0;
          this.depth--;
          if (this.depth === 0) this.done = true;
          start = -1;
        }
        continue;
      }
      if (b === OPEN_OBJ || b === OPEN_ARR) {
        if (this.depth === 0) {
          this.rootIsObject = b === OPEN_OBJ;
          this.expectKey = this.rootIsObject;
          if (b === OPEN_ARR && this.key === undefined) {
            this.targetDepth = 1;
            this.found = true;
            start = i + 1;
          }
        } else if (
          this.depth === 1 &&
          this.rootIsObject &&
          b === OPEN_ARR &&
          this.key !== undefined &&
          this.lastKey === this.key &&
          !this.found
        ) {
          this.targetDepth = 2;
          this.found = true;
          start = i + 1;
        }
        this.depth++;
      } else if (b === CLOSE_OBJ || b === CLOSE_ARR) {
        if (this.depth === 0) throw new Error("unbalanced JSON: closing bracket at the top level");
        this.depth--;
        if (this.depth === 0) this.done = true;
      } else if (this.depth === 1 && this.rootIsObject) {
        if (b === COMMA) this.expectKey = true;
        else if (b === COLON) this.expectKey = false;
      }
    }
    if (start >= 0 && this.targetDepth && start < buf.length) this.parts.push(Buffer.from(buf.subarray(start)));
  }

  /**
   * Index of the quote that ends the string being read from `from` on, or -1 when the string goes
   * on past this chunk (then `escape` records whether the chunk ended inside an escape).
   */
  private closingQuote(buf: Buffer, from: number): number {
    let at = from;
    for (;;) {
      const q = buf.indexOf(QUOTE, at);
      const stop = q < 0 ? buf.length : q;
      let backslashes = 0;
      for (let k = stop - 1; k >= from && buf[k] === BACKSLASH; k--) backslashes++;
      if (q < 0) {
        this.escape = backslashes % 2 === 1;
        return -1;
      }
      if (backslashes % 2 === 0) return q;
      at = q + 1;
    }
  }

  private emit(buf: Buffer, start: number, end: number): void {
    const tail = start >= 0 ? buf.subarray(start, end) : Buffer.alloc(0);
    const text = (this.parts.length ? Buffer.concat([...this.parts, tail]) : tail).toString("utf8").trim();
    this.parts = [];
    if (text) this.onElement(text);
  }

  /** Throws when the document ended early or had no such array. */
  end(): void {
    if (this.inString || this.depth !== 0 || !this.done) throw new Error("JSON document is truncated");
    if (!this.found) throw new Error(this.key ? `no "${this.key}" array in the response` : "response is not a JSON array");
  }
}
