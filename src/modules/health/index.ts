// /health: proves the database answers and can take a write lock; 503 in the contract shape when not.
import { Elysia, t } from "elysia";
import type { AppDeps } from "../../app";
import { ApiError } from "../../errors";
import { ErrorBody } from "../shared-model";

export function checkDatabase(deps: Pick<AppDeps, "db">) {
  const client = deps.db.$client;
  client.query("SELECT 1").get();
  // Taking and releasing the write lock shows writes would go through (read-only or locked files fail here).
  client.run("BEGIN IMMEDIATE");
  client.run("ROLLBACK");
}

export const healthModule = (deps: AppDeps) =>
  new Elysia({ tags: ["health"] }).get(
    "/health",
    () => {
      try {
        checkDatabase(deps);
      } catch (error) {
        deps.log.error("health check failed", { error: String(error) });
        throw new ApiError(503, "unavailable", "Database is not writable");
      }
      return { status: "ok" as const, version: deps.version };
    },
    {
      response: { 200: t.Object({ status: t.Literal("ok"), version: t.String() }), 503: ErrorBody },
      detail: { summary: "Liveness and database check" },
    },
  );
