// Search routes: full-text search over the messages of the caller's conversations.
import { Elysia } from "elysia";
import type { Deps } from "../../deps";
import { authPlugin, bearerSecurity } from "../auth/plugin";
import { errorResponses } from "../shared-model";
import { DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, QUERY_SYNTAX, SearchPage, SearchQuery } from "./model";
import { searchMessages } from "./service";
import { createRateLimiter } from "../../lib/rate-limiter";
import { rateLimited } from "../auth/login-budget";

const JSON_HEADERS = { "content-type": "application/json" };

/**
 * Searches per user in any 10 s. A search walks every match of its words across the whole server
 * before the membership filter (tens to hundreds of ms on a large corpus, on the event loop): a
 * search box typed into stays far below, a loop does not.
 */
export const SEARCHES_PER_10S = 20;

export const searchModule = (deps: Deps) => {
  const searches = createRateLimiter(SEARCHES_PER_10S, 10_000, deps.config.rateLimit);
  return new Elysia({ prefix: "/api/v1/search", tags: ["search"] })
    .use(authPlugin(deps))
    .get(
      "/messages",
      async ({ query, user }) => {
        const wait = searches.hit(user.id);
        if (wait) throw rateLimited("searches", wait);
        // Built field by field (toMessageView), so nothing private can be in it: encoded here rather
        // than checked again against the schema below, which documents it.
        return new Response(
          JSON.stringify(
            await searchMessages(deps, user.id, {
              q: query.q,
              conversationId: query.conversation_id,
              limit: query.limit ?? DEFAULT_SEARCH_LIMIT,
              before: query.before,
            }),
          ),
          { headers: JSON_HEADERS },
        );
      },
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
            `At most ${SEARCHES_PER_10S} searches per user in any 10 s (then 429 with Retry-After). ` +
            QUERY_SYNTAX,
          security: bearerSecurity,
        },
      },
    );
};
