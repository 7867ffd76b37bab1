// Auth routes: signup, login (JSON or OAuth2 password form), me.
import { Elysia } from "elysia";
import type { Deps } from "../../deps";
import { ErrorBody, errorResponses, parseBody } from "../shared-model";
import { UserView } from "../users/model";
import { toUserView } from "../users/service";
import { LoginBody, SignupBody, TokenResponse } from "./model";
import { loginBudget, rateLimited } from "./login-budget";
import { authPlugin, bearerSecurity } from "./plugin";
import { checkCredentials, findUserByLogin, issueToken, signup } from "./service";

// Brute force: 10 failed-or-not attempts per account (by username and by email together, and
// current_password checks too; an address the account logged in from has its own 10) and 50 per
// address in any minute; 10 signups per address in 10 minutes.
export const authModule = (deps: Deps) => {
  const budget = loginBudget(deps);
  const { perAddress, signupsPerAddress } = budget;

  return new Elysia({ prefix: "/api/v1/auth", tags: ["auth"] })
    .use(authPlugin(deps))
    .onParse(parseBody(deps.config.maxBodyBytes))
    .post(
      "/signup",
      async ({ body, set, request }) => {
        const wait = await signupsPerAddress.hit(deps.clientAddress(request));
        if (wait) throw rateLimited("signups from this address", wait);
        const user = await signup(deps, body);
        set.status = 201;
        return toUserView(user, deps.hub, true);
      },
      {
        body: SignupBody,
        response: { 201: UserView, 409: ErrorBody, ...errorResponses },
        detail: { summary: "Create an account", description: "At most 10 signups per client address in any 10 minutes (429 with Retry-After)." },
      },
    )
    .post(
      "/login",
      async ({ body, request, set }) => {
        const address = deps.clientAddress(request);
        // One lookup: it keys the account's budget (username and email alike) and is checked below.
        const row = await findUserByLogin(deps, body.username);
        const wait = Math.max(await perAddress.hit(address), await budget.spend(budget.loginKeys(body.username, row, address)));
        if (wait) throw rateLimited("login attempts", wait);
        const user = await checkCredentials(row, body.password);
        budget.succeeded(user.id, address);
        // A bearer token must not be kept by any cache on the way (RFC 6749 §5.1).
        set.headers["cache-control"] = "no-store";
        set.headers.pragma = "no-cache";
        return issueToken(deps.tokens, user);
      },
      {
        body: LoginBody,
        response: { 200: TokenResponse, ...errorResponses },
        detail: {
          summary: "Log in (JSON or OAuth2 password form)",
          description: "Accepts `application/json` `{username, password}` or the OAuth2 password form; username may be the email.",
        },
      },
    )
    .get("/me", ({ user }) => toUserView(user, deps.hub, true), {
      auth: true,
      response: { 200: UserView, ...errorResponses },
      detail: { summary: "Your own profile", security: bearerSecurity },
    });
};
