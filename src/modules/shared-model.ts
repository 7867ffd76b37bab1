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

/** The body as text, at most maxBytes of it whatever the framing: a chunked body has no Content-Length to check up front. */
async function readBounded(request: Request, maxBytes: number): Promise<string> {
  // A DELETE from a browser carries neither a body nor a Content-Length.
  if (!request.body) return "";
  if (request.headers.has("content-length")) return request.text(); // checked against the limit on arrival
  if (!request.body) return ""; // a browser's DELETE: no body and no Content-Length
  const reader = request.body!.getReader();
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
  return new TextDecoder().decode(Buffer.concat(chunks));
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
 * OAuth2 form, bounded in size and depth. Multipart is left to Elysia.
 */
export const parseBody = (maxBytes: number) => async ({ request }: { request: Request }, contentType: string) => {
  if (contentType === "multipart/form-data") return undefined;
  const text = await readBounded(request, maxBytes);
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
