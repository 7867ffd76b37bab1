// Schemas every module shares: the error body, ids, pagination.
import { t } from "elysia";

export const ErrorBody = t.Object(
  { detail: t.String(), code: t.String() },
  { description: "Every error: a human sentence and a machine code" },
);

export const Uuid = t.String({ format: "uuid", description: "UUID (time-ordered v7)" });
export const IdParams = <K extends string>(key: K) => t.Object({ [key]: Uuid } as { [P in K]: typeof Uuid });

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
