// The `auth` macro: a route declaring `auth: true` gets `user` resolved from the bearer token, or a 401.
import { Elysia } from "elysia";
import type { AppDeps } from "../../app";
import { requireUser } from "./service";

// Either a pasted bearer token or the OAuth2 password flow of the docs page.
export const bearerSecurity: Record<string, string[]>[] = [{ bearerAuth: [] }, { oauth2: [] }];

export const authPlugin = (deps: Pick<AppDeps, "db" | "tokens">) =>
  new Elysia({ name: "auth-macro", seed: deps.tokens }).macro({
    auth: {
      async resolve({ request }) {
        return { user: await requireUser(deps.db, deps.tokens, request.headers.get("authorization")) };
      },
    },
  });
