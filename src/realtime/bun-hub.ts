// The Hub over Bun's native pub/sub: one topic per conversation and per user, sockets keyed by user
// so "every device of this user" is a map lookup, and each event encoded to JSON once per publish.
import type { Server, ServerWebSocket } from "bun";
import { conversationTopic, userTopic, type Hub } from "../ports/bus";
import { CLOSE } from "./protocol";

export interface SocketData {
  id: number;
  userId: string | null;
  /** The API token the socket authenticated with, if any (see Hub.endSessions). */
  apiTokenId?: string | null;
  [key: string]: unknown;
}

export type ChatSocket = ServerWebSocket<SocketData>;

export class BunHub implements Hub {
  private server: Server<SocketData> | null = null;
  private readonly sockets = new Map<string, Set<ChatSocket>>();
  /**
   * The conversations of each user with an open socket, so a frame naming a conversation the user
   * is not in costs a set lookup, not a query. Loaded when the user's socket authenticates and kept
   * exact by joinConversation and leaveConversation (the change feed calls them for every membership
   * change); dropped with the last socket.
   */
  private readonly memberships = new Map<string, Set<string>>();
  /** Users whose last socket closed but whose going offline is not announced yet (presence.ts). */
  readonly lingering = new Set<string>();
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
    for (const id of userIds) {
      this.memberships.get(id)?.add(conversationId);
      for (const ws of this.sockets.get(id) ?? []) ws.subscribe(topic);
    }
  }

  leaveConversation(conversationId: string, userIds: string[]) {
    const topic = conversationTopic(conversationId);
    for (const id of userIds) {
      this.memberships.get(id)?.delete(conversationId);
      for (const ws of this.sockets.get(id) ?? []) ws.unsubscribe(topic);
    }
  }

  isOnline(userId: string) {
    return (this.sockets.get(userId)?.size ?? 0) > 0 || this.lingering.has(userId);
  }

  endSessions(userId: string, reason: string, apiTokenId?: string) {
    for (const ws of [...(this.sockets.get(userId) ?? [])]) {
      if (apiTokenId === undefined || ws.data.apiTokenId === apiTokenId) ws.close(CLOSE.unauthorized, reason);
    }
  }

  /** Whether a connected user is in the conversation, from memory (false for users without sockets). */
  isMemberOnline(userId: string, conversationId: string) {
    return this.memberships.get(userId)?.has(conversationId) ?? false;
  }

  socketCount(userId: string) {
    return this.sockets.get(userId)?.size ?? 0;
  }

  get openSockets() {
    let n = 0;
    for (const set of this.sockets.values()) n += set.size;
    return n;
  }

  /** The ids of users with at least one open socket. */
  connectedUsers(): IterableIterator<string> {
    return this.sockets.keys();
  }

  socketsOf(userId: string): ReadonlySet<ChatSocket> {
    return this.sockets.get(userId) ?? new Set();
  }

  /** Registers an authenticated socket and subscribes it; returns true when it is the user's first. */
  add(ws: ChatSocket, userId: string, conversationIds: string[]): boolean {
    let set = this.sockets.get(userId);
    const first = !set || set.size === 0;
    if (!set) this.sockets.set(userId, (set = new Set()));
    set.add(ws);
    let member = this.memberships.get(userId);
    if (!member) this.memberships.set(userId, (member = new Set()));
    for (const id of conversationIds) member.add(id);
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
    this.memberships.delete(userId);
    return true;
  }

  /** Every open socket, for shutdown. */
  *all(): Iterable<ChatSocket> {
    for (const set of this.sockets.values()) yield* set;
  }
}
