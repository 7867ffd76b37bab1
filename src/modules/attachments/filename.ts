// Upload file names as they are stored and offered back in Content-Disposition: a name, never a path,
// and nothing that could hide what it is (bidi overrides turn "gpj.exe" into "exe.jpg" on screen).

export const MAX_FILENAME_LENGTH = 255;
export const DEFAULT_FILENAME = "file";

/** Controls, NUL, path separators, and the bidi embeddings, overrides and isolates (U+202A–202E, U+2066–2069). */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f/\\\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;

export function sanitizeFilename(raw: string | null | undefined): string {
  let name = (raw ?? "").normalize("NFC");
  // A path keeps its last component ("C:\\Users\\me\\cat.png" from old browsers, "../../etc/passwd").
  name = name.split(/[/\\]/).pop() ?? "";
  name = name.replace(UNSAFE, "").trim();
  // "." and ".." are names of directories, and a name of dots only reads as one.
  if (/^\.*$/.test(name)) return DEFAULT_FILENAME;
  if (!name.isWellFormed()) name = name.toWellFormed();
  // Cut by code points, keeping the extension when there is room for it.
  const chars = [...name];
  if (chars.length > MAX_FILENAME_LENGTH) {
    const dot = name.lastIndexOf(".");
    const ext = dot > 0 ? [...name.slice(dot)] : [];
    const keep = ext.length > 0 && ext.length <= 16 ? ext : [];
    name = chars.slice(0, MAX_FILENAME_LENGTH - keep.length).join("") + keep.join("");
  }
  return name;
}

/** `attachment; filename*=UTF-8''…` (RFC 6266/8187) with an ASCII fallback for old clients. */
export function contentDisposition(kind: "inline" | "attachment", filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, "_").replace(/["\\%;]/g, "_");
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
