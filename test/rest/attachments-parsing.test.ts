// The pieces of an upload that need no server: the streaming multipart parser under any chunking
// (compared with what the platform's FormData produced), file names, byte ranges and sniffing.
import { expect, test } from "bun:test";
import fc from "fast-check";
import { parseRange } from "../../src/modules/attachments/download";
import { sanitizeFilename } from "../../src/modules/attachments/filename";
import { boundaryOf, MultipartParser } from "../../src/modules/attachments/multipart";
import { sniff } from "../../src/modules/attachments/sniff";
import { propertyParams } from "../support/property";

async function encodeForm(fields: { name: string; value: Uint8Array | string; filename?: string; type?: string }[]) {
  const form = new FormData();
  for (const f of fields) {
    if (f.filename !== undefined) form.append(f.name, new Blob([f.value as BlobPart], { type: f.type ?? "" }), f.filename);
    else form.append(f.name, f.value as string);
  }
  const res = new Response(form);
  // Before the body is read: Bun's Response drops a FormData body's Content-Type once it is consumed.
  const boundary = boundaryOf(res.headers.get("content-type"))!;
  return { body: new Uint8Array(await res.arrayBuffer()), boundary };
}

function parseChunked(body: Uint8Array, boundary: string, cuts: number[]) {
  const parser = new MultipartParser(boundary);
  const parts: { name: string | null; filename: string | null; type: string | null; bytes: number[] }[] = [];
  let at = 0;
  for (const end of [...cuts.filter((c) => c > 0 && c < body.length).sort((a, b) => a - b), body.length]) {
    for (const e of parser.feed(body.slice(at, end))) {
      if (e.type === "part") parts.push({ name: e.name, filename: e.filename, type: e.contentType, bytes: [] });
      else if (e.type === "data") parts.at(-1)!.bytes.push(...e.bytes);
    }
    at = end;
  }
  parser.finish();
  return parts;
}

test("the multipart parser gives the same parts whatever the chunk boundaries, also with CRLF and dashes in the data", async () => {
  const tricky = fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constantFrom("\r\n--", "\r\n\r\n", "--\r\n", "\r\n-").map((s) => new TextEncoder().encode(s.repeat(5))));
  await fc.assert(
    fc.asyncProperty(tricky, fc.string({ maxLength: 40 }), fc.array(fc.nat(2000), { maxLength: 30 }), async (file, note, cuts) => {
      const { body, boundary } = await encodeForm([
        { name: "note", value: note },
        { name: "file", value: file, filename: "f.bin", type: "application/x-test" },
      ]);
      const parts = parseChunked(body, boundary, cuts);
      expect(parts.map((p) => p.name)).toEqual(["note", "file"]);
      expect(new TextDecoder().decode(new Uint8Array(parts[0]!.bytes))).toBe(note);
      expect(parts[1]).toMatchObject({ filename: "f.bin", type: "application/x-test" });
      expect(new Uint8Array(parts[1]!.bytes)).toEqual(file);
    }),
    propertyParams("multipart chunking", { numRuns: 200 }),
  );
});

test("the multipart parser gives the same parts for every cut, and every pair of cuts up to a delimiter's length apart", async () => {
  const file = new TextEncoder().encode("ab\r\n--\r\n-cd".repeat(3));
  const { body, boundary } = await encodeForm([
    { name: "note", value: "n" },
    { name: "file", value: file, filename: "f.bin" },
  ]);
  const span = boundary.length + 8;
  for (let a = 1; a < body.length; a++) {
    for (let b = a; b <= Math.min(a + span, body.length); b++) {
      const parts = parseChunked(body, boundary, [a, b]);
      expect(parts.map((p) => p.name)).toEqual(["note", "file"]);
      expect(new Uint8Array(parts[1]!.bytes)).toEqual(file);
    }
  }
});

test("a body cut before the closing boundary is an error, not a shorter file", async () => {
  const { body, boundary } = await encodeForm([{ name: "file", value: "hello", filename: "a.txt" }]);
  const parser = new MultipartParser(boundary);
  parser.feed(body.slice(0, body.length - 10));
  expect(() => parser.finish()).toThrow(/ended before/);
});

test("filename* (RFC 8187) and quoted names with escapes", () => {
  const parser = new MultipartParser("XX");
  const events = parser.feed(
    new TextEncoder().encode(
      `--XX\r\nContent-Disposition: form-data; name="file"; filename="fallback.txt"; filename*=UTF-8''caf%C3%A9.txt\r\n\r\nx\r\n--XX--\r\n`,
    ),
  );
  expect(events[0]).toMatchObject({ type: "part", name: "file", filename: "café.txt" });
});

test("byte ranges: single, open, suffix, unsatisfiable, and ignored forms", () => {
  expect(parseRange("bytes=0-0", 10)).toEqual([0, 0]);
  expect(parseRange("bytes=5-", 10)).toEqual([5, 9]);
  expect(parseRange("bytes=5-100", 10)).toEqual([5, 9]);
  expect(parseRange("bytes=-4", 10)).toEqual([6, 9]);
  expect(parseRange("bytes=-40", 10)).toEqual([0, 9]);
  expect(parseRange("bytes=10-", 10)).toBe("unsatisfiable");
  expect(parseRange("bytes=-0", 10)).toBe("unsatisfiable");
  for (const ignored of [null, "bytes=5-2", "bytes=0-1,3-4", "items=0-1", "bytes=-", "bytes=x-y"]) expect(parseRange(ignored, 10)).toBeNull();
});

test("file names: never a path, a control or a bidi control, whatever the input", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 600 }), (raw) => {
      const name = sanitizeFilename(raw);
      expect(name.length).toBeGreaterThan(0);
      expect([...name].length).toBeLessThanOrEqual(255);
      expect(name).not.toMatch(/[\u0000-\u001f\u007f/\\\u202a-\u202e\u2066-\u2069]/);
      expect(name === "." || name === "..").toBe(false);
    }),
    propertyParams("filenames", { numRuns: 500 }),
  );
});

test("sniffing never calls bytes an image unless they are one", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom("image/png", "image/svg+xml", "text/html", "", "garbage"), (bytes, claim) => {
      const { contentType } = sniff(bytes, claim);
      if (contentType.startsWith("image/")) expect(["image/png", "image/jpeg", "image/gif", "image/webp"]).toContain(contentType);
      if (claim.startsWith("image/") && !contentType.startsWith("image/")) expect(contentType).toBe("application/octet-stream");
    }),
    propertyParams("sniffing", { numRuns: 500 }),
  );
});
