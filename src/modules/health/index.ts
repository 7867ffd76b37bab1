// /health: 200 when the database answers and storage is not known to be failing; 503 in the
// contract shape with the reason otherwise. Never takes the write lock (that could wait on another
// process for busy_timeout on the event loop) and never waits on the disk: what it knows of
// writes comes from the writer (the last commit failed, or one has been pending too long).
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { ApiError } from "../../errors";
import { ErrorBody } from "../shared-model";
import { probeWrite } from "./probe";

// `broker` only with --broker-url. An unreachable broker keeps 200: the instance still serves its
// own sockets and the database, and every instance would fail together (a balancer would drop them all).
const HealthBody = t.Object({
  status: t.Literal("ok"),
  version: t.String(),
  broker: t.Optional(t.Union([t.Literal("ok"), t.Literal("unreachable")], { description: "The cross-instance broker, when one is configured" })),
});

export async function checkDatabase(deps: Pick<Deps, "probe" | "storage">) {
  await deps.probe.ping();
  const storage = deps.storage;
  if (!storage) return;
  // A failing state heals when a write goes through; with no sends to prove it, /health tries one,
  // except while writes are held for a checkpoint (the probe would take the space it needs).
  if (storage.failingFault && !storage.pendingMs && !storage.writesHeld) await probeWrite(deps.probe, storage);
  const problem = storage.problem();
  if (problem) throw new ApiError(503, problem.code, problem.detail, { "Retry-After": "5" });
}

export const healthModule = (deps: Deps) =>
  new Elysia({ tags: ["health"] }).get(
    "/health",
    async () => {
      try {
        await checkDatabase(deps);
      } catch (error) {
        if (error instanceof ApiError) throw error;
        deps.log.error("health check failed", { error: String(error) });
        throw new ApiError(503, "unavailable", "Database is not readable");
      }
      const broker = deps.hub.brokerState?.();
      return { status: "ok" as const, version: deps.version, ...(broker ? { broker } : {}) };
    },
    {
      // Documented, not validated: compiling validators is most of a route's first-request cost,
      // and the first request here is what tells a supervisor the server is up.
      detail: {
        summary: "Liveness and storage check",
        responses: {
          200: { description: "Up, the database answers and writes go through", content: { "application/json": { schema: HealthBody } } },
          503: {
            description: "storage_full, storage_unavailable (the last write failed), storage_stalled (a commit has waited on the disk > 2 s) or unavailable",
            content: { "application/json": { schema: ErrorBody } },
          },
        },
      },
    },
  );
