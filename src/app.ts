// createApp(deps): the whole HTTP API as an Elysia instance, without listening, shared by the server and tests.
import { Elysia } from "elysia";
import type { Deps } from "./deps";
import { ApiError, methodNotAllowed, renderError } from "./errors";
import { allowedMethods } from "./http/allowed-methods";
import { attachmentsModule, UPLOAD_PATH } from "./modules/attachments";
import { MULTIPART_OVERHEAD_BYTES, tooLarge } from "./modules/attachments/upload";
import { authModule } from "./modules/auth";
import { blocksModule } from "./modules/blocks";
import { changesModule } from "./modules/changes";
import { conversationsModule } from "./modules/conversations";
import { docsModule } from "./modules/docs";
import { healthModule } from "./modules/health";
import { membersModule } from "./modules/members";
import { messagesModule } from "./modules/messages";
import { metricsModule } from "./modules/metrics";
import { searchModule } from "./modules/search";
import { Telemetry } from "./modules/metrics/telemetry";
import { usersModule } from "./modules/users";
import { webModule } from "./modules/web";
import { ErrorBody } from "./modules/shared-model";
import { WS_PATH } from "./realtime/socket";


export function createApp(deps: Deps) {
  const telemetry = deps.telemetry ?? new Telemetry(deps.log, deps.version);
  const methodsFor = allowedMethods(() => app.routes);
  const app = (
    new Elysia({
      // Unknown body fields are a 422, not silently dropped.
      normalize: false,
    })
      // Destructured so Elysia's static analysis builds nothing more per request; `user` exists
      // only where the auth macro resolved it, which the error context's type cannot know.
      // @ts-expect-error
      .onError({ as: "global" }, ({ code, error, request, route, user }) => {
        telemetry.tagHook({ request, route, user });
        if (code === "NOT_FOUND") {
          const allowed = methodsFor(new URL(request.url).pathname);
          if (allowed.length > 0) return methodNotAllowed(request.method, allowed);
        }
        return renderError(code, error, deps.log, deps.storage);
      })
      // Tags each request with its route template and user for the request log and metrics.
      .onAfterHandle({ as: "global" }, telemetry.tagHook)
      .onRequest(({ request }) => {
        const length = Number(request.headers.get("content-length") ?? 0);
        if (length > deps.config.maxBodyBytes) {
          // Attachments: uploads have their own limit (and receiveUpload checks it again while they stream).
          if (request.method === "POST" && new URL(request.url).pathname === UPLOAD_PATH) {
            if (length <= deps.config.maxUploadBytes + MULTIPART_OVERHEAD_BYTES) return;
            throw tooLarge(deps.config.maxUploadBytes);
          }
          throw new ApiError(413, "payload_too_large", `Request body is larger than ${deps.config.maxBodyBytes} bytes`);
        }
      })
      .use(docsModule(deps.version))
      .use(healthModule(deps))
      .use(authModule(deps))
      .use(blocksModule(deps))
      .use(usersModule(deps))
      .use(conversationsModule(deps))
      .use(membersModule(deps))
      .use(messagesModule(deps))
      .use(changesModule(deps))
      .use(attachmentsModule(deps))
      .use(searchModule(deps))
      .use(metricsModule(deps, telemetry))
      .use(webModule())
      // Upgrades are taken before the app (server.ts); a plain GET of the socket path lands here.
      .get(WS_PATH, () => {
        throw new ApiError(426, "upgrade_required", "This endpoint is a WebSocket: open it with an upgrade request", { Upgrade: "websocket" });
      }, {
        response: { 426: ErrorBody },
        detail: {
          summary: "The WebSocket endpoint",
          description: "Open it with a WebSocket upgrade (the frames are in the README). A plain GET answers 426.",
          tags: ["realtime"],
        },
      })
  );
  return app;
}

/** The API's type, for Eden treaty clients (client/): a wrong path or field is a compile error there. */
export type App = ReturnType<typeof createApp>;
