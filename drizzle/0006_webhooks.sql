CREATE TABLE `webhook_outbox` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`hook_id` text NOT NULL,
	`type` text NOT NULL,
	`conversation_id` text,
	`order_key` text NOT NULL,
	`created_at` integer NOT NULL,
	`payload` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer,
	`last_error` text,
	`status` text DEFAULT 'pending' NOT NULL,
	FOREIGN KEY (`hook_id`) REFERENCES `webhooks`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `webhook_outbox_due` ON `webhook_outbox` (`hook_id`,`next_attempt_at`) WHERE status = 'pending' AND next_attempt_at IS NOT NULL;--> statement-breakpoint
CREATE INDEX `webhook_outbox_key` ON `webhook_outbox` (`hook_id`,`order_key`,`id`) WHERE status = 'pending';--> statement-breakpoint
CREATE TABLE `webhooks` (
	`id` text PRIMARY KEY NOT NULL,
	`url` text NOT NULL,
	`events` text NOT NULL,
	`conversation_id` text,
	`secret` text NOT NULL,
	`concurrency` integer DEFAULT 4 NOT NULL,
	`delivered_count` integer DEFAULT 0 NOT NULL,
	`failed_count` integer DEFAULT 0 NOT NULL,
	`attempt_failures` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`last_error_at` integer,
	`last_delivered_at` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
-- The outbox triggers: one row per subscribed hook, written in the transaction of the change. With no
-- hooks each costs one probe of the (empty) webhooks table. A row waits (next_attempt_at NULL) while
-- an earlier event of the same key is pending for that hook, so the worker only ever sees heads.
CREATE TRIGGER `webhooks_message_created` AFTER INSERT ON `messages`
BEGIN
  INSERT INTO webhook_outbox (hook_id, type, conversation_id, order_key, created_at, payload, next_attempt_at)
  SELECT w.id, 'message.created', NEW.conversation_id, NEW.conversation_id, CAST(unixepoch('subsec') * 1000 AS INTEGER), json_object('id', NEW.id, 'conversation_id', NEW.conversation_id, 'sender_id', NEW.sender_id, 'recipient_id', NEW.recipient_id, 'content', NEW.content, 'seq', NEW.seq, 'client_msg_id', NEW.client_msg_id, 'rev', NEW.rev, 'reply_to_id', NEW.reply_to_id, 'created_at', CASE WHEN NEW.created_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', NEW.created_at / 1000, 'unixepoch') || printf('.%03dZ', NEW.created_at % 1000) END, 'updated_at', CASE WHEN NEW.updated_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', NEW.updated_at / 1000, 'unixepoch') || printf('.%03dZ', NEW.updated_at % 1000) END, 'edited_at', CASE WHEN NEW.edited_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', NEW.edited_at / 1000, 'unixepoch') || printf('.%03dZ', NEW.edited_at % 1000) END, 'deleted_at', CASE WHEN NEW.deleted_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', NEW.deleted_at / 1000, 'unixepoch') || printf('.%03dZ', NEW.deleted_at % 1000) END),
    CASE WHEN EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.hook_id = w.id AND p.order_key = NEW.conversation_id AND p.status = 'pending') THEN NULL ELSE 0 END
  FROM webhooks w
  WHERE instr(w.events, ',message.created,') > 0 AND (w.conversation_id IS NULL OR w.conversation_id IS NEW.conversation_id);
END;--> statement-breakpoint
CREATE TRIGGER `webhooks_message_updated` AFTER UPDATE OF content, edited_at ON `messages`
WHEN NEW.deleted_at IS NULL AND (OLD.content IS NOT NEW.content OR OLD.edited_at IS NOT NEW.edited_at)
BEGIN
  INSERT INTO webhook_outbox (hook_id, type, conversation_id, order_key, created_at, payload, next_attempt_at)
  SELECT w.id, 'message.updated', NEW.conversation_id, NEW.conversation_id, CAST(unixepoch('subsec') * 1000 AS INTEGER), json_object('id', NEW.id, 'conversation_id', NEW.conversation_id, 'sender_id', NEW.sender_id, 'recipient_id', NEW.recipient_id, 'content', NEW.content, 'seq', NEW.seq, 'client_msg_id', NEW.client_msg_id, 'rev', NEW.rev, 'reply_to_id', NEW.reply_to_id, 'created_at', CASE WHEN NEW.created_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', NEW.created_at / 1000, 'unixepoch') || printf('.%03dZ', NEW.created_at % 1000) END, 'updated_at', CASE WHEN NEW.updated_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', NEW.updated_at / 1000, 'unixepoch') || printf('.%03dZ', NEW.updated_at % 1000) END, 'edited_at', CASE WHEN NEW.edited_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', NEW.edited_at / 1000, 'unixepoch') || printf('.%03dZ', NEW.edited_at % 1000) END, 'deleted_at', CASE WHEN NEW.deleted_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', NEW.deleted_at / 1000, 'unixepoch') || printf('.%03dZ', NEW.deleted_at % 1000) END),
    CASE WHEN EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.hook_id = w.id AND p.order_key = NEW.conversation_id AND p.status = 'pending') THEN NULL ELSE 0 END
  FROM webhooks w
  WHERE instr(w.events, ',message.updated,') > 0 AND (w.conversation_id IS NULL OR w.conversation_id IS NEW.conversation_id);
END;--> statement-breakpoint
CREATE TRIGGER `webhooks_message_deleted` AFTER UPDATE OF deleted_at ON `messages`
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL
BEGIN
  INSERT INTO webhook_outbox (hook_id, type, conversation_id, order_key, created_at, payload, next_attempt_at)
  SELECT w.id, 'message.deleted', NEW.conversation_id, NEW.conversation_id, CAST(unixepoch('subsec') * 1000 AS INTEGER), json_object('id', NEW.id, 'conversation_id', NEW.conversation_id, 'sender_id', NEW.sender_id, 'recipient_id', NEW.recipient_id, 'content', NEW.content, 'seq', NEW.seq, 'client_msg_id', NEW.client_msg_id, 'rev', NEW.rev, 'reply_to_id', NEW.reply_to_id, 'created_at', CASE WHEN NEW.created_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', NEW.created_at / 1000, 'unixepoch') || printf('.%03dZ', NEW.created_at % 1000) END, 'updated_at', CASE WHEN NEW.updated_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', NEW.updated_at / 1000, 'unixepoch') || printf('.%03dZ', NEW.updated_at % 1000) END, 'edited_at', CASE WHEN NEW.edited_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', NEW.edited_at / 1000, 'unixepoch') || printf('.%03dZ', NEW.edited_at % 1000) END, 'deleted_at', CASE WHEN NEW.deleted_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', NEW.deleted_at / 1000, 'unixepoch') || printf('.%03dZ', NEW.deleted_at % 1000) END),
    CASE WHEN EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.hook_id = w.id AND p.order_key = NEW.conversation_id AND p.status = 'pending') THEN NULL ELSE 0 END
  FROM webhooks w
  WHERE instr(w.events, ',message.deleted,') > 0 AND (w.conversation_id IS NULL OR w.conversation_id IS NEW.conversation_id);
END;--> statement-breakpoint
CREATE TRIGGER `webhooks_reaction_added` AFTER INSERT ON `reactions`
BEGIN
  INSERT INTO webhook_outbox (hook_id, type, conversation_id, order_key, created_at, payload, next_attempt_at)
  SELECT w.id, 'reaction.changed', m.conversation_id, m.conversation_id, CAST(unixepoch('subsec') * 1000 AS INTEGER), json_object('message_id', NEW.message_id, 'conversation_id', m.conversation_id, 'user_id', NEW.user_id, 'emoji', NEW.emoji, 'action', 'added', 'created_at', CASE WHEN NEW.created_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', NEW.created_at / 1000, 'unixepoch') || printf('.%03dZ', NEW.created_at % 1000) END),
    CASE WHEN EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.hook_id = w.id AND p.order_key = m.conversation_id AND p.status = 'pending') THEN NULL ELSE 0 END
  FROM webhooks w JOIN messages m ON m.id = NEW.message_id
  WHERE instr(w.events, ',reaction.changed,') > 0 AND (w.conversation_id IS NULL OR w.conversation_id IS m.conversation_id);
END;--> statement-breakpoint
CREATE TRIGGER `webhooks_reaction_removed` AFTER DELETE ON `reactions`
BEGIN
  INSERT INTO webhook_outbox (hook_id, type, conversation_id, order_key, created_at, payload, next_attempt_at)
  SELECT w.id, 'reaction.changed', m.conversation_id, m.conversation_id, CAST(unixepoch('subsec') * 1000 AS INTEGER), json_object('message_id', OLD.message_id, 'conversation_id', m.conversation_id, 'user_id', OLD.user_id, 'emoji', OLD.emoji, 'action', 'removed', 'created_at', CASE WHEN OLD.created_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', OLD.created_at / 1000, 'unixepoch') || printf('.%03dZ', OLD.created_at % 1000) END),
    CASE WHEN EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.hook_id = w.id AND p.order_key = m.conversation_id AND p.status = 'pending') THEN NULL ELSE 0 END
  FROM webhooks w JOIN messages m ON m.id = OLD.message_id
  WHERE instr(w.events, ',reaction.changed,') > 0 AND (w.conversation_id IS NULL OR w.conversation_id IS m.conversation_id);
END;--> statement-breakpoint
CREATE TRIGGER `webhooks_member_added` AFTER INSERT ON `members`
BEGIN
  INSERT INTO webhook_outbox (hook_id, type, conversation_id, order_key, created_at, payload, next_attempt_at)
  SELECT w.id, 'member.added', NEW.conversation_id, NEW.conversation_id, CAST(unixepoch('subsec') * 1000 AS INTEGER), json_object('conversation_id', NEW.conversation_id, 'user_id', NEW.user_id, 'role', NEW.role, 'joined_at', CASE WHEN NEW.joined_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', NEW.joined_at / 1000, 'unixepoch') || printf('.%03dZ', NEW.joined_at % 1000) END),
    CASE WHEN EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.hook_id = w.id AND p.order_key = NEW.conversation_id AND p.status = 'pending') THEN NULL ELSE 0 END
  FROM webhooks w
  WHERE instr(w.events, ',member.added,') > 0 AND (w.conversation_id IS NULL OR w.conversation_id IS NEW.conversation_id);
END;--> statement-breakpoint
CREATE TRIGGER `webhooks_member_removed` AFTER DELETE ON `members`
BEGIN
  INSERT INTO webhook_outbox (hook_id, type, conversation_id, order_key, created_at, payload, next_attempt_at)
  SELECT w.id, 'member.removed', OLD.conversation_id, OLD.conversation_id, CAST(unixepoch('subsec') * 1000 AS INTEGER), json_object('conversation_id', OLD.conversation_id, 'user_id', OLD.user_id, 'role', OLD.role, 'joined_at', CASE WHEN OLD.joined_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', OLD.joined_at / 1000, 'unixepoch') || printf('.%03dZ', OLD.joined_at % 1000) END),
    CASE WHEN EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.hook_id = w.id AND p.order_key = OLD.conversation_id AND p.status = 'pending') THEN NULL ELSE 0 END
  FROM webhooks w
  WHERE instr(w.events, ',member.removed,') > 0 AND (w.conversation_id IS NULL OR w.conversation_id IS OLD.conversation_id);
END;--> statement-breakpoint
CREATE TRIGGER `webhooks_conversation_updated` AFTER UPDATE OF name ON `conversations`
WHEN OLD.name IS NOT NEW.name
BEGIN
  INSERT INTO webhook_outbox (hook_id, type, conversation_id, order_key, created_at, payload, next_attempt_at)
  SELECT w.id, 'conversation.updated', NEW.id, NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER), json_object('id', NEW.id, 'name', NEW.name, 'is_group', json(CASE WHEN NEW.is_group THEN 'true' ELSE 'false' END), 'rev', NEW.rev, 'meta_rev', NEW.meta_rev, 'updated_at', CASE WHEN NEW.updated_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', NEW.updated_at / 1000, 'unixepoch') || printf('.%03dZ', NEW.updated_at % 1000) END),
    CASE WHEN EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.hook_id = w.id AND p.order_key = NEW.id AND p.status = 'pending') THEN NULL ELSE 0 END
  FROM webhooks w
  WHERE instr(w.events, ',conversation.updated,') > 0 AND (w.conversation_id IS NULL OR w.conversation_id IS NEW.id);
END;--> statement-breakpoint
CREATE TRIGGER `webhooks_user_created` AFTER INSERT ON `users`
BEGIN
  INSERT INTO webhook_outbox (hook_id, type, conversation_id, order_key, created_at, payload, next_attempt_at)
  SELECT w.id, 'user.created', NULL, 'user:' || NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER), json_object('id', NEW.id, 'username', NEW.username, 'full_name', NEW.full_name, 'avatar_url', NEW.avatar_url, 'bio', NEW.bio, 'created_at', CASE WHEN NEW.created_at IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', NEW.created_at / 1000, 'unixepoch') || printf('.%03dZ', NEW.created_at % 1000) END),
    CASE WHEN EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.hook_id = w.id AND p.order_key = 'user:' || NEW.id AND p.status = 'pending') THEN NULL ELSE 0 END
  FROM webhooks w
  WHERE instr(w.events, ',user.created,') > 0 AND (w.conversation_id IS NULL OR w.conversation_id IS NULL);
END;
