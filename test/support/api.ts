// A small typed HTTP client for the REST contract, with helpers to make users, conversations and messages.
import { expect } from "bun:test";

export const API = "/api/v1";
export const PASSWORD = "correct horse battery";
/** An id nobody has: the shape of the server's own (v7) ids. */
export const randomUuid = () => Bun.randomUUIDv7();
/** A short unique lowercase tag, so each test's search terms only match its own users. */
export const tag = () => "t" + Bun.randomUUIDv7().replaceAll("-", "").slice(-10);

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export function client(baseUrl: string) {
  async function request<T = any>(
    method: string,
    path: string,
    options: { token?: string; body?: unknown; form?: Record<string, string>; headers?: Record<string, string>; raw?: string } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(options.form).toString();
    } else if (options.raw !== undefined) {
      headers["content-type"] ??= "application/json";
      body = options.raw;
    } else if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    const res = await fetch(baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {}
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  let counter = 0;
  /** Signs up a fresh user and logs in; returns the user view and its token. */
  async function newUser(prefix = "user") {
    const username = `${prefix}_${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const password = PASSWORD;
    const signup = await request("POST", "/api/v1/auth/signup", {
      body: { username, email: `${username}@example.com`, password, full_name: `Full ${username}` },
    });
    if (signup.status !== 201) throw new Error(`signup failed: ${signup.status} ${JSON.stringify(signup.body)}`);
    const login = await request("POST", "/api/v1/auth/login", { body: { username, password } });
    if (login.status !== 200) throw new Error(`login failed: ${login.status} ${JSON.stringify(login.body)}`);
    return { user: signup.body as { id: string; username: string; email: string }, token: login.body.access_token as string, password };
  }

  return {
    request,
    newUser,
    get: <T = any>(path: string, token?: string) => request<T>("GET", path, { token }),
    post: <T = any>(path: string, body: unknown, token?: string) => request<T>("POST", path, { token, body }),
    put: <T = any>(path: string, body: unknown, token?: string) => request<T>("PUT", path, { token, body }),
    dm: (token: string, otherId: string) => request("POST", "/api/v1/conversations", { token, body: { participant_ids: [otherId] } }),
    group: (token: string, name: string, ids: string[]) =>
      request("POST", "/api/v1/conversations", { token, body: { participant_ids: ids, name, is_group: true } }),
    send: (token: string, conversationId: string, content: string, clientMsgId?: string) =>
      request("POST", `/api/v1/conversations/${conversationId}/messages`, {
        token,
        body: clientMsgId === undefined ? { content } : { content, client_msg_id: clientMsgId },
      }),
  };
}


export type Api = ReturnType<typeof client>;
export type TestUser = { user: { id: string; username: string; email: string } & Record<string, any>; token: string; password: string };

/** Signs up a user with a chosen username (and full name) and logs in. */
export async function userNamed(api: Api, username: string, fullName?: string | null): Promise<TestUser> {
  const signup = await api.post(`${API}/auth/signup`, {
    username,
    email: `${username}@example.com`,
    password: PASSWORD,
    ...(fullName === undefined ? {} : { full_name: fullName }),
  });
  if (signup.status !== 201) throw new Error(`signup ${username}: ${signup.status} ${JSON.stringify(signup.body)}`);
  const login = await api.post(`${API}/auth/login`, { username, password: PASSWORD });
  if (login.status !== 200) throw new Error(`login ${username}: ${login.status} ${JSON.stringify(login.body)}`);
  return { user: signup.body, token: login.body.access_token, password: PASSWORD };
}

/** Every message of a conversation through REST, ascending, paging with `after`. */
export async function restHistory(api: Api, token: string, conversationId: string) {
  const all: any[] = [];
  for (;;) {
    const page = await api.get(`${API}/conversations/${conversationId}/messages?limit=100&after=${all.at(-1)?.seq ?? 0}`, token);
    expect(page.status).toBe(200);
    all.push(...page.body);
    if (page.body.length < 100) return all;
  }
}
