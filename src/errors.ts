// The one error type of the API and the renderer that gives every failure the contract's {detail, code} body.
import { ValidationError } from "elysia";
import { storageFaultOf, type StorageFault, type StorageFaultCode } from "./storage-faults";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

export const notFound = (what: string) => new ApiError(404, "not_found", `${what} not found`);
export const unauthorized = (detail = "Could not validate credentials") =>
  new ApiError(401, "not_authenticated", detail, { "WWW-Authenticate": "Bearer" });
export const unprocessable = (field: string, detail: string) =>
  new ApiError(422, "validation_error", `${field}: ${detail}`);

export interface ErrorBody {
  detail: string;
  code: string;
}

export function errorResponse(status: number, code: string, detail: string, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify({ detail, code } satisfies ErrorBody), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** A path that exists, asked with a method it has no route for (the FastAPI service's 405). */
export const methodNotAllowed = (method: string, allowed: string[]) =>
  errorResponse(405, "method_not_allowed", `Method ${method} is not allowed here; use ${allowed.join(", ")}`, { Allow: allowed.join(", ") });

/** Names the field and the rule it broke, without echoing the whole schema or value. */
export function describeValidation(error: ValidationError): string {
  const first = error.all[0] as
    | { path?: string; message?: string; summary?: string; schema?: { title?: string; anyOf?: { type?: string }[] }; errors?: Iterable<VariantError>[] }
    | undefined;
  const where = error.type === "body" ? "body" : error.type;
  if (!first) return `${where}: invalid`;
  // Coerced query integers fail without a path ("property"); their schema's title is the field name.
  const field = first.path ? first.path.replace(/^\//, "").replaceAll("/", ".") : (first.schema?.title ?? where);
  let message = first.message ?? "invalid";
  if (/Unexpected property/i.test(message) || /additional/i.test(message)) message = "unknown field";
  // A query integer is a union of its string and number forms; "union value" tells a client nothing.
  if (/union value/i.test(message)) {
    message = first.schema?.anyOf?.some((s) => s.type === "integer") ? "Expected integer" : (unionReason(first) ?? message);
  }
  return `${field || where}: ${message}`;
}

interface VariantError {
  message?: string;
  /** `error` is a schema's own wording for its rule (t.String({ error })). */
  schema?: { type?: string; const?: unknown; error?: unknown };
}

/**
 * Why a value matched no branch of a union, from TypeBox's per-branch errors: the allowed values
 * of an enum of literals, else the rule the value broke in its non-null branch ("Expected string
 * length less or equal to 100" for a too-long optional name), else null.
 */
function unionReason(error: { errors?: Iterable<VariantError>[] }): string | null {
  const variants = (error.errors ?? []).map((branch) => [...branch][0]).filter((e): e is VariantError => e !== undefined);
  const candidates = variants.filter((e) => e.schema?.type !== "null");
  if (candidates.length === 0) return null;
  if (candidates.every((e) => e.schema?.const !== undefined)) return `Expected one of ${candidates.map((e) => JSON.stringify(e.schema!.const)).join(", ")}`;
  const first = candidates[0]!;
  // A schema's own wording is for its pattern; its length rules keep TypeBox's.
  const patternFailed = /to match/.test(first.message ?? "");
  return patternFailed && typeof first.schema?.error === "string" ? first.schema.error : (first.message ?? null);
}

export type { StorageFault, StorageFaultCode };

/** The one classifier of storage failures, used by renderError and by the message writer. */
export function classifyStorageError(error: unknown): StorageFault | null {
  if (error instanceof ApiError) return null;
  const code = (error as { code?: unknown } | null)?.code;
  return storageFaultOf(typeof code === "string" ? code : "", error instanceof Error ? error.message : String(error));
}

/** How long a client should wait before retrying: a full disk needs an operator, an I/O error may pass. */
const RETRY_AFTER = { storage_full: "30", storage_unavailable: "5" } as const;

export const storageError = (fault: StorageFault) =>
  new ApiError(
    503,
    fault.code,
    fault.code === "storage_full" ? "The server's disk is full; retry later" : "The server cannot write to its storage; retry later",
    { "Retry-After": RETRY_AFTER[fault.code] },
  );

type Logger = { error: (msg: string, fields?: Record<string, unknown>) => void };
/** Told about storage failures so /health and /metrics see them (the server passes its StorageHealth). */
export type StorageWatch = { noteFailure(fault: StorageFault, error: string): void };

/**
 * The 503 for a storage failure (noted in `storage`, which logs once per change of state rather
 * than a stack per request), or null for any other error. For every path that turns a thrown
 * error into an answer: renderError here, and a socket's error frame.
 */
export function storageApiError(error: unknown, storage?: StorageWatch): ApiError | null {
  const fault = classifyStorageError(error);
  if (!fault) return null;
  storage?.noteFailure(fault, error instanceof Error ? error.message : String(error));
  return storageError(fault);
}

/** Maps anything thrown in a route to a contract response. Unknown errors are logged and made opaque. */
export function renderError(code: string | number, error: unknown, log: Logger, storage?: StorageWatch): Response {
  // Elysia wraps whatever a parse hook throws in its ParseError; ours throws ApiErrors (413, 400).
  if (code === "PARSE" && error instanceof Error && error.cause instanceof ApiError) error = error.cause;
  if (error instanceof ApiError) return errorResponse(error.status, error.code, error.detail, error.headers);
  if (error instanceof ValidationError) return errorResponse(422, "validation_error", describeValidation(error));
  switch (code) {
    case "PARSE":
      return errorResponse(400, "malformed_body", "Request body could not be parsed");
    case "NOT_FOUND":
      return errorResponse(404, "not_found", "Not found");
    case "INVALID_COOKIE_SIGNATURE":
      return errorResponse(400, "bad_request", "Invalid cookie");
  }
  const message = error instanceof Error ? error.message : String(error);
  // Validating a body nested thousands of levels deep overflows the stack inside Elysia: that is the client's input.
  if (error instanceof RangeError && /call stack/i.test(message)) {
    return errorResponse(400, "malformed_body", "Request body is nested too deeply");
  }
  const storageFailure = storageApiError(error, storage ?? { noteFailure: () => log.error("storage error", { error: message }) });
  if (storageFailure) return errorResponse(storageFailure.status, storageFailure.code, storageFailure.detail, storageFailure.headers);
  if (/SQLITE_BUSY|database is locked/i.test(message)) {
    return errorResponse(503, "busy", "The server is busy, retry shortly", { "Retry-After": "1" });
  }
  if (/SQLITE_CONSTRAINT/i.test(message)) return errorResponse(409, "conflict", "Conflicts with existing data");
  if (typeof code === "number" && code >= 400 && code < 500) return errorResponse(code, "bad_request", "Bad request");
  log.error("unhandled error", { error: message, stack: error instanceof Error ? error.stack : undefined });
  return errorResponse(500, "internal_error", "Internal server error");
}
