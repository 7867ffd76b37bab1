// Search routes: full-text search over the messages of the caller's conversations.
import { Elysia } from "elysia";
import type { Deps } from "../../deps";
import { authPlugin, bearerSecurity } from "../auth/plugin";
import { errorResponses } from "../shared-model";
import { DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, QUERY_SYNTAX, SearchPage, SearchQuery } from "./model";
import { searchMessages } from "./service";

const JSON_HEADERS = { "content-type": "application/json" };

export const searchModule = (deps: Deps) =>
  new Elysia({ prefix: "/api/v1/search", tags: ["search"] })
    .use(authPlugin(deps))
    .get(
      "/messages",
      async ({ query, user }) =>
        // Built field by field (toMessageView), so nothing private can be in it: encoded here rather
        // than checked again against the schema below, which documents it.
        new Response(
          JSON.stringify(
            await searchMessages(deps, user.id, {
              q: query.q,
              conversationId: query.conversation_id,
              limit: query.limit ?? DEFAULT_SEARCH_LIMIT,
              before: query.before,
            }),
          ),
          { headers: JSON_HEADERS },
        ),
      {
        auth: true,
        query: SearchQuery,
        response: { 200: SearchPage, ...errorResponses },
        detail: {
          summary: "Search the messages of your conversations",
          description:
            `Newest first, ${DEFAULT_SEARCH_LIMIT} per page (limit up to ${MAX_SEARCH_LIMIT}); pass next_before as before for older ones. ` +
            "Only conversations you are a member of are searched (conversation_id narrows it to one; 404 when it is not yours). " +
            "Deleted messages never match; edited ones match their new text only. " +
            QUERY_SYNTAX,
          security: bearerSecurity,
        },
      },
    );
