// The typed client SDK: `api`, an Eden treaty over the server's own App type (a wrong path, field or
// query is a compile error, responses are typed), and `socket()`, the reconnecting socket that never
// misses a message. Runs in Bun, Node 22+ and browsers: `bun run build:client` bundles it into
// src/web/client.js, which every server serves at /client.js and the built-in web client uses.
import { treaty } from "@elysiajs/eden/treaty2";
import type { App } from "../src/app";
import { ChatSocket, type ConversationPosition, type SocketOptions } from "./socket";

export { ChatSendError, ChatSocket } from "./socket";
export type { SendInput, SocketEvents, SocketOptions, SocketState } from "./socket";
export type * from "./frames";
export type { App };

type MaybePromise<T> = T | Promise<T>;
/** A token, or a function asked for the current one before each request and each (re)connect. */
export type TokenSource = string | null | undefined | (() => MaybePromise<string | null | undefined>);

export interface ChatClientOptions {
  /** The server's address, e.g. "https://chat.example.com" (no trailing /api/v1). */
  baseUrl: string;
  /** A login access token or an API token (`chat_…`). */
  token?: TokenSource;
  /** The fetch to use (tests, proxies); the global one by default. */
  fetch?: typeof fetch;
  /** The WebSocket class; the global one by default. */
  WebSocket?: typeof WebSocket;
}

/** Conversations listed per discovery request (the route's maximum). */
const DISCOVERY_PAGE = 100;

export function createChatClient(options: ChatClientOptions) {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  let token: TokenSource = options.token;
  const currentToken = async () => (typeof token === "function" ? await token() : token);

  const api = treaty<App>(baseUrl, {
    // Eden turns every date-looking string into a Date by default, message content included; the
    // contract's timestamps are strings, and so are the types.
    parseDate: false,
    ...(options.fetch ? { fetcher: options.fetch } : {}),
    headers: async () => {
      const current = await currentToken();
      return current ? { authorization: `Bearer ${current}` } : undefined;
    },
  });

  /** Every conversation of the caller and where it stands, page by page. */
  async function discover(): Promise<ConversationPosition[]> {
    const found: ConversationPosition[] = [];
    for (let offset = 0; ; offset += DISCOVERY_PAGE) {
      const page = await api.api.v1.conversations.get({ query: { limit: DISCOVERY_PAGE, offset } });
      if (page.error) throw page.error;
      for (const c of page.data) {
        const rev = (c as { rev?: number }).rev;
        found.push({ id: c.id, seq: c.last_message?.seq ?? 0, ...(typeof rev === "number" ? { rev } : {}) });
      }
      if (page.data.length < DISCOVERY_PAGE) return found;
    }
  }

  return {
    api,
    /** Replaces the token for the next requests and socket connections. */
    setToken(next: TokenSource) {
      token = next;
    },
    /** The current token (after login(), the access token). */
    token: currentToken,
    /** Logs in with a password and keeps the access token for `api` and `socket()`. */
    async login(username: string, password: string) {
      const res = await api.api.v1.auth.login.post({ username, password });
      if (res.error) throw res.error;
      token = res.data.access_token;
      return res.data;
    },
    /** Opens the reconnecting socket (see SocketOptions for `since`, backoff and heartbeat). */
    socket(socketOptions: SocketOptions = {}) {
      const url = baseUrl.replace(/^http/, "ws") + "/api/v1/ws";
      return new ChatSocket({ url, token: currentToken, discover }, { WebSocket: options.WebSocket, ...socketOptions });
    },
  };
}

export type ChatClient = ReturnType<typeof createChatClient>;
