// /health: proves the database answers and can take a write lock; 503 in the contract shape when not.
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { ApiError } from "../../errors";
import { ErrorBody } from "../shared-model";

const HealthBody = t.Object({ status: t.Literal("ok"), version: t.String() });

export function checkDatabase(deps: Pick<Deps, "db">) {
  const client = deps.db.$client;
  client.query("SELECT 1").get();
  // Taking and releasing the write lock shows writes would go through (read-only or locked files fail here).
  client.run("BEGIN IMMEDIATE");
  client.run("ROLLBACK");
}

export const healthModule = (deps: Deps) =>
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
      // Documented, not validated: compiling validators is most of a route's first-request cost,
      // and the first request here is what tells a supervisor the server is up.
      detail: {
        summary: "Liveness and database check",
        responses: {
          200: { description: "Up, and the database takes writes", content: { "application/json": { schema: HealthBody } } },
          503: { description: "The database cannot take a write lock", content: { "application/json": { schema: ErrorBody } } },
        },
      },
    },
  );
