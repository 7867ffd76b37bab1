// User routes: search, profile by id, update my profile.
import { Elysia } from "elysia";
import type { Deps } from "../../deps";
import { loginBudget, rateLimited } from "../auth/login-budget";
import { createRateLimiter } from "../../lib/rate-limiter";
import { authPlugin, bearerSecurity } from "../auth/plugin";
import { ErrorBody, errorResponses, IdParams, parseBody } from "../shared-model";
import { UpdateMeBody, UserSearchQuery, UserView } from "./model";
import { getUser, searchUsers, toUserView, updateMe } from "./service";
import { t } from "elysia";

/** Email changes (tried, whether taken or not) per user in any hour. */
export const EMAIL_CHANGES_PER_HOUR = 10;

export const usersModule = (deps: Deps) => {
  const budget = loginBudget(deps);
  // Changing your email answers 409 when another account has it: bounded, so it cannot be used to
  // test thousands of addresses for accounts (signups, which could tell the same, are bounded too).
  const emailChanges = createRateLimiter(EMAIL_CHANGES_PER_HOUR, 3_600_000, deps.config.rateLimit);
  return new Elysia({ prefix: "/api/v1/users", tags: ["users"] })
    .use(authPlugin(deps))
    .onParse(parseBody(deps.config.maxBodyBytes))
    .get(
      "",
      async ({ query, user }) =>
        (await searchUsers(deps, query.q, query.limit ?? 50, query.offset ?? 0)).map((row) =>
          toUserView(row, deps.hub, row.id === user.id),
        ),
      {
        auth: true,
        query: UserSearchQuery,
        response: { 200: t.Array(UserView), ...errorResponses },
        detail: { summary: "Search users by username or full-name prefix", security: bearerSecurity },
      },
    )
    .put(
      "/me",
      async ({ body, user, request }) => {
        // A current_password check is a password guess like a login: it spends the same account budget.
        const checksPassword = body.password !== undefined && !!body.current_password;
        const address = deps.clientAddress(request);
        if (checksPassword) {
          const wait = await budget.spend(budget.accountKeys(user.id, address));
          if (wait) throw rateLimited("password attempts", wait);
        }
        if (body.email !== undefined && body.email.toLowerCase() !== user.email.toLowerCase()) {
          const wait = emailChanges.hit(user.id);
          if (wait) throw rateLimited("email changes", wait);
        }
        const updated = await updateMe(deps, user, body, deps.hub);
        if (checksPassword) budget.succeeded(user.id, address);
        return toUserView(updated, deps.hub, true);
      },
      {
        auth: true,
        body: UpdateMeBody,
        response: { 200: UserView, 403: ErrorBody, 409: ErrorBody, ...errorResponses },
        detail: {
          summary: "Update your profile (password needs current_password)",
          description: `current_password tries share the account's login budget: 10 in any 60 s, then 429 with Retry-After. At most ${EMAIL_CHANGES_PER_HOUR} email changes (tried) per hour.`,
          security: bearerSecurity,
        },
      },
    )
    .get("/:user_id", async ({ params, user }) => toUserView(await getUser(deps, params.user_id), deps.hub, params.user_id === user.id), {
      auth: true,
      params: IdParams("user_id"),
      response: { 200: UserView, ...errorResponses },
      detail: { summary: "A user's public profile", security: bearerSecurity },
    });
};
