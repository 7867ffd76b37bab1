CREATE TABLE `blocks` (
	`blocker_id` text NOT NULL,
	`blocked_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`blocker_id`, `blocked_id`),
	FOREIGN KEY (`blocker_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`blocked_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `blocks_blocked` ON `blocks` (`blocked_id`,`blocker_id`);--> statement-breakpoint
CREATE TABLE `reactions` (
	`message_id` text NOT NULL,
	`user_id` text NOT NULL,
	`emoji` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`message_id`, `emoji`, `user_id`),
	FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `conversations` ADD `rev` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `conversations` ADD `meta_rev` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `members` ADD `last_delivered_seq` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `members` ADD `role` text DEFAULT 'member' NOT NULL;--> statement-breakpoint
ALTER TABLE `members` ADD `muted` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `members` ADD `muted_until` integer;--> statement-breakpoint
ALTER TABLE `members` ADD `pinned` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `messages` ADD `rev` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `messages` ADD `edited_at` integer;--> statement-breakpoint
ALTER TABLE `messages` ADD `deleted_at` integer;--> statement-breakpoint
ALTER TABLE `messages` ADD `reply_to_id` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `reply_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `messages` ADD `mentions` text;--> statement-breakpoint
CREATE INDEX `messages_conversation_rev` ON `messages` (`conversation_id`,`rev`);--> statement-breakpoint
CREATE INDEX `messages_reply_to` ON `messages` (`reply_to_id`,`seq`) WHERE reply_to_id IS NOT NULL;--> statement-breakpoint
-- Existing history: every message so far was one change, so rev starts at last_seq and a
-- message's rev is its seq; group creators own their groups; what was read was delivered.
UPDATE `conversations` SET `rev` = `last_seq`;--> statement-breakpoint
UPDATE `messages` SET `rev` = `seq`;--> statement-breakpoint
UPDATE `members` SET `last_delivered_seq` = `last_read_seq`;--> statement-breakpoint
UPDATE `members` SET `role` = 'owner' WHERE EXISTS (SELECT 1 FROM `conversations` c WHERE c.`id` = `members`.`conversation_id` AND c.`is_group` = 1 AND c.`created_by` = `members`.`user_id`);
