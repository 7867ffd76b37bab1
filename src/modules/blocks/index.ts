// Block routes: block and unblock a user, list whom you blocked. Blocking is silent: the blocked
// user is never told (no frame, nothing in their views); they only meet 403 `blocked` when they
// try to send in your direct conversation or add you to a group.
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { authPlugin, bearerSecurity } from "../auth/plugin";
import { errorResponses, IdParams, Limit, Offset } from "../shared-model";
import { UserView } from "../users/model";
import { toUserView } from "../users/service";
import { block, listBlocked, unblock } from "./service";

export const blocksModule = (deps: Deps) =>
  new Elysia({ prefix: "/api/v1/users", tags: ["users"] })
    .use(authPlugin(deps))
    .get(
      "/me/blocks",
      async ({ query, user }) => (await listBlocked(deps, user.id, query.limit ?? 50, query.offset ?? 0)).map((row) => toUserView(row, deps.hub)),
      {
        auth: true,
        query: t.Object({ limit: Limit(50, 100), offset: Offset }),
        response: { 200: t.Array(UserView), ...errorResponses },
        detail: { summary: "Users you have blocked, most recent first", security: bearerSecurity },
      },
    )
    .put(
      "/:user_id/block",
      async ({ params, user, set }) => {
        await block(deps, user.id, params.user_id);
        set.status = 204;
      },
      {
        auth: true,
        params: IdParams("user_id"),
        response: { 204: t.Void(), ...errorResponses },
        detail: {
          summary: "Block a user",
          description:
            "They can no longer send in your direct conversation (403 blocked) nor add you to a group (403 blocked), and you stop receiving their typing and presence frames. They are not told. Blocking again is a no-op (204); blocking yourself is 422; an unknown user is 404.",
          security: bearerSecurity,
        },
      },
    )
    .delete(
      "/:user_id/block",
      async ({ params, user, set }) => {
        await unblock(deps, user.id, params.user_id);
        set.status = 204;
      },
      {
        auth: true,
        params: IdParams("user_id"),
        response: { 204: t.Void(), ...errorResponses },
        detail: { summary: "Unblock a user (204 also when they were not blocked)", security: bearerSecurity },
      },
    );

