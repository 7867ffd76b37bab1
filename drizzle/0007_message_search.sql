-- Full-text search (issue 14): an FTS5 index over messages.content, external content (the text is
-- stored once, in messages), keyed by the messages' rowid. The triggers keep the index exact inside
-- the very transaction of every insert, edit and delete, whichever connection or thread writes.
-- A deleted message (deleted_at set) is indexed as '' whatever its content, so it can never match,
-- while every row still has its entry and FTS5's 'integrity-check' can compare index and table.
-- FTS5 must be told exactly what was indexed before ('delete' with the old text), so all three
-- triggers and the backfill index the same expression. prefix='3' keeps 3-character prefixes of
-- every word, so `hel*` (and longer prefixes) walk one list instead of merging one per matching word.
CREATE VIRTUAL TABLE `messages_fts` USING fts5(content, content='messages', content_rowid='rowid', prefix='3', tokenize='unicode61 remove_diacritics 2');
--> statement-breakpoint
CREATE TRIGGER `messages_fts_insert` AFTER INSERT ON `messages` BEGIN
  INSERT INTO messages_fts (rowid, content) VALUES (new.rowid, CASE WHEN new.deleted_at IS NULL THEN new.content ELSE '' END);
END;
--> statement-breakpoint
CREATE TRIGGER `messages_fts_delete` AFTER DELETE ON `messages` BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.rowid, CASE WHEN old.deleted_at IS NULL THEN old.content ELSE '' END);
END;
--> statement-breakpoint
-- An edit (new text) or a delete (tombstone) swaps the old indexed text for the new one; updates of
-- other columns (rev, reply_count) never reach the index.
CREATE TRIGGER `messages_fts_update` AFTER UPDATE OF content, deleted_at ON `messages`
WHEN old.content IS NOT new.content OR (old.deleted_at IS NULL) <> (new.deleted_at IS NULL) BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.rowid, CASE WHEN old.deleted_at IS NULL THEN old.content ELSE '' END);
  INSERT INTO messages_fts (rowid, content) VALUES (new.rowid, CASE WHEN new.deleted_at IS NULL THEN new.content ELSE '' END);
END;
--> statement-breakpoint
-- Existing history, in the migration's transaction.
INSERT INTO messages_fts (rowid, content) SELECT rowid, CASE WHEN deleted_at IS NULL THEN content ELSE '' END FROM messages;
