// The password-guessing budget, one per app: every way of trying a password (login by username, login
// by email, `current_password` on PUT /users/me) spends from the same per-account count, and logins
// also from a per-address count. Signups have their own per-address count.
import type { Deps } from "../../deps";
import { ApiError } from "../../errors";
import { createRateLimiter, type RateLimiter } from "../../lib/rate-limiter";

const MINUTE_MS = 60_000;
/** Password tries (failed or not) per account and per address in any 60 s. */
export const TRIES_PER_ACCOUNT = 10;
export const TRIES_PER_ADDRESS = 50;
/** New accounts per address in any 10 minutes. */
export const SIGNUPS_PER_ADDRESS = 10;
const SIGNUP_WINDOW_MS = 10 * MINUTE_MS;

export interface LoginBudget {
  perAccount: RateLimiter;
  perAddress: RateLimiter;
  signupsPerAddress: RateLimiter;
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

export function loginBudget(deps: Pick<Deps, "config">): LoginBudget {
  let budget = budgets.get(deps);
  if (budget) return budget;
  const enabled = deps.config.rateLimit;
  budget = {
    perAccount: createRateLimiter(TRIES_PER_ACCOUNT, MINUTE_MS, enabled),
    perAddress: createRateLimiter(TRIES_PER_ADDRESS, MINUTE_MS, enabled),
    signupsPerAddress: createRateLimiter(SIGNUPS_PER_ADDRESS, SIGNUP_WINDOW_MS, enabled),
  };
  budgets.set(deps, budget);
  return budget;
}
