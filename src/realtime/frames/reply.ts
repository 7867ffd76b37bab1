// How a frame handler answers its socket: a JSON frame, or an error frame in the contract's shape
// (storage faults get the same storage_* codes as REST and count for /health).
import type { Deps } from "../../deps";
import { ApiError, storageApiError } from "../../errors";
import type { ChatSocket } from "../bun-hub";

export type Reply = ReturnType<typeof createReply>;

export function createReply(deps: Pick<Deps, "log" | "storage">) {
  const send = (ws: ChatSocket, event: object) => ws.send(JSON.stringify(event));
  const sendError = (ws: ChatSocket, error: unknown, ref?: string) => {
    const known = error instanceof ApiError ? error : storageApiError(error, deps.storage);
    const e = known ? { code: known.code, detail: known.detail } : { code: "internal_error", detail: "Internal server error" };
    if (!known) deps.log.error("socket frame failed", { error: String(error) });
    send(ws, { type: "error", ...e, ...(ref !== undefined ? { ref } : {}) });
  };
  return { send, sendError };
}
