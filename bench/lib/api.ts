// The REST side of the load generator, written against the contract (API.md): signup, login, groups.
// The same calls set up both the real server and the ceiling, which answers them from memory.

export interface BenchUser {
  id: string;
  username: string;
  token: string;
}

export const PASSWORD = "bench-password-1";

export async function call<T = any>(base: string, method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path} -> ${res.status}: ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : null) as T;
}

/** Runs tasks with at most `limit` in flight, in order of index. */
export async function bounded<T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, count) }, async () => {
    while (next < count) {
      const i = next++;
      out[i] = await task(i);
    }
  });
  await Promise.all(lanes);
  return out;
}

/**
 * Signs up and logs in `count` users. Signup and login each cost an argon2id hash (~30-50 ms of
 * one core), so they run concurrently in bounded batches rather than one by one or all at once.
 */
export async function createUsers(base: string, count: number, tag: string, concurrency = 8, onProgress?: (n: number) => void): Promise<BenchUser[]> {
  let done = 0;
  return bounded(count, concurrency, async (i) => {
    const username = `b${tag}_${i}`;
    const user = await call<{ id: string }>(base, "POST", "/api/v1/auth/signup", {
      username,
      email: `${username}@bench.invalid`,
      password: PASSWORD,
      full_name: `Bench User ${i}`,
    });
    const login = await call<{ access_token: string }>(base, "POST", "/api/v1/auth/login", { username, password: PASSWORD });
    if (++done % 100 === 0) onProgress?.(done);
    return { id: user.id, username, token: login.access_token };
  });
}

/** Creates a group owned by members[0] holding every member; returns its id. */
export async function createGroup(base: string, members: BenchUser[], name: string): Promise<string> {
  const [owner, ...others] = members;
  const conv = await call<{ id: string }>(
    base,
    "POST",
    "/api/v1/conversations",
    { participant_ids: others.map((u) => u.id), name, is_group: true },
    owner!.token,
  );
  return conv.id;
}

/** `groups` groups of `size` consecutive users each (group g holds users g*size … g*size+size-1). */
export async function createGroups(base: string, users: BenchUser[], groups: number, size: number, name: string): Promise<string[]> {
  if (groups * size > users.length) throw new Error(`${name}: needs ${groups * size} users, have ${users.length}`);
  return bounded(groups, 8, (g) => createGroup(base, users.slice(g * size, g * size + size), `${name}-${g}`));
}
