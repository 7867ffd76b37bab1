// The download of one attachment: the file straight from disk (Bun sends it without reading it into
// memory), with its sha256 as a strong ETag (If-None-Match → 304), one byte range (206, or 416 when
// unsatisfiable), and headers that stop a browser from running or sniffing it: nosniff, a sandboxing
// CSP, and Content-Disposition: attachment for anything but the common raster images.
import { contentDisposition } from "./filename";
import type { AttachmentRow } from "./model";
import { INLINE_IMAGE_TYPES } from "./sniff";
import { blobPath } from "./store";

export const DOWNLOAD_CSP = "default-src 'none'; sandbox";

/** The byte range of a `Range` header: [start, end] inclusive, "unsatisfiable", or null to send it all. */
export function parseRange(header: string | null, size: number): [number, number] | "unsatisfiable" | null {
  if (!header) return null;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  // Several ranges or another unit: allowed to be ignored (RFC 9110 §14.2), and the whole file is sent.
  if (!match || (match[1] === "" && match[2] === "")) return null;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return "unsatisfiable";
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(match[1]);
  const end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (match[2] !== "" && Number(match[2]) < start) return null; // invalid: ignored
  if (start >= size) return "unsatisfiable";
  return [start, end];
}

const etagMatches = (header: string | null, etag: string) =>
  header !== null && header.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t === etag || t === `W/${etag}`;
  });

export function downloadResponse(row: AttachmentRow, filesDir: string, request: Request): Response {
  const etag = `"${row.sha256}"`;
  const inline = INLINE_IMAGE_TYPES.has(row.content_type);
  const headers: Record<string, string> = {
    etag,
    "cache-control": "private, no-cache",
    "accept-ranges": "bytes",
    "x-content-type-options": "nosniff",
    "content-security-policy": DOWNLOAD_CSP,
    "cross-origin-resource-policy": "same-origin",
    "content-disposition": contentDisposition(inline ? "inline" : "attachment", row.filename),
  };
  if (etagMatches(request.headers.get("if-none-match"), etag)) return new Response(null, { status: 304, headers });
  const file = Bun.file(blobPath(filesDir, row.sha256));
  headers["content-type"] = row.content_type;
  const range = parseRange(request.headers.get("range"), row.size);
  if (range === "unsatisfiable") {
    return new Response(JSON.stringify({ detail: `Range not satisfiable: the file has ${row.size} bytes`, code: "range_not_satisfiable" }), {
      status: 416,
      headers: { ...headers, "content-type": "application/json", "content-range": `bytes */${row.size}` },
    });
  }
  if (range) {
    const [start, end] = range;
    headers["content-range"] = `bytes ${start}-${end}/${row.size}`;
    return new Response(file.slice(start, end + 1), { status: 206, headers });
  }
  return new Response(file, { headers });
}
