// Receiving one upload: the request body (raw, or the `file` part of a multipart form) is streamed
// into a BlobWriter chunk by chunk, never held whole in memory, and refused with a 413 the moment it
// passes the size limit or the user's remaining quota, whether or not a Content-Length announced it.
// A client that closes the connection mid-body gets 400 upload_aborted and leaves no temporary file.
import { ApiError, unprocessable } from "../../errors";
import { boundaryOf, MultipartParser } from "./multipart";
import { needsLongerHead, PEEK_BYTES, SNIFF_BYTES } from "./sniff";
import { BlobWriter } from "./store";

/** Room for a multipart body's boundaries and part headers around the file itself. */
export const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

export interface Received {
  sha256: string;
  size: number;
  /** The start of the file, as much as sniffing its type and size needs. */
  head: Uint8Array;
  claimedType: string | null;
  filename: string | null;
  blob: BlobWriter;
}

export interface UploadLimits {
  maxBytes: number;
  /** Bytes the user may still store (their quota minus what they hold). */
  quotaLeft: number;
}

export const tooLarge = (maxBytes: number) =>
  new ApiError(413, "payload_too_large", `The file is larger than the upload limit of ${maxBytes} bytes`);
export const quotaExceeded = () => new ApiError(413, "quota_exceeded", "The file does not fit in your remaining upload quota");
export const uploadAborted = () => new ApiError(400, "upload_aborted", "The connection closed before the upload's body was complete");

/**
 * Whether reading the body failed because the client went away (Bun rejects the read with an
 * AbortError, "The connection was closed.", and aborts the request's signal).
 */
function clientWentAway(request: Request, error: unknown): boolean {
  if (error instanceof ApiError) return false;
  return request.signal.aborted || (error instanceof Error && error.name === "AbortError");
}

/**
 * Counts, bounds, hashes and writes the file's bytes; keeps only its first PEEK_BYTES (a JPEG's
 * longer head is read back from the file at the end, not held for every upload while it streams).
 */
class Sink {
  readonly peek = new Uint8Array(PEEK_BYTES);
  peekLength = 0;
  constructor(
    readonly blob: BlobWriter,
    readonly limits: UploadLimits,
  ) {}

  async write(bytes: Uint8Array): Promise<void> {
    const size = this.blob.size + bytes.byteLength;
    if (size > this.limits.maxBytes) throw tooLarge(this.limits.maxBytes);
    if (size > this.limits.quotaLeft) throw quotaExceeded();
    if (this.peekLength < PEEK_BYTES) {
      const take = bytes.subarray(0, PEEK_BYTES - this.peekLength);
      this.peek.set(take, this.peekLength);
      this.peekLength += take.byteLength;
    }
    await this.blob.write(bytes);
  }

  /** The first bytes sniffing needs (call after the blob is finished). */
  async head(): Promise<Uint8Array> {
    const peek = this.peek.subarray(0, this.peekLength);
    return needsLongerHead(peek) ? this.blob.readHead(SNIFF_BYTES) : peek;
  }
}

function announcedTooLarge(request: Request, limits: UploadLimits, overhead: number) {
  const length = Number(request.headers.get("content-length") ?? 0);
  if (length > limits.maxBytes + overhead) throw tooLarge(limits.maxBytes);
  if (length > limits.quotaLeft + overhead) throw quotaExceeded();
}

/** The body's chunks as they arrive; the reader is released (and the stream cancelled) on an early exit. */
async function* chunks(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

async function receiveRaw(body: ReadableStream<Uint8Array>, sink: Sink): Promise<void> {
  for await (const chunk of chunks(body)) await sink.write(chunk);
}

async function receiveMultipart(body: ReadableStream<Uint8Array>, boundary: string, sink: Sink): Promise<{ filename: string | null; type: string | null }> {
  const parser = new MultipartParser(boundary);
  let file: { filename: string | null; type: string | null } | null = null;
  let inFile = false;
  let otherBytes = 0;
  for await (const chunk of chunks(body)) {
    for (const event of parser.feed(chunk)) {
      if (event.type === "part") {
        if (event.name === "file") {
          if (file) throw unprocessable("file", "only one file per upload");
          file = { filename: event.filename, type: event.contentType };
          inFile = true;
        }
      } else if (event.type === "data") {
        if (inFile) await sink.write(event.bytes);
        else if ((otherBytes += event.bytes.byteLength) > MULTIPART_OVERHEAD_BYTES) throw tooLarge(sink.limits.maxBytes);
      } else inFile = false;
    }
    if (parser.done) break;
  }
  parser.finish();
  if (!file) throw unprocessable("file", "a multipart upload needs a part named file");
  return file;
}

/**
 * Streams the upload to a temporary file. The caller commits `blob` (or discards it); on any error
 * here the temporary file is already gone.
 */
export async function receiveUpload(request: Request, filesDir: string, limits: UploadLimits, queryFilename: string | null): Promise<Received> {
  const contentType = request.headers.get("content-type");
  const multipart = /^multipart\/form-data/i.test(contentType ?? "");
  const boundary = multipart ? boundaryOf(contentType) : null;
  if (multipart && !boundary) throw new ApiError(400, "malformed_body", "multipart/form-data needs a boundary parameter");
  announcedTooLarge(request, limits, multipart ? MULTIPART_OVERHEAD_BYTES : 0);
  const blob = await BlobWriter.create(filesDir);
  const sink = new Sink(blob, limits);
  try {
    let claimedType = contentType;
    let filename = queryFilename;
    if (request.body) {
      if (boundary) {
        const file = await receiveMultipart(request.body, boundary, sink);
        claimedType = file.type;
        filename = file.filename ?? queryFilename;
      } else await receiveRaw(request.body, sink);
    }
    if (blob.size === 0) throw unprocessable("file", "must not be empty");
    const sha256 = await blob.finish();
    return { sha256, size: blob.size, head: await sink.head(), claimedType, filename, blob };
  } catch (error) {
    blob.discard();
    // The client's doing, not the server's: a 4xx (which nobody reads) instead of an unhandled 500.
    if (clientWentAway(request, error)) throw uploadAborted();
    throw error;
  }
}
