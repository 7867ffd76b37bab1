// The Hub over Bun's native pub/sub: one topic per conversation and per user, sockets keyed by user
// so "every device of this user" is a map lookup, and each event encoded to JSON once per publish.
import type { Server, ServerWebSocket } from "bun";
import { conversationTopic, userTopic, type Hub } from "./hub";

export interface SocketData {
  id: number;
  userId: string | null;
  [key: string]: unknown;
}

export type ChatSocket = ServerWebSocket<SocketData>;

export class BunHub implements Hub {
  private server: Server<SocketData> | null = null;
  private readonly sockets = new Map<string, Set<ChatSocket>>();
  /** Events handed to Bun (one per publish, whatever the number of receivers). */
  published = 0;

  attach(server: Server<SocketData>) {
    this.server = server;
  }

  publish(topic: string, event: object) {
    if (!this.server) return;
    this.published++;
    this.server.publish(topic, JSON.stringify(event));
  }

  /** Publishes one pre-encoded payload to several topics (presence, typing) without re-encoding. */
  publishEncoded(topics: Iterable<string>, payload: string) {
    if (!this.server) return;
    for (const topic of topics) this.server.publish(topic, payload);
  }

  joinConversation(conversationId: string, userIds: string[]) {
    const topic = conversationTopic(conversationId);
    for (const id of userIds) for (const ws of this.sockets.get(id) ?? []) ws.subscribe(topic);
  }

  leaveConversation(conversationId: string, userIds: string[]) {
    const topic = conversationTopic(conversationId);
    for (const id of userIds) for (const ws of this.sockets.get(id) ?? []) ws.unsubscribe(topic);
  }

  isOnline(userId: string) {
    return (this.sockets.get(userId)?.size ?? 0) > 0;
  }

  socketCount(userId: string) {
    return this.sockets.get(userId)?.size ?? 0;
  }

  get openSockets() {
    let n = 0;
    for (const set of this.sockets.values()) n += set.size;
    return n;
  }

  /** Registers an authenticated socket and subscribes it; returns true when it is the user's first. */
  add(ws: ChatSocket, userId: string, conversationIds: string[]): boolean {
    let set = this.sockets.get(userId);
    const first = !set || set.size === 0;
    if (!set) this.sockets.set(userId, (set = new Set()));
    set.add(ws);
    ws.subscribe(userTopic(userId));
    for (const id of conversationIds) ws.subscribe(conversationTopic(id));
    return first;
  }

  /** Forgets a socket; returns true when it was the user's last. */
  remove(ws: ChatSocket, userId: string): boolean {
    const set = this.sockets.get(userId);
    if (!set || !set.delete(ws)) return false;
    if (set.size > 0) return false;
    this.sockets.delete(userId);
    return true;
  }

  /** Every open socket, for shutdown. */
  *all(): Iterable<ChatSocket> {
    for (const set of this.sockets.values()) yield* set;
  }
}
