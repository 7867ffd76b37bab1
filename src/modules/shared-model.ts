// Schemas every module shares: the error body, ids, pagination; and the request-body parser they share.
import { t } from "elysia";
import { ApiError } from "../errors";

export const ErrorBody = t.Object(
  { detail: t.String(), code: t.String() },
  { description: "Every error: a human sentence and a machine code" },
);

export const Uuid = t.String({ format: "uuid", description: "UUID (time-ordered v7)" });
/** An id a client sends: UUIDs are case-insensitive (RFC 9562; Swift prints them upper-case), ours are stored lower-case. */
export const UuidInput = t
  .Transform(Uuid)
  .Decode((id) => id.toLowerCase())
  .Encode((id) => id);
export const IdParams = <K extends string>(key: K) => t.Object({ [key]: UuidInput } as { [P in K]: typeof UuidInput });

/**
 * A name shown to other people (a full name, a group name): no control characters (NUL, line breaks)
 * and no bidirectional overrides or isolates, which reorder the text after them ("\u202eadmin").
 */
export const DisplayName = (maxLength: number) =>
  t.String({
    maxLength,
    pattern: "^[^\\u0000-\\u001f\\u007f\\u202a-\\u202e\\u2066-\\u2069]*$",
    error: "Must not contain control characters or bidirectional overrides",
  });

export const Timestamp = t.String({ format: "date-time", description: "ISO-8601 UTC, millisecond precision, Z suffix" });
export const NullableTimestamp = t.Union([Timestamp, t.Null()]);

/**
 * Query integers arrive as strings and Elysia coerces them; its range errors carry no path, so the
 * field name rides along as the schema's `title` for the 422 detail to name it.
 */
export const QueryInt = (name: string, options: { minimum: number; maximum?: number; default?: number; description?: string }) =>
  t.Optional(t.Integer({ title: name, maximum: Number.MAX_SAFE_INTEGER, ...options }));
export const Limit = (def: number, max: number) =>
  QueryInt("limit", { minimum: 1, maximum: max, default: def, description: `Page size, default ${def}, max ${max}` });
export const Offset = QueryInt("offset", { minimum: 0, maximum: 1_000_000_000, default: 0 });

export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  404: ErrorBody,
  413: ErrorBody,
  422: ErrorBody,
  429: ErrorBody,
};

// Real bodies nest two or three levels. Deeper ones are refused before validation, whose error
// messages pretty-print the value: quadratic in the depth, so one deep body could stall the server.
const MAX_JSON_DEPTH = 32;

function jsonTooDeep(text: string): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > MAX_JSON_DEPTH) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

const tooLarge = (maxBytes: number) => new ApiError(413, "payload_too_large", `Request body is larger than ${maxBytes} bytes`);

/** The body's bytes, at most maxBytes of them whatever the framing: a chunked body has no Content-Length to check up front. */
async function readBounded(request: Request, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  // A browser's DELETE carries neither a body nor a Content-Length.
  if (!request.body) return new Uint8Array(new ArrayBuffer(0));
  if (request.headers.has("content-length")) return request.bytes(); // checked against the limit on arrival
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(new ArrayBuffer(size));
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

/**
 * A multipart form (the OAuth2 login form may come that way) parsed from bytes already bounded:
 * left to Elysia, a chunked multipart body was buffered whole (26 MB and more) before any limit.
 */
async function multipartFields(bytes: Uint8Array<ArrayBuffer>, contentType: string): Promise<Record<string, unknown>> {
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { "content-type": contentType } }).formData();
  } catch {
    throw new ApiError(400, "malformed_body", "Request body could not be parsed");
  }
  const fields: Record<string, unknown> = {};
  form.forEach((value, key) => {
    // An own data property even for "__proto__": unknown fields are then a 422, as in JSON.
    Object.defineProperty(fields, key, { value, enumerable: true, configurable: true, writable: true });
  });
  return fields;
}

/**
 * A JSON object with its own `toString` or `valueOf` data key ({"username": {"toString": 1}}) cannot be
 * turned into a string: Elysia's validation message interpolates the bad value and threw a TypeError
 * (a 500) instead of the 422 it was building. Such objects get a hidden Symbol.toPrimitive, which
 * string conversion tries first and which key checks (unknown fields) never see.
 */
function stringifiable(value: unknown): void {
  if (typeof value !== "object" || value === null) return;
  if (Array.isArray(value)) {
    for (const item of value) stringifiable(item);
    return;
  }
  if (Object.hasOwn(value, "toString") || Object.hasOwn(value, "valueOf")) {
    Object.defineProperty(value, Symbol.toPrimitive, { value: () => "[object]", enumerable: false });
  }
  for (const key in value) stringifiable((value as Record<string, unknown>)[key]);
}

/** Only bodies that could hold such a key are walked (a `\u` escape can spell one too). */
const mayShadowConversion = (text: string) => text.includes("toString") || text.includes("valueOf") || text.includes("\\u");

/**
 * The modules' `onParse`: JSON (also when no content type is given, as the original service did) and the
 * OAuth2 form (URL-encoded or multipart), all bounded in size, JSON also in depth. Uploads parse their own.
 */
export const parseBody = (maxBytes: number) => async ({ request }: { request: Request }, contentType: string) => {
  const bytes = await readBounded(request, maxBytes);
  if (contentType === "multipart/form-data") return multipartFields(bytes, request.headers.get("content-type") ?? contentType);
  const text = new TextDecoder().decode(bytes);
  if (contentType === "application/x-www-form-urlencoded") return Object.fromEntries(new URLSearchParams(text));
  if (contentType !== "application/json" && contentType !== "") return text;
  // No body at all: validation then says what was expected (422); undefined lets Elysia see "no body".
  if (text.trim() === "") return contentType === "" ? undefined : null;
  if (jsonTooDeep(text)) throw new ApiError(400, "malformed_body", "Request body is nested too deeply");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(400, "malformed_body", "Request body could not be parsed");
  }
  if (mayShadowConversion(text)) stringifiable(body);
  return body;
};
