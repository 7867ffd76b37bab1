// The PostgreSQL twin of src/db/schema.ts: the same tables, columns, indexes and constraints (a test,
// test/postgres/schema-equivalence.test.ts, keeps them so). Times are Unix milliseconds in bigint
// read as JS numbers; counters (seq, rev, counts) are int4; SQLite's 0/1 booleans are boolean here.
// The search index and the webhook outbox triggers are hand-written SQL in drizzle-pg/0001_*.sql,
// as SQLite's are in drizzle/0006 and 0007.
import { sql } from "drizzle-orm";
import { bigint, boolean, index, integer, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";

/** Unix milliseconds: past int4, so int8, read as a number (exact below 2^53, i.e. year 287396). */
const ms = (name: string) => bigint(name, { mode: "number" });

export const users = pgTable(
  "users",
  {
    id: text("id").primaryKey(),
    username: text("username").notNull(),
    // Lower-cased copies carry the case-insensitive uniqueness and prefix search.
    usernameKey: text("username_key").notNull(),
    email: text("email").notNull(),
    emailKey: text("email_key").notNull(),
    passwordHash: text("password_hash").notNull(),
    fullName: text("full_name"),
    fullNameKey: text("full_name_key"),
    avatarUrl: text("avatar_url"),
    bio: text("bio"),
    // Bumped on password change; tokens carry it, so older tokens stop working.
    tokenVersion: integer("token_version").notNull().default(0),
    lastSeenAt: ms("last_seen_at"),
    // Set by `user disable`: logins and tokens are refused and sockets closed; messages stay.
    disabledAt: ms("disabled_at"),
    // A bot (`user create --bot`): no usable password, acts through API tokens only.
    isBot: boolean("is_bot").notNull().default(false),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("users_username_key").on(t.usernameKey),
    uniqueIndex("users_email_key").on(t.emailKey),
    index("users_full_name_key").on(t.fullNameKey),
  ],
);

export const conversations = pgTable(
  "conversations",
  {
    id: text("id").primaryKey(),
    name: text("name"),
    isGroup: boolean("is_group").notNull(),
    createdBy: text("created_by").notNull().references(() => users.id),
    // "<smaller user id>:<larger user id>" for direct conversations: one per pair.
    directKey: text("direct_key"),
    // Highest seq handed out; the next message takes lastSeq + 1 in the same transaction.
    lastSeq: integer("last_seq").notNull().default(0),
    // Revision: +1 per committed change members must see (message sent/edited/deleted, reaction,
    // member added/removed, role, rename), gap-free like seq; taken in the change's transaction.
    rev: integer("rev").notNull().default(0),
    // The rev of the last change to the conversation itself (name, members, roles): /changes
    // includes the Conversation when this is newer than the client's rev.
    metaRev: integer("meta_rev").notNull().default(0),
    lastActivityAt: ms("last_activity_at").notNull(),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  // No index on last_activity_at: conversation lists start from the member's rows (members_user)
  // and sort those, and every message moves the row, so such an index only cost a page per commit.
  (t) => [uniqueIndex("conversations_direct_key").on(t.directKey).where(sql`direct_key IS NOT NULL`)],
);

export const members = pgTable(
  "members",
  {
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    // Read cursor: every message with seq <= lastReadSeq is read by this member.
    lastReadSeq: integer("last_read_seq").notNull().default(0),
    lastReadAt: ms("last_read_at"),
    // Delivered cursor (receipts): forward-only, never below last_read_seq.
    lastDeliveredSeq: integer("last_delivered_seq").notNull().default(0),
    // owner | admin | member; the creator of a group is its owner.
    role: text("role").notNull().default("member"),
    // Per-member settings: muted (until muted_until when set, Unix ms), pinned.
    muted: boolean("muted").notNull().default(false),
    mutedUntil: ms("muted_until"),
    pinned: boolean("pinned").notNull().default(false),
    joinedAt: ms("joined_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.userId] }),
    // "My conversations" and membership checks by user; activity order comes from conversations.
    index("members_user").on(t.userId, t.conversationId),
  ],
);

export const messages = pgTable(
  "messages",
  {
    id: text("id").primaryKey(),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    senderId: text("sender_id")
      .notNull()
      .references(() => users.id),
    recipientId: text("recipient_id"),
    content: text("content").notNull(),
    clientMsgId: text("client_msg_id"),
    // The conversation's rev at this message's last change (creation, edit, delete, reaction, reply).
    rev: integer("rev").notNull().default(0),
    // The rev that created it (0 for older rows): only messages changed since are in the rev index.
    createdRev: integer("created_rev").notNull().default(0),
    editedAt: ms("edited_at"),
    // Tombstone: content "" and no reactions once set; seq stays, so seq keeps no gaps.
    deletedAt: ms("deleted_at"),
    replyToId: text("reply_to_id"),
    replyCount: integer("reply_count").notNull().default(0),
    // JSON array of mentioned member ids, null when none.
    mentions: text("mentions"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [
    // Changes since a rev: only messages changed after creation (see src/modules/messages/changed-since.ts).
    index("messages_changed_rev").on(t.conversationId, t.rev).where(sql`rev != created_rev`),
    // Replies of one message (?reply_to=).
    index("messages_reply_to").on(t.replyToId, t.seq).where(sql`reply_to_id IS NOT NULL`),
    // Serves latest-N, before/after pages, unread ranges and last_message lookups.
    uniqueIndex("messages_conversation_seq").on(t.conversationId, t.seq),
    uniqueIndex("messages_idempotency")
      .on(t.conversationId, t.senderId, t.clientMsgId)
      .where(sql`client_msg_id IS NOT NULL`),
  ],
);

export const reactions = pgTable(
  "reactions",
  {
    messageId: text("message_id")
      .notNull()
      .references(() => messages.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    emoji: text("emoji").notNull(),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.messageId, t.emoji, t.userId] })],
);

export const blocks = pgTable(
  "blocks",
  {
    blockerId: text("blocker_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    blockedId: text("blocked_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.blockerId, t.blockedId] }), index("blocks_blocked").on(t.blockedId, t.blockerId)],
);

// Long-lived API tokens (`token create`): only the SHA-256 of the secret is stored, so a copy of
// the database cannot be used to act as anyone.
export const apiTokens = pgTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name"),
    // Hex SHA-256 of the whole token text; a random 256-bit secret needs no salt or slow hash.
    hash: text("hash").notNull(),
    createdAt: ms("created_at").notNull(),
    // null: never expires.
    expiresAt: ms("expires_at"),
    // Written at most once a minute per token.
    lastUsedAt: ms("last_used_at"),
    revokedAt: ms("revoked_at"),
  },
  (t) => [uniqueIndex("api_tokens_hash").on(t.hash), index("api_tokens_user").on(t.userId)],
);

// Attachments (issue 14): one row per upload; the bytes live once per sha256 under
// <data-dir>/files/ab/cd/<sha256>, deleted when no row references them any more.
export const attachments = pgTable(
  "attachments",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    sha256: text("sha256").notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
    contentType: text("content_type").notNull(),
    filename: text("filename").notNull(),
    width: integer("width"),
    height: integer("height"),
    createdAt: ms("created_at").notNull(),
    // Set when a message takes it (once only); unclaimed rows older than the sweep age are deleted.
    claimedAt: ms("claimed_at"),
  },
  (t) => [
    // Quota sums and the per-user pending count.
    index("attachments_owner").on(t.ownerId, t.claimedAt),
    // Is a blob still referenced?
    index("attachments_sha256").on(t.sha256),
    // The sweep of unclaimed uploads.
    index("attachments_unclaimed").on(t.createdAt).where(sql`claimed_at IS NULL`),
  ],
);

export const messageAttachments = pgTable(
  "message_attachments",
  {
    messageId: text("message_id")
      .notNull()
      .references(() => messages.id, { onDelete: "cascade" }),
    attachmentId: text("attachment_id")
      .notNull()
      .references(() => attachments.id, { onDelete: "cascade" }),
    position: integer("position").notNull(),
  },
  // An attachment belongs to one message at most.
  (t) => [primaryKey({ columns: [t.messageId, t.position] }), uniqueIndex("message_attachments_attachment").on(t.attachmentId)],
);

export type UserRow = typeof users.$inferSelect;
export type ApiTokenRow = typeof apiTokens.$inferSelect;
export type ConversationRow = typeof conversations.$inferSelect;

// Webhooks (issue 15): the hooks `chat-server webhook add` registers, and their outbox. Outbox rows
// are written by triggers (drizzle-pg/0001_*.sql) in the transaction of the change itself, so no
// code path can forget one and a crash loses none; the delivery worker (modules/webhooks) sends them.
export const webhooks = pgTable("webhooks", {
  id: text("id").primaryKey(),
  url: text("url").notNull(),
  // ",message.created,reaction.changed," so a trigger matches one event with strpos().
  events: text("events").notNull(),
  // Only this conversation's events when set (user.created has none and never matches).
  conversationId: text("conversation_id"),
  secret: text("secret").notNull(),
  // Deliveries in flight at once for this hook (across conversations; one per conversation).
  concurrency: integer("concurrency").notNull().default(4),
  deliveredCount: integer("delivered_count").notNull().default(0),
  failedCount: integer("failed_count").notNull().default(0),
  // Attempts that failed (each retry counts): what /metrics and `webhook list` report.
  attemptFailures: integer("attempt_failures").notNull().default(0),
  lastError: text("last_error"),
  lastErrorAt: ms("last_error_at"),
  lastDeliveredAt: ms("last_delivered_at"),
  createdAt: ms("created_at").notNull(),
});

export const webhookOutbox = pgTable(
  "webhook_outbox",
  {
    // An identity: never reused after rows are deleted, so the event id a receiver dedupes on stays unique.
    id: bigint("id", { mode: "number" }).primaryKey().generatedByDefaultAsIdentity(),
    hookId: text("hook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    type: text("type").notNull(),
    conversationId: text("conversation_id"),
    // Events of one key are delivered in id order: the conversation id, or "user:<id>".
    orderKey: text("order_key").notNull(),
    createdAt: ms("created_at").notNull(),
    // The event's `data` as JSON text, built by the trigger with json_build_object().
    payload: text("payload").notNull(),
    attempts: integer("attempts").notNull().default(0),
    // Unix ms of the next try; NULL while an earlier event of the same key is still pending.
    nextAttemptAt: ms("next_attempt_at"),
    lastError: text("last_error"),
    // pending | failed (delivered rows are deleted and counted on the hook).
    status: text("status").notNull().default("pending"),
  },
  (t) => [
    // The worker's per-hook "due now" query sees only each key's head (the others wait with NULL).
    index("webhook_outbox_due").on(t.hookId, t.nextAttemptAt).where(sql`status = 'pending' AND next_attempt_at IS NOT NULL`),
    index("webhook_outbox_key").on(t.hookId, t.orderKey, t.id).where(sql`status = 'pending'`),
  ],
);
