// The password-guessing budget, one per app: every way of trying a password (login by username, login
// by email, `current_password` on PUT /users/me) spends from the same per-account count, and logins
// also from a per-address count. Signups have their own per-address count.
//
// Each try spends the account's count at its address (`id:<user>@<address>`), and, unless the
// account has logged in from that address before, also the account's count over all addresses
// (`id:<user>`): guesses spread over many addresses are limited together, while the owner at an
// address they logged in from is not locked out by someone guessing elsewhere. Known addresses are
// remembered per process; both counts are the cluster's (shared limiters), so an address known only
// to another instance is merely held to both there.
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
  /** The per-account keys a password try spends from (see above); `address` is the client's. */
  accountKeys(userId: string, address: string): string[];
  /** The keys a login spends from: its account's, else the login text's own. */
  loginKeys(login: string, account: { id: string } | null | undefined, address: string): string[];
  /** Spends one try from each key; the longest wait, or 0 when every count had room. */
  spend(keys: string[]): Promise<number>;
  /** A right password from `address`: its tries start again, and the address is known from now on. */
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
  const accountKeys = (userId: string, address: string) =>
    known.has(userId, address) ? [`id:${userId}@${address}`] : [`id:${userId}@${address}`, `id:${userId}`];
  const perAccount = limiter("login-account", TRIES_PER_ACCOUNT, MINUTE_MS);
  budget = {
    perAccount,
    perAddress: limiter("login-address", TRIES_PER_ADDRESS, MINUTE_MS),
    signupsPerAddress: limiter("signup-address", SIGNUPS_PER_ADDRESS, SIGNUP_WINDOW_MS),
    accountKeys,
    loginKeys: (login, account, address) => (account ? accountKeys(account.id, address) : [`login:${login.toLowerCase()}`]),
    async spend(keys) {
      let wait = 0;
      for (const key of keys) wait = Math.max(wait, await perAccount.hit(key));
      return wait;
    },
    succeeded(userId, address) {
      for (const key of accountKeys(userId, address)) perAccount.reset(key);
      known.add(userId, address);
    },
  };
  budgets.set(deps, budget);
  return budget;
}
