DROP INDEX `messages_conversation_rev`;--> statement-breakpoint
ALTER TABLE `messages` ADD `created_rev` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `messages_changed_rev` ON `messages` (`conversation_id`,`rev`) WHERE rev != created_rev;--> statement-breakpoint
-- Hand-written: the search index without its per-row column sizes (columnsize=0). Results are
-- ordered newest first and highlight() needs only positions, so nothing reads them, and every send
-- saved writing one more b-tree row. The triggers of 0007 keep working: they name the table.
DROP TABLE `messages_fts`;--> statement-breakpoint
CREATE VIRTUAL TABLE `messages_fts` USING fts5(content, content='messages', content_rowid='rowid', prefix='3', columnsize=0, tokenize='unicode61 remove_diacritics 2');--> statement-breakpoint
INSERT INTO `messages_fts` (rowid, content) SELECT rowid, CASE WHEN deleted_at IS NULL THEN content ELSE '' END FROM `messages`;
