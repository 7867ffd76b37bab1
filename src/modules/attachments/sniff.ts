// What the bytes of an upload are, whatever its Content-Type claims: the four raster image formats a
// browser shows inline (PNG, JPEG, GIF, WebP) recognised by their magic numbers, with width and height
// read from their headers (no image library). Anything else keeps its claimed type, except a claim
// of an image the bytes do not back up, which becomes application/octet-stream.

export const INLINE_IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/** How much of the start of a file sniffing looks at (a JPEG's size may follow a large EXIF block). */
export const SNIFF_BYTES = 256 * 1024;
/** Enough for every magic number, and for the sizes of PNG, GIF and WebP (all within 30 bytes). */
export const PEEK_BYTES = 64;

export interface Sniffed {
  contentType: string;
  width?: number;
  height?: number;
}

const startsWith = (b: Uint8Array, bytes: number[], at = 0) => b.length >= at + bytes.length && bytes.every((x, i) => b[at + i] === x);
const u16be = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!;
const u16le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8);
const u24le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16);
const u32be = (b: Uint8Array, i: number) => ((b[i]! << 24) >>> 0) + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!);

type Dimensions = { width: number; height: number } | null;

function png(b: Uint8Array): Dimensions {
  // Signature, then the IHDR chunk: length(4) "IHDR"(4) width(4) height(4).
  if (b.length < 24 || !startsWith(b, [0x49, 0x48, 0x44, 0x52], 12)) return null;
  return { width: u32be(b, 16), height: u32be(b, 20) };
}

function gif(b: Uint8Array): Dimensions {
  return b.length >= 10 ? { width: u16le(b, 6), height: u16le(b, 8) } : null;
}

function jpeg(b: Uint8Array): Dimensions {
  // Walk the segments after SOI to the first start-of-frame (SOF0..SOF15 but DHT, JPG and DAC).
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return null;
    const marker = b[i + 1]!;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2; // markers without a length
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: u16be(b, i + 5), width: u16be(b, i + 7) };
    }
    if (marker === 0xda || marker === 0xd9) return null; // image data before any frame header
    i += 2 + u16be(b, i + 2);
  }
  return null;
}

function webp(b: Uint8Array): Dimensions {
  if (b.length < 30) return null;
  const chunk = String.fromCharCode(...b.subarray(12, 16));
  if (chunk === "VP8 ") {
    // Lossy: a key frame's start code 9d 01 2a, then 14-bit width and height.
    if (!startsWith(b, [0x9d, 0x01, 0x2a], 23)) return null;
    return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
  }
  if (chunk === "VP8L") {
    if (b[20] !== 0x2f) return null;
    const bits = b[21]! | (b[22]! << 8) | (b[23]! << 16) | (b[24]! << 24);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === "VP8X") return { width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 };
  return null;
}

const FORMATS: { type: string; magic: (b: Uint8Array) => boolean; size: (b: Uint8Array) => Dimensions }[] = [
  { type: "image/png", magic: (b) => startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), size: png },
  { type: "image/jpeg", magic: (b) => startsWith(b, [0xff, 0xd8, 0xff]), size: jpeg },
  { type: "image/gif", magic: (b) => startsWith(b, [0x47, 0x49, 0x46, 0x38]) && (b[4] === 0x37 || b[4] === 0x39) && b[5] === 0x61, size: gif },
  { type: "image/webp", magic: (b) => startsWith(b, [0x52, 0x49, 0x46, 0x46]) && startsWith(b, [0x57, 0x45, 0x42, 0x50], 8), size: webp },
];

/** A media type as `type/subtype`, lower-case, without parameters; null when it is not one. */
export function mediaType(claimed: string | null | undefined): string | null {
  const essence = (claimed ?? "").split(";")[0]!.trim().toLowerCase();
  return /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/.test(essence) ? essence : null;
}

/** The type to store for these first bytes and this claim, with the image's size when known. */
export function sniff(head: Uint8Array, claimed: string | null | undefined): Sniffed {
  for (const format of FORMATS) {
    if (!format.magic(head)) continue;
    const size = format.size(head);
    // A header claiming 0 or absurd sizes is not worth passing on to clients.
    if (size && size.width > 0 && size.height > 0 && size.width <= 65_535 * 4 && size.height <= 65_535 * 4) {
      return { contentType: format.type, width: size.width, height: size.height };
    }
    return { contentType: format.type };
  }
  const type = mediaType(claimed);
  // Claimed to be an image but not one of the formats above (an SVG, a disguised HTML page): never an image to us.
  if (!type || type.startsWith("image/")) return { contentType: "application/octet-stream" };
  return { contentType: type };
}

/** Whether sniffing these first bytes needs more of the file: a JPEG whose frame header is further on. */
export const needsLongerHead = (peek: Uint8Array): boolean => startsWith(peek, [0xff, 0xd8, 0xff]) && jpeg(peek) === null;
