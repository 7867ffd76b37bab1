// The storage ports: the rows features read and write, one store interface per aggregate, and the
// caches in front of them. The SQLite adapter (src/db/stores/) implements them synchronously (its
// methods return values); a PostgreSQL adapter returns promises. Services `await` what a store
// returns, or keep a synchronous path through `andThen` where a hot path must not yield.

// The rows (plain types) live in rows.ts; importers take them from here.
import type {
  ApiTokenListing,
  ApiTokenRow,
  AttachmentRow,
  AttachmentUse,
  ConversationRow,
  MemberRole,
  MemberSettings,
  ParticipantRow,
  Revision,
  SearchHit,
  SearchTerm,
  SessionAccess,
  Taken,
  UserPatch,
  UserRow,
  WebhookRow,
  ConversationHead,
  CursorRow,
  MessageRecord,
  ReactionTally,
  SeqPage,
  UnreadRow,
} from "./rows";

export type * from "./rows";

/** A value now (SQLite) or later (a networked database). */
export type Awaitable<T> = T | Promise<T>;

/** A store as the SQLite adapter implements it: every method returns its value, never a promise. */
export type Sync<S> = { [K in keyof S]: S[K] extends (...args: infer A) => Awaitable<infer R> ? (...args: A) => R : S[K] };

/** Applies `next` to a value that may still be pending, without a microtask when it is not. */
export function andThen<T, U>(value: Awaitable<T>, next: (value: T) => Awaitable<U>): Awaitable<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/** Every value, as one array: a plain array when none is pending (SQLite), else a promise of it. */
export function andThenAll<T extends readonly unknown[]>(values: { [K in keyof T]: Awaitable<T[K]> }): Awaitable<T> {
  for (const value of values) if (value instanceof Promise) return Promise.all(values) as Promise<T>;
  return values as unknown as T;
}

export interface UserStore {
  byId(id: string): Awaitable<UserRow | null>;
  /** The account whose username key or email key is `key` (they never collide: emails have an @). */
  byLoginKey(key: string): Awaitable<UserRow | null>;
  /** Which of these keys another user (not `exceptId`) already holds, username checked first. */
  taken(usernameKey: string | null, emailKey: string | null, exceptId?: string): Awaitable<Taken | null>;
  /** Username or full-name prefix (lower-cased `term`, LIKE wildcards literal), by username; all users when null. */
  search(term: string | null, limit: number, offset: number): Awaitable<UserRow[]>;
  /** Inserts unless a key is taken, atomically. */
  insert(row: UserRow): Awaitable<UserRow | Taken>;
  /** Applies the patch unless a new key is taken, atomically; null when there is no such user. */
  update(id: string, patch: UserPatch): Awaitable<UserRow | Taken | null>;
  /** Sets or clears disabled_at (a disable also bumps token_version); false when already in that state. */
  setDisabled(id: string, disabled: boolean, at: number): Awaitable<boolean>;
  touchLastSeen(id: string, at: number): Awaitable<void>;
  sessionAccess(ids: string[]): Awaitable<SessionAccess[]>;
  /** Which of these ids are users. */
  existingIds(ids: string[]): Awaitable<string[]>;
}

export interface ApiTokenStore {
  insert(row: ApiTokenRow): Awaitable<ApiTokenRow>;
  /** Newest first, of one user or everyone, with the owner's username. */
  list(userId?: string): Awaitable<ApiTokenListing[]>;
  byHash(hash: string): Awaitable<ApiTokenRow | null>;
  byIds(ids: string[]): Awaitable<ApiTokenRow[]>;
  /** Sets revoked_at unless already set: the row and whether this call revoked it; null when unknown. */
  revoke(id: string, at: number): Awaitable<{ row: ApiTokenRow; revoked: boolean } | null>;
  touch(id: string, at: number): Awaitable<void>;
}

export interface BlockStore {
  /** The ids of the users who have blocked `userId`. */
  blockersOf(userId: string): Awaitable<string[]>;
  /** Blocking again changes nothing. */
  add(blockerId: string, blockedId: string, at: number): Awaitable<void>;
  remove(blockerId: string, blockedId: string): Awaitable<void>;
  /** The users `blockerId` has blocked, most recently blocked first. */
  blockedBy(blockerId: string, limit: number, offset: number): Awaitable<UserRow[]>;
}

/** What a revision's change returns when it turns out to change nothing: the rev is not spent. */
export const NO_CHANGE = Symbol("no change");

export interface ConversationStore {
  exists(id: string): Awaitable<boolean>;
  /**
   * One change other than a new message, in one write transaction that first takes the
   * conversation's next rev (and with `meta` stamps it as the conversation's meta_rev) and then runs
   * `change` with stores bound to that transaction. `change` returning NO_CHANGE rolls it all back
   * (null: no rev spent, revs stay gap-free); "missing" when there is no such conversation. The SQLite
   * adapter needs `change` to return synchronously (its transactions cannot span an await).
   */
  revise<T>(
    conversationId: string,
    options: { meta?: boolean; at: number },
    change: (tx: Stores, rev: number) => Awaitable<T | typeof NO_CHANGE>,
  ): Awaitable<Revision<T> | null | "missing">;
  byId(id: string): Awaitable<ConversationRow | null>;
  byDirectKey(directKey: string): Awaitable<ConversationRow | null>;
  /** The conversation if `userId` is a member of it. */
  forMember(conversationId: string, userId: string): Awaitable<ConversationRow | null>;
  /** A member's conversations, pinned first, then by last activity (newest first). */
  listForMember(userId: string, limit: number, offset: number): Awaitable<ConversationRow[]>;
  /**
   * The conversation and its members (rev 0) in one transaction; a second direct conversation of
   * the same pair fails on the unique direct key (the caller then finds the winner's).
   */
  create(row: Omit<ConversationRow, "lastSeq" | "rev" | "metaRev">, members: { userId: string; role: MemberRole }[]): Awaitable<ConversationRow>;
  // Writes that are part of a revision run inside its transaction (modules/changes/revision.ts).
  /** Members and roles in joining order. */
  members(conversationId: string): Awaitable<{ userId: string; role: MemberRole }[]>;
  roleOf(conversationId: string, userId: string): Awaitable<MemberRole | null>;
  /** New members with their read and delivered cursors at the conversation's last seq. */
  addMembers(conversationId: string, userIds: string[], at: number): Awaitable<void>;
  /** Removes a member; the members left. */
  removeMember(conversationId: string, userId: string): Awaitable<number>;
  /**
   * Deletes the conversation with everything in it (messages, reactions, cursors). Its messages'
   * attachments are not rows of it: release them first (AttachmentStore.releaseForConversation).
   */
  delete(conversationId: string): Awaitable<void>;
  setRole(conversationId: string, userId: string, role: MemberRole): Awaitable<void>;
  /** A member's own settings (not a revision). */
  updateSettings(conversationId: string, userId: string, patch: MemberSettings): Awaitable<void>;
  /** Sets the name. */
  rename(conversationId: string, name: string): Awaitable<ConversationRow | null>;
  memberCounts(conversationIds: string[]): Awaitable<Map<string, number>>;
  memberIds(conversationId: string): Awaitable<string[]>;
  /** The conversations a user is in (a socket subscribes to their topics). */
  conversationIdsOf(userId: string): Awaitable<string[]>;
  /** Everyone who shares a conversation with the user (presence goes to them). */
  contactIdsOf(userId: string): Awaitable<string[]>;
  /**
   * Members of each conversation in joining order (then by username), at most `cap` per
   * conversation plus `me`, with their users, roles and settings.
   */
  participants(me: string, conversationIds: string[], cap: number): Awaitable<ParticipantRow[]>;
}

export interface AttachmentStore {
  insert(row: AttachmentRow): Awaitable<void>;
  /** Bytes of every attachment the user holds (each upload counts, even when its bytes are stored once). */
  usedBytes(userId: string): Awaitable<number>;
  /** Uploads of this user no message has taken yet. */
  pendingUploads(userId: string): Awaitable<number>;
  /** The attachment if `userId` uploaded it or is a member of the conversation of the (not deleted) message holding it. */
  visibleTo(id: string, userId: string): Awaitable<AttachmentRow | null>;
  /** The uses of these attachments (absent: no such attachment). */
  uses(ids: string[]): Awaitable<Map<string, AttachmentUse>>;
  /** Deletes a message's attachments in one transaction; their sha256s (blobs to check). */
  releaseForMessage(messageId: string): Awaitable<string[]>;
  /** Deletes the attachments of every message of a conversation (before the conversation goes); their sha256s. */
  releaseForConversation(conversationId: string): Awaitable<string[]>;
  /** Deletes up to `max` uploads no message took, older than `olderThan`; their sha256s. */
  sweepUnclaimed(olderThan: number, max: number): Awaitable<string[]>;
  /** Whether any attachment still names these bytes. */
  blobInUse(sha256: string): Awaitable<boolean>;
}

export interface SearchStore {
  /**
   * Messages of the user's conversations (one when `conversationId` is set) matching every term,
   * not deleted, newest first, below position `before`; `more` when another page exists. Throws
   * SearchRefused when the engine refuses an expression built from valid terms (an engine upgrade).
   */
  hits(
    userId: string,
    terms: SearchTerm[],
    page: { before: number; limit: number; conversationId?: string },
  ): Awaitable<{ hits: SearchHit[]; more: boolean }>;
}

/** The search engine refused a query built from valid terms. */
export class SearchRefused extends Error {}

export interface WebhookStore {
  insert(row: Pick<WebhookRow, "id" | "url" | "events" | "conversationId" | "secret" | "concurrency" | "createdAt">): Awaitable<void>;
  /** Oldest first, each with its count of events not yet delivered. */
  list(): Awaitable<(WebhookRow & { pending: number })[]>;
  /** Removes the hook and its undelivered events; false when there was no such hook. */
  remove(id: string): Awaitable<boolean>;
}

// ---- Messages

export interface MessageStore {
  /** Messages of a conversation by seq, ascending. */
  page(conversationId: string, page: SeqPage): Awaitable<MessageRecord[]>;
  /** The replies to a message by seq, ascending (same paging). */
  replies(parentId: string, page: SeqPage): Awaitable<MessageRecord[]>;
  byId(id: string): Awaitable<MessageRecord | null>;
  /** These messages, in no particular order (absent ids left out). */
  byIds(ids: string[]): Awaitable<MessageRecord[]>;
  /** The conversation of a message and whether it is a tombstone, without rendering it (a reply's parent check). */
  replyTarget(id: string): Awaitable<{ conversationId: string; deleted: boolean } | null>;
  /** Messages created or changed after `sinceRev`, in (rev, seq) order, tombstones included. */
  changedSince(conversationId: string, sinceRev: number, limit: number): Awaitable<MessageRecord[]>;
  /** The reactions of these messages, each emoji in the order of its first reaction. */
  reactions(messageIds: string[]): Awaitable<Map<string, ReactionTally[]>>;
  /** Null when there is no such conversation (or it has no members). */
  head(conversationId: string): Awaitable<ConversationHead | null>;
  /** The member's read cursor and the lowest of the others' (MAX_SAFE_INTEGER alone); null when not a member. */
  readCursors(conversationId: string, userId: string): Awaitable<{ mine: number; othersMin: number } | null>;
  /** Of the conversations the user is in (only `onlyIds` when set): others' live messages above the cursor, zeros omitted. */
  unread(userId: string, at: number, onlyIds?: string[]): Awaitable<UnreadRow[]>;
  /** Mentionable members of a conversation among these username keys. */
  membersByUsernameKey(conversationId: string, keys: string[]): Awaitable<{ id: string; key: string }[]>;
  /** Moves the read cursor forward to `seq` (and delivered with it); the stored cursor and whether it moved. */
  markRead(conversationId: string, userId: string, seq: number, at: number): Awaitable<{ lastReadSeq: number; lastReadAt: number | null; moved: boolean } | null>;
  /** Moves delivered cursors forward in one transaction; the ones that moved. */
  markDelivered<T extends { conversationId: string; userId: string; seq: number }>(batch: T[]): Awaitable<T[]>;
  /** Every member's cursors, in joining order. */
  cursors(conversationId: string): Awaitable<CursorRow[]>;
  // Writes that run inside a ConversationStore.revise transaction (they stamp the message with `rev`):
  /** New content and mentions; null when the message is gone or a tombstone. */
  edit(messageId: string, content: string, mentions: string | null, rev: number, at: number): Awaitable<MessageRecord | null>;
  /** Makes it a tombstone and drops its reactions; null when it already was one. */
  tombstone(messageId: string, rev: number, at: number): Awaitable<MessageRecord | null>;
  /** Stamps a live message with `rev` (a reaction changed it); null when it is a tombstone. */
  touch(messageId: string, rev: number, at: number): Awaitable<MessageRecord | null>;
  /** "exists" when the user already has it; "full" when it would be emoji number `maxDistinct` + 1. */
  addReaction(messageId: string, userId: string, emoji: string, at: number, maxDistinct: number): Awaitable<"added" | "exists" | "full">;
  removeReaction(messageId: string, userId: string, emoji: string): Awaitable<boolean>;
}

/** Every store, built once by the composition root (server.ts) or a CLI command. */
export interface Stores {
  users: UserStore;
  apiTokens: ApiTokenStore;
  blocks: BlockStore;
  conversations: ConversationStore;
  webhooks: WebhookStore;
  search: SearchStore;
  attachments: AttachmentStore;
  messages: MessageStore;
}

// Caches: each adapter says how its caches stay exact (SQLite: this process's writes drop
// entries, another process's commit drops everything; a cluster would drop them on bus events).

export interface Cache<K, V> {
  /** The entry, unless it was dropped or the storage changed under it since it was set. */
  get(key: K): V | undefined;
  set(key: K, value: V): void;
  delete(key: K): void;
  clear(): void;
  readonly size: number;
}

/** The caller's read cursor and the lowest cursor among the other members: enough for is_read. */
export interface ReadState {
  mine: number;
  othersMin: number;
}

/**
 * What every send and page read asks about a conversation (kind, members, last_seq, rev, read
 * cursors), from memory. The change feed keeps it exact with this process's commits (note*,
 * invalidate); the adapter drops it whole when storage changed underneath. A hit is a plain value;
 * a miss may be pending (a networked database), so callers go through `andThen` or await.
 */
export interface ConversationStateCache {
  /** The conversation's state, or null when it does not exist. */
  get(conversationId: string): Awaitable<ConversationHead | null>;
  /** The reader's cursors with the head, or null when the conversation does not exist or they are not a member. */
  readState(conversationId: string, userId: string): Awaitable<(ReadState & { lastSeq: number; rev: number }) | null>;
  /** A committed message with this seq and rev. */
  noteStored(conversationId: string, seq: number, rev: number): void;
  /** A committed change other than a new message (edit, delete, reaction, rename). */
  noteRev(conversationId: string, rev: number): void;
  /** Members or roles changed: the entry is re-read on next use. */
  invalidate(conversationId: string): void;
  /** Changes may have been missed (another instance's, during a broker outage): every entry is re-read on next use. */
  clear(): void;
  /** A read cursor moved forward in storage. */
  noteRead(conversationId: string, userId: string, seq: number): void;
}

export interface Caches {
  /** User rows by id, read on every authenticated request; services drop a row when they write it. */
  users: Cache<string, UserRow>;
  /** API token rows by token text (a hit costs no hash); dropped whole on a revoke, checked for expiry on use. */
  apiTokens: Cache<string, ApiTokenRow>;
  /** Who blocked a user, by blocked user; block and unblock update the set after their commit. */
  blockers: Cache<string, ReadonlySet<string>>;
  /** Kind, members, last_seq, rev and read cursors per conversation; moved by the change feed after each commit, dropped on membership changes. */
  conversationStates: ConversationStateCache;
}

/** What a service needs to reach storage (Deps has both). */
export interface Storage {
  stores: Stores;
  caches: Caches;
}
