// The rows the storage ports read and write: plain types in the application's units (ids are
// text, times Unix ms, flags booleans), which every adapter's own schema must produce exactly
// (db/stores/index.ts checks the SQLite schema's at compile time). The store interfaces are in
// stores.ts, which re-exports these.

export interface UserRow {
  id: string;
  username: string;
  /** Lower-cased copies carry case-insensitive uniqueness and prefix search. */
  usernameKey: string;
  email: string;
  emailKey: string;
  passwordHash: string;
  fullName: string | null;
  fullNameKey: string | null;
  avatarUrl: string | null;
  bio: string | null;
  /** Bumped on a password change or a disable: tokens carrying an older one stop working. */
  tokenVersion: number;
  lastSeenAt: number | null;
  disabledAt: number | null;
  isBot: boolean;
  createdAt: number;
  updatedAt: number;
}

/** The columns a profile update or a password reset may change. */
export type UserPatch = Partial<Omit<UserRow, "id" | "createdAt" | "isBot" | "disabledAt" | "lastSeenAt">>;

/** Which unique key a write would have duplicated; the row is not written. */
export interface Taken {
  taken: "username" | "email";
}

/** What decides whether a user's tokens still pass (the socket session watch re-reads it). */
export interface SessionAccess {
  id: string;
  tokenVersion: number;
  disabledAt: number | null;
}

export interface ApiTokenRow {
  id: string;
  userId: string;
  name: string | null;
  /** Hex SHA-256 of the token text; the text itself is never stored. */
  hash: string;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export type ApiTokenListing = ApiTokenRow & { username: string };

export interface ConversationRow {
  id: string;
  name: string | null;
  isGroup: boolean;
  createdBy: string;
  /** "<smaller user id>:<larger user id>" for direct conversations: one per pair. */
  directKey: string | null;
  /** Highest seq handed out. */
  lastSeq: number;
  /** +1 per committed change members must see, gap-free. */
  rev: number;
  /** The rev of the last change to the conversation itself (name, members, roles). */
  metaRev: number;
  lastActivityAt: number;
  createdAt: number;
  updatedAt: number;
}

export type MemberRole = "owner" | "admin" | "member";

/** A member with its user, role and own settings: what every Conversation view is built from. */
export interface ParticipantRow {
  conversationId: string;
  user: UserRow;
  role: MemberRole;
  joinedAt: number;
  /** The member's own settings (only shown to that member). */
  muted: boolean;
  mutedUntil: number | null;
  pinned: boolean;
}

export interface Revision<T> {
  rev: number;
  at: number;
  result: T;
}

export interface MemberSettings {
  muted?: boolean;
  /** Unix ms, null for no end. */
  mutedUntil?: number | null;
  pinned?: boolean;
}

/** An upload (snake_case, as the attachment JSON inside messages is rendered by SQL). */
export interface AttachmentRow {
  id: string;
  owner_id: string;
  sha256: string;
  size: number;
  content_type: string;
  filename: string;
  width: number | null;
  height: number | null;
  created_at: number;
  /** When a message took it; null while it waits for one. */
  claimed_at: number | null;
}

/** What a send naming an attachment must check: its owner, and the message holding it if any. */
export interface AttachmentUse {
  ownerId: string;
  claimedAt: number | null;
  conversationId: string | null;
  clientMsgId: string | null;
}

/** One search-box term: a word or quoted phrase, a prefix search when it ended in `*`. */
export interface SearchTerm {
  text: string;
  prefix: boolean;
}

export interface SearchHit {
  /** The hit's place in the newest-first order: the next page asks for positions below the last one. */
  position: number;
  messageId: string;
  /** The content with each match between `open` and `close`, two characters the content does not hold. */
  marked: { text: string; open: string; close: string };
}

export interface WebhookRow {
  id: string;
  url: string;
  /** The event names between commas (",message.created,reaction.changed,"), so a trigger matches one with instr(). */
  events: string;
  /** Only this conversation's events when set. */
  conversationId: string | null;
  secret: string;
  concurrency: number;
  deliveredCount: number;
  failedCount: number;
  /** Attempts that failed (each retry counts). */
  attemptFailures: number;
  lastError: string | null;
  lastErrorAt: number | null;
  lastDeliveredAt: number | null;
  createdAt: number;
}

// ---- Messages

/** A message row as every read returns it (snake_case: the SQL renders the attachments JSON too). */
export interface MessageRecord {
  id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  recipient_id: string | null;
  content: string;
  client_msg_id: string | null;
  rev: number;
  edited_at: number | null;
  deleted_at: number | null;
  reply_to_id: string | null;
  reply_count: number;
  /** JSON array of member ids, null when none. */
  mentions: string | null;
  created_at: number;
  updated_at: number;
  /** Attachments (issue 14): the JSON array of the message's Attachments as the database renders it; absent = none. */
  attachments?: string;
}

/** One emoji on one message: who reacted, in the order they did. */
export interface ReactionTally {
  emoji: string;
  userIds: string[];
}

/** A page by seq: `after` reads forward, else the `limit` newest (below `before` when set); ascending either way. */
export interface SeqPage {
  before?: number;
  after?: number;
  limit: number;
}

/** What the conversation-state cache loads per conversation: its kind, head and each member's read cursor. */
export interface ConversationHead {
  isGroup: boolean;
  lastSeq: number;
  rev: number;
  /** Member id → last_read_seq; the keys are the members. */
  cursors: Map<string, number>;
}

export interface UnreadRow {
  conversation_id: string;
  unread_count: number;
  mention_count: number;
  /** Muted for the member at `at` (muted, and muted_until unset or ahead). */
  muted: boolean;
}

export interface CursorRow {
  user_id: string;
  last_read_seq: number;
  /** Never below last_read_seq (reading implies delivery). */
  last_delivered_seq: number;
}
