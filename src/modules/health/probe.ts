// A real, tiny write for /health while storage is failing (StorageProbe.probeWrite). It runs at
// most once a second and only after a failure, never on the healthy path, and never waits for the
// write lock.
import { classifyStorageError } from "../../errors";
import type { StorageProbe } from "../../ports/storage-probe";
import type { StorageHealth } from "../../storage-health";

const PROBE_EVERY_MS = 1000;
const lastProbe = new WeakMap<StorageHealth, number>();

export async function probeWrite(probe: StorageProbe, storage: StorageHealth) {
  const at = performance.now();
  if (at - (lastProbe.get(storage) ?? -Infinity) < PROBE_EVERY_MS) return;
  lastProbe.set(storage, at);
  try {
    // Busy is no answer either way.
    if ((await probe.probeWrite()) === "ok") storage.noteSuccess();
  } catch (error) {
    // A storage error keeps /health at 503 (counted like any failure).
    const fault = classifyStorageError(error);
    if (fault) storage.noteFailure(fault, String(error));
  }
}
