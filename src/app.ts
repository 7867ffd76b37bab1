// createApp(deps): the whole HTTP API as an Elysia instance, without listening, shared by the server and tests.
import { Elysia } from "elysia";
import type { Config } from "./config";
import type { Db } from "./db/client";
import { ApiError, renderError } from "./errors";
import type { Logger } from "./lib/logger";
import { authModule } from "./modules/auth";
import type { TokenService } from "./modules/auth/tokens";
import { conversationsModule } from "./modules/conversations";
import { docsModule } from "./modules/docs";
import { healthModule } from "./modules/health";
import { messagesModule } from "./modules/messages";
import { metricsModule } from "./modules/metrics";
import { Telemetry } from "./modules/metrics/telemetry";
import type { MessageWriter } from "./modules/messages/writer";
import { usersModule } from "./modules/users";
import { webModule } from "./modules/web";
import type { StorageHealth } from "./storage-health";
import type { Hub } from "./realtime/hub";

export interface AppDeps {
  db: Db;
  config: Config;
  hub: Hub;
  tokens: TokenService;
  writer: MessageWriter;
  /** What the writer and the error renderer know of the disk (failing, stalled); read by /health. */
  storage?: StorageHealth;
  log: Logger;
  version: string;
  /** The client's address as the server saw it (or as a trusted proxy reported it). */
  clientAddress(request: Request): string;
  /** Request/socket logs and /metrics; the server passes its own, tests may leave it out. */
  telemetry?: Telemetry;
}

export function createApp(deps: AppDeps) {
  const telemetry = deps.telemetry ?? new Telemetry(deps.log, deps.version);
  return (
    new Elysia({
      // Unknown body fields are a 422, not silently dropped.
      normalize: false,
    })
      // Destructured so Elysia's static analysis builds nothing more per request; `user` exists
      // only where the auth macro resolved it, which the error context's type cannot know.
      // @ts-expect-error
      .onError({ as: "global" }, ({ code, error, request, route, user }) => {
        telemetry.tagHook({ request, route, user });
        return renderError(code, error, deps.log, deps.storage);
      })
      // Tags each request with its route template and user for the request log and metrics.
      .onAfterHandle({ as: "global" }, telemetry.tagHook)
      .onRequest(({ request }) => {
        const length = Number(request.headers.get("content-length") ?? 0);
        if (length > deps.config.maxBodyBytes) {
          throw new ApiError(413, "payload_too_large", `Request body is larger than ${deps.config.maxBodyBytes} bytes`);
        }
      })
      .use(docsModule(deps.version))
      .use(healthModule(deps))
      .use(authModule(deps))
      .use(usersModule(deps))
      .use(conversationsModule(deps))
      .use(messagesModule(deps))
      .use(metricsModule(deps, telemetry))
      .use(webModule())
  );
}

export type App = ReturnType<typeof createApp>;
