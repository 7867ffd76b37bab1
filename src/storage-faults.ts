// Which SQLite errors are the disk's fault (full, failing, read-only, gone) rather than one
// request's. No imports, so the writer thread can use it without loading the HTTP stack.
export type StorageFaultCode = "storage_full" | "storage_unavailable";

/** A storage error a client can act on: `reason` is the SQLite family, for logs and metrics. */
export interface StorageFault {
  code: StorageFaultCode;
  reason: "full" | "io_error" | "read_only" | "cant_open";
}

const FAULTS: [RegExp, StorageFault][] = [
  [/SQLITE_FULL|database or disk is full/i, { code: "storage_full", reason: "full" }],
  [/SQLITE_IOERR|disk I\/O error/i, { code: "storage_unavailable", reason: "io_error" }],
  [/SQLITE_READONLY|readonly database/i, { code: "storage_unavailable", reason: "read_only" }],
  [/SQLITE_CANTOPEN|unable to open database/i, { code: "storage_unavailable", reason: "cant_open" }],
];

/** Classifies an error by its SQLite code (e.g. SQLITE_IOERR_WRITE) and message. */
export function storageFaultOf(code: string, message: string): StorageFault | null {
  const text = `${code} ${message}`;
  for (const [pattern, fault] of FAULTS) if (pattern.test(text)) return fault;
  return null;
}
