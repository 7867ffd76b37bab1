// The password-guessing budget, one per app: every way of trying a password (login by username, login
// by email, `current_password` on PUT /users/me) spends from the same per-account count, and logins
// also from a per-address count. Signups have their own per-address count.
//
// An account's count is shared by every address, so guesses spread over many addresses are limited
// too; but then ten wrong logins a minute from anywhere would lock its owner out for good. So an
// address the account has logged in from (in this process, recently) spends its own count for that
// account: the owner at a known address is not locked out by someone guessing elsewhere.
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
  /** The per-account key a password try spends from (see above); `address` is the client's. */
  accountKey(userId: string, address: string): string;
  /** The key a login spends from: its account's, else the login text's own. */
  loginKey(login: string, account: { id: string } | null | undefined, address: string): string;
  /** A right password from `address`: its tries for the account start again, on a count of its own. */
  succeeded(userId: string, address: string): void;
}

/** Addresses remembered per account, and accounts remembered in all (oldest forgotten first). */
const ADDRESSES_PER_ACCOUNT = 8;
const ACCOUNTS_REMEMBERED = 100_000;
const REMEMBER_MS = 30 * 24 * 60 * MINUTE_MS;

/** Where each account recently logged in from, bounded in size, in memory (a restart forgets). */
function knownAddresses() {
  const byAccount = new Map<string, Map<string, number>>();
  return {
    has(userId: string, address: string, at = Date.now()) {
      const seen = byAccount.get(userId)?.get(address);
      return seen !== undefined && at - seen < REMEMBER_MS;
    },
    add(userId: string, address: string, at = Date.now()) {
      const addresses = byAccount.get(userId) ?? new Map<string, number>();
      byAccount.delete(userId); // re-inserted last: the map's order is least recently used first
      addresses.delete(address);
      addresses.set(address, at);
      if (addresses.size > ADDRESSES_PER_ACCOUNT) addresses.delete(addresses.keys().next().value!);
      byAccount.set(userId, addresses);
      if (byAccount.size > ACCOUNTS_REMEMBERED) byAccount.delete(byAccount.keys().next().value!);
    },
  };
}

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
  const known = knownAddresses();
  const accountKey = (userId: string, address: string) => (known.has(userId, address) ? `id:${userId}@${address}` : `id:${userId}`);
  const perAccount = limiter("login-account", TRIES_PER_ACCOUNT, MINUTE_MS);
  budget = {
    perAccount,
    perAddress: limiter("login-address", TRIES_PER_ADDRESS, MINUTE_MS),
    signupsPerAddress: limiter("signup-address", SIGNUPS_PER_ADDRESS, SIGNUP_WINDOW_MS),
    accountKey,
    loginKey: (login, account, address) => (account ? accountKey(account.id, address) : `login:${login.toLowerCase()}`),
    succeeded(userId, address) {
      perAccount.reset(accountKey(userId, address));
      known.add(userId, address);
    },
  };
  budgets.set(deps, budget);
  return budget;
}
