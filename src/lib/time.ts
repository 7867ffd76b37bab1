// Timestamps: stored as Unix milliseconds, sent as ISO-8601 UTC with milliseconds and a Z.
export const now = () => Date.now();
export const iso = (ms: number) => new Date(ms).toISOString();
export const isoOrNull = (ms: number | null | undefined) => (ms == null ? null : iso(ms));
/** Milliseconds on a clock that never steps (for durations and rate limits, never for timestamps). */
export const monotonicMs = () => performance.now();
