// The password-guessing budget, one per app: every way of trying a password (login by username, login
// by email, `current_password` on PUT /users/me) spends from the same per-account count, and logins
// also from a per-address count. Signups have their own per-address count.
import type { Deps } from "../../deps";
import { ApiError } from "../../errors";
import { createRateLimiter, type SharedRateLimiter } from "../../lib/rate-limiter";

const MINUTE_MS = 60_000;
/** Password tries (failed or not) per account and per address in any 60 s. */
export const TRIES_PER_ACCOUNT = 10;
export const TRIES_PER_ADDRESS = 50;
/** New accounts per address in any 10 minutes. */
export const SIGNUPS_PER_ADDRESS = 10;
const SIGNUP_WINDOW_MS = 10 * MINUTE_MS;

/** Counted across instances when the app has shared limiters (`--broker-url`): await each hit. */
export interface LoginBudget {
  perAccount: SharedRateLimiter;
  perAddress: SharedRateLimiter;
  signupsPerAddress: SharedRateLimiter;
}

export const accountKeyOf = (userId: string) => `id:${userId}`;

/** The key a login spends from: the account's id when the text names one, else the text itself. */
export const loginKeyOf = (login: string, account: { id: string } | null | undefined) =>
  account ? accountKeyOf(account.id) : `login:${login.toLowerCase()}`;

export const rateLimited = (what: string, retryAfter: number) =>
  new ApiError(429, "rate_limited", `Too many ${what}, try again later`, { "Retry-After": String(retryAfter) });

// Keyed by the deps object, so the auth and users modules of one app share one budget and two apps
// (two test servers in one process) never do.
const budgets = new WeakMap<object, LoginBudget>();

export function loginBudget(deps: Pick<Deps, "config" | "limiters">): LoginBudget {
  let budget = budgets.get(deps);
  if (budget) return budget;
  const enabled = deps.config.rateLimit;
  const limiter = (name: string, limit: number, windowMs: number) => {
    const local = createRateLimiter(limit, windowMs, enabled);
    return enabled && deps.limiters ? deps.limiters.create(name, limit, windowMs, local) : local;
  };
  budget = {
    perAccount: limiter("login-account", TRIES_PER_ACCOUNT, MINUTE_MS),
    perAddress: limiter("login-address", TRIES_PER_ADDRESS, MINUTE_MS),
    signupsPerAddress: limiter("signup-address", SIGNUPS_PER_ADDRESS, SIGNUP_WINDOW_MS),
  };
  budgets.set(deps, budget);
  return budget;
}
