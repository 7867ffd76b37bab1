// The `auth` macro: a route declaring `auth: true` gets `user` resolved from the bearer token, or a 401.
import { Elysia } from "elysia";
import type { Deps } from "../../deps";
import type { UserRow } from "../../ports/stores";
import { unauthorized } from "../../errors";
import { requireUser } from "./service";

// Either a pasted bearer token or the OAuth2 password flow of the docs page.
export const bearerSecurity: Record<string, string[]>[] = [{ bearerAuth: [] }, { oauth2: [] }];

export const authPlugin = (deps: Pick<Deps, "stores" | "caches" | "tokens">) => {
  const authenticated = new WeakMap<Request, UserRow>();
  return new Elysia({ name: "auth-macro", seed: deps.tokens }).macro({
    auth: {
      // Checked in `transform`, which runs before validation: like the original service, a caller
      // without a valid token gets a 401, never a 422 that describes the route's schema.
      async transform({ request }) {
        authenticated.set(request, await requireUser(deps, deps.tokens, request.headers.get("authorization")));
      },
      resolve({ request }) {
        const user = authenticated.get(request);
        if (!user) throw unauthorized();
        return { user };
      },
    },
  });
};
