// A streaming multipart/form-data parser: fed the body chunk by chunk, it hands back part headers and
// body bytes as they arrive, holding at most one chunk plus a delimiter's length. (Request.formData()
// would read the whole upload into memory first; Elysia's multipart parsing uses it.)
import { ApiError } from "../../errors";

export type MultipartEvent =
  | { type: "part"; name: string | null; filename: string | null; contentType: string | null }
  | { type: "data"; bytes: Uint8Array }
  | { type: "end" };

const CRLF = Buffer.from("\r\n");
const HEADER_END = Buffer.from("\r\n\r\n");
/** Part headers and the preamble are small; more than this is not a form. */
const MAX_HEADER_BYTES = 16 * 1024;
const MAX_PREAMBLE_BYTES = 64 * 1024;

const malformed = (why: string) => new ApiError(400, "malformed_body", `Multipart body could not be parsed: ${why}`);

/** The boundary of a `multipart/form-data; boundary=…` content type, or null. */
export function boundaryOf(contentType: string | null): string | null {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType)) return null;
  const match = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return match ? (match[1] ?? match[2])! : null;
}

/** A header parameter (`name="file"`, `filename*=UTF-8''caf%C3%A9.png`), unquoted and decoded. */
function param(header: string, key: string): string | null {
  const extended = new RegExp(`;\\s*${key}\\*\\s*=\\s*([^;]*)`, "i").exec(header);
  if (extended) {
    const m = /^([\w-]*)'[^']*'(.*)$/.exec(extended[1]!.trim());
    if (m) {
      try {
        return decodeURIComponent(m[2]!);
      } catch {}
    }
  }
  const plain = new RegExp(`;\\s*${key}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;]*))`, "i").exec(header);
  if (!plain) return null;
  return plain[1] !== undefined ? plain[1].replace(/\\(.)/g, "$1") : plain[2]!.trim();
}

function parseHeaders(block: Buffer): MultipartEvent & { type: "part" } {
  const headers = new Map<string, string>();
  for (const line of block.toString("utf8").split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const disposition = headers.get("content-disposition") ?? "";
  if (!/^form-data\b/i.test(disposition)) throw malformed("a part without Content-Disposition: form-data");
  return { type: "part", name: param(disposition, "name"), filename: param(disposition, "filename"), contentType: headers.get("content-type") ?? null };
}

export class MultipartParser {
  private readonly delimiter: Buffer;
  // A CRLF is put in front of the body so the first boundary looks like every other one.
  private pending: Buffer = Buffer.from(CRLF);
  private state: "preamble" | "boundary" | "headers" | "body" | "done" = "preamble";
  private seen = 0;

  constructor(boundary: string) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`);
  }

  get done() {
    return this.state === "done";
  }

  /** The events these bytes complete; data events hold views into parser memory, valid until the next call. */
  feed(chunk: Uint8Array): MultipartEvent[] {
    if (this.state === "done") return []; // the epilogue is ignored
    const events: MultipartEvent[] = [];
    this.pending = this.joined(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), events);
    for (;;) {
      const buf = this.pending;
      if (this.state === "preamble" || this.state === "body") {
        const at = buf.indexOf(this.delimiter);
        if (at === -1) {
          // Keep what could be the start of a delimiter split across chunks.
          const keep = Math.min(buf.length, this.delimiter.length - 1);
          const emit = buf.subarray(0, buf.length - keep);
          if (this.state === "body" && emit.length) events.push({ type: "data", bytes: emit });
          if (this.state === "preamble" && (this.seen += emit.length) > MAX_PREAMBLE_BYTES) throw malformed("no boundary found");
          this.pending = buf.subarray(buf.length - keep);
          return events;
        }
        if (this.state === "body") {
          if (at > 0) events.push({ type: "data", bytes: buf.subarray(0, at) });
          events.push({ type: "end" });
        }
        this.pending = buf.subarray(at + this.delimiter.length);
        this.state = "boundary";
      } else if (this.state === "boundary") {
        if (buf.length < 2) return events;
        if (buf[0] === 0x2d && buf[1] === 0x2d) {
          this.state = "done";
          this.pending = Buffer.alloc(0);
          return events;
        }
        // Transport padding (spaces, tabs) may follow a boundary before its CRLF.
        const eol = buf.indexOf(CRLF);
        if (eol === -1) {
          if (buf.length > 256) throw malformed("a boundary line is too long");
          return events;
        }
        if (buf.subarray(0, eol).some((c) => c !== 0x20 && c !== 0x09)) throw malformed("text after a boundary");
        this.pending = buf.subarray(eol + 2);
        this.state = "headers";
      } else if (this.state === "headers") {
        // A part with no headers at all starts with the blank line right away.
        const at = buf.subarray(0, 2).equals(CRLF) ? -2 : buf.indexOf(HEADER_END);
        if (at === -1) {
          if (buf.length > MAX_HEADER_BYTES) throw malformed("part headers are too long");
          return events;
        }
        events.push(parseHeaders(at === -2 ? Buffer.alloc(0) : buf.subarray(0, at)));
        this.pending = buf.subarray(at === -2 ? 2 : at + HEADER_END.length);
        this.state = "body";
      } else return events;
    }
  }

  /**
   * The kept tail of the last chunk joined with this one. In the body (and preamble) the tail is
   * shorter than a delimiter, and copying every chunk behind it would double an upload's garbage:
   * unless a delimiter starts in the tail, the tail is passed on as it is and the chunk used in place.
   */
  private joined(chunk: Buffer, events: MultipartEvent[]): Buffer {
    const tail = this.pending;
    if (tail.length === 0) return chunk;
    const streaming = this.state === "body" || this.state === "preamble";
    if (!streaming || chunk.length < this.delimiter.length) return Buffer.concat([tail, chunk]);
    const window = Buffer.concat([tail, chunk.subarray(0, this.delimiter.length - 1)]);
    const at = window.indexOf(this.delimiter);
    if (at !== -1 && at < tail.length) return Buffer.concat([tail, chunk]);
    if (this.state === "body") events.push({ type: "data", bytes: tail });
    else if ((this.seen += tail.length) > MAX_PREAMBLE_BYTES) throw malformed("no boundary found");
    return chunk;
  }

  /** Throws when the body ended before the closing boundary. */
  finish(): void {
    if (this.state !== "done") throw malformed("the body ended before the closing boundary");
  }
}
