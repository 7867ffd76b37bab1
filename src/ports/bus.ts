// The bus port: topics and the fan-out interface features publish through. The Bun bus
// (src/realtime/bun-hub.ts) implements it in-process; a cross-node broker (Redis Streams, NATS)
// implements the same interface, so features and routes never know which one runs.

export const conversationTopic = (conversationId: string) => `conversation:${conversationId}`;
export const userTopic = (userId: string) => `user:${userId}`;

export interface Hub {
  /** Sends one event to every subscriber of a topic; the JSON is encoded once. */
  publish(topic: string, event: object): void;
  /** Subscribes every open socket of these users to the conversation's topic (new DM or group). */
  joinConversation(conversationId: string, userIds: string[]): void;
  /** Unsubscribes every open socket of these users from the conversation's topic. */
  leaveConversation(conversationId: string, userIds: string[]): void;
  /** True while the user has at least one authenticated socket open (or has just lost the last one). */
  isOnline(userId: string): boolean;
  /**
   * Ends every live session of the user at once (sockets closed with 4401): the one path for a
   * password change, a disabled account and a revoked API token (then `apiTokenId` limits it to the
   * sockets that token opened). REST needs nothing: its next request re-reads the user or token.
   */
  endSessions(userId: string, reason: string, apiTokenId?: string): void;
  /** Only on a cross-instance bus (`--broker-url`): whether its broker answers, for /health. */
  brokerState?(): "ok" | "unreachable";
}

/** A hub that delivers nothing: for tools that run services without sockets (CLI, unit tests). */
export const nullHub: Hub = {
  publish() {},
  joinConversation() {},
  leaveConversation() {},
  isOnline: () => false,
  endSessions() {},
};
