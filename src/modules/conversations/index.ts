// Conversation routes: create, list, get, rename.
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import type { Awaitable, ConversationRow } from "../../ports/stores";
import { ApiError } from "../../errors";
import { createRateLimiter } from "../../lib/rate-limiter";
import { authPlugin, bearerSecurity } from "../auth/plugin";
import { errorResponses, IdParams, parseBody } from "../shared-model";
import { ConversationListQuery, ConversationView, CreateConversationBody, LIST_PARTICIPANTS, UpdateConversationBody } from "./model";
import {
  createConversation,
  getConversationRow,
  listConversationRows,
  renameConversation,
  toConversationViews,
} from "./service";

// Anyone may put anyone into a group, and every group weighs on each member's list and sockets:
// a creator may start 10 groups in any hour. (Adding members has its own hourly limit: members/index.ts.)
export const GROUPS_PER_HOUR = 10;

export const conversationsModule = (deps: Deps) => {
  const groupsPerCreator = createRateLimiter(GROUPS_PER_HOUR, 3_600_000, deps.config.rateLimit);
  const view = async (me: string, row: Awaitable<ConversationRow>) => (await toConversationViews(deps, deps.hub, me, [await row]))[0]!;
  return new Elysia({ prefix: "/api/v1/conversations", tags: ["conversations"] })
    .use(authPlugin(deps))
    .onParse(parseBody(deps.config.maxBodyBytes))
    .post(
      "",
      async ({ body, user, set }) => {
        if (body.is_group) {
          const wait = groupsPerCreator.hit(user.id);
          if (wait) {
            throw new ApiError(429, "rate_limited", `At most ${GROUPS_PER_HOUR} new groups per hour, try again later`, { "Retry-After": String(wait) });
          }
        }
        const { row, created } = await createConversation(deps, deps.changes, deps.hub, user.id, body);
        set.status = created ? 201 : 200;
        return view(user.id, row);
      },
      {
        auth: true,
        body: CreateConversationBody,
        response: { 200: ConversationView, 201: ConversationView, ...errorResponses },
        detail: {
          summary: "Start a direct conversation or a group",
          description: `A direct conversation is unique per pair: asking again returns it with 200. Each user may create ${GROUPS_PER_HOUR} groups in any hour (then 429 with Retry-After).`,
          security: bearerSecurity,
        },
      },
    )
    .get(
      "",
      async ({ query, user }) =>
        toConversationViews(deps, deps.hub, user.id, await listConversationRows(deps, user.id, query.limit ?? 50, query.offset ?? 0), LIST_PARTICIPANTS),
      {
        auth: true,
        query: ConversationListQuery,
        response: { 200: t.Array(ConversationView), ...errorResponses },
        detail: {
          summary: "Your conversations, most recent activity first",
          description: `Groups of more than ${LIST_PARTICIPANTS} members list only their first ${LIST_PARTICIPANTS} participants and you (member_count has the total; GET /conversations/{id} lists all).`,
          security: bearerSecurity,
        },
      },
    )
    .get("/:conversation_id", ({ params, user }) => view(user.id, getConversationRow(deps, user.id, params.conversation_id)), {
      auth: true,
      params: IdParams("conversation_id"),
      response: { 200: ConversationView, ...errorResponses },
      detail: { summary: "One of your conversations", security: bearerSecurity },
    })
    .put(
      "/:conversation_id",
      ({ params, body, user }) => view(user.id, renameConversation(deps, deps.changes, deps.hub, user.id, params.conversation_id, body.name)),
      {
        auth: true,
        params: IdParams("conversation_id"),
        body: UpdateConversationBody,
        response: { 200: ConversationView, ...errorResponses },
        detail: { summary: "Rename a group (direct conversations cannot be renamed)", security: bearerSecurity },
      },
    );
};
