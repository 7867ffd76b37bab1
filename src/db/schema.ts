// Tables and indexes. Times are Unix milliseconds; routes render them as ISO-8601.
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const users = sqliteTable(
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
    lastSeenAt: integer("last_seen_at"),
    // Set by `user disable`: logins and tokens are refused and sockets closed; messages stay.
    disabledAt: integer("disabled_at"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("users_username_key").on(t.usernameKey),
    uniqueIndex("users_email_key").on(t.emailKey),
    index("users_full_name_key").on(t.fullNameKey),
  ],
);

export const conversations = sqliteTable(
  "conversations",
  {
    id: text("id").primaryKey(),
    name: text("name"),
    isGroup: integer("is_group", { mode: "boolean" }).notNull(),
    createdBy: text("created_by").notNull().references(() => users.id),
    // "<smaller user id>:<larger user id>" for direct conversations: one per pair.
    directKey: text("direct_key"),
    // Highest seq handed out; the next message takes lastSeq + 1 in the same transaction.
    lastSeq: integer("last_seq").notNull().default(0),
    lastActivityAt: integer("last_activity_at").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  // No index on last_activity_at: conversation lists start from the member's rows (members_user)
  // and sort those, and every message moves the row, so such an index only cost a page per commit.
  (t) => [uniqueIndex("conversations_direct_key").on(t.directKey).where(sql`direct_key IS NOT NULL`)],
);

export const members = sqliteTable(
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
    lastReadAt: integer("last_read_at"),
    joinedAt: integer("joined_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.userId] }),
    // "My conversations" and membership checks by user; activity order comes from conversations.
    index("members_user").on(t.userId, t.conversationId),
  ],
);

export const messages = sqliteTable(
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
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    // Serves latest-N, before/after pages, unread ranges and last_message lookups.
    uniqueIndex("messages_conversation_seq").on(t.conversationId, t.seq),
    uniqueIndex("messages_idempotency")
      .on(t.conversationId, t.senderId, t.clientMsgId)
      .where(sql`client_msg_id IS NOT NULL`),
  ],
);

export type UserRow = typeof users.$inferSelect;
export type ConversationRow = typeof conversations.$inferSelect;
