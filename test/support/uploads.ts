// Uploading and downloading attachments in tests, and small valid image headers to upload.
import { readdirSync } from "node:fs";
import { join } from "node:path";

export async function upload(
  baseUrl: string,
  token: string,
  bytes: Uint8Array | string | ReadableStream<Uint8Array>,
  options: { type?: string; filename?: string; multipart?: boolean; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...options.headers };
  let body: BodyInit;
  let url = `${baseUrl}/api/v1/attachments`;
  if (options.multipart) {
    const form = new FormData();
    form.append("note", "ignored field");
    form.append("file", new Blob([bytes as BlobPart], { type: options.type ?? "" }), options.filename ?? "");
    body = form;
  } else {
    if (options.type !== undefined) headers["content-type"] = options.type;
    if (options.filename !== undefined) url += `?filename=${encodeURIComponent(options.filename)}`;
    body = bytes as BodyInit;
  }
  const res = await fetch(url, { method: "POST", headers, body, ...(body instanceof ReadableStream ? { duplex: "half" } : {}) } as RequestInit);
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, headers: res.headers };
}

export async function download(baseUrl: string, token: string, id: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${baseUrl}/api/v1/attachments/${id}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
  return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()), headers: res.headers };
}

/** Every file under <data-dir>/files (blobs and temporaries), relative paths. */
export function filesOnDisk(dataDir: string): string[] {
  const root = join(dataDir, "files");
  try {
    return (readdirSync(root, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
      .filter((d) => d.isFile())
      .map((d) => join(d.parentPath, d.name).slice(root.length + 1))
      .sort();
  } catch {
    return [];
  }
}

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ""), "hex");
const u32be = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u16le = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};

/** The start of a PNG of this size (signature and IHDR), enough for sniffing. */
export const pngHead = (w: number, h: number) =>
  Buffer.concat([hex("89504e470d0a1a0a 0000000d 49484452"), u32be(w), u32be(h), hex("0806000000 1f15c489"), Buffer.alloc(64, 7)]);
export const gifHead = (w: number, h: number) => Buffer.concat([Buffer.from("GIF89a"), u16le(w), u16le(h), hex("f70000"), Buffer.alloc(32, 1)]);
/** SOI, an APP0 segment, then SOF0 with the size. */
export const jpegHead = (w: number, h: number) =>
  Buffer.concat([
    hex("ffd8 ffe0 0010 4a46494600 0101 00 0001 0001 0000"),
    hex("ffc0 0011 08"),
    Buffer.from([h >> 8, h & 255, w >> 8, w & 255]),
    hex("03 012200 021101 031101"),
    Buffer.alloc(32, 3),
  ]);
/** RIFF/WEBP with a VP8X chunk (24-bit width-1 and height-1). */
export const webpHead = (w: number, h: number) => {
  const size = (n: number) => Buffer.from([(n - 1) & 255, ((n - 1) >> 8) & 255, ((n - 1) >> 16) & 255]);
  return Buffer.concat([Buffer.from("RIFF"), hex("24000000"), Buffer.from("WEBPVP8X"), hex("0a000000 00000000"), size(w), size(h), Buffer.alloc(16)]);
};
