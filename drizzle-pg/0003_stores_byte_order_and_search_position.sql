-- What the PostgreSQL stores (src/storage/postgres/stores/) need beyond the twin schema; hand-written
-- like 0001's search column, so schema.ts stays the twin of SQLite's.
--
-- Byte order: SQLite compares keys byte by byte (BINARY); PostgreSQL by the database's locale, where
-- "b_x" may sort after "bax" and a plain btree cannot serve LIKE 'prefix%'. The stores search and
-- sort user keys as `key COLLATE "C"`; these indexes are built on that expression, so one index serves
-- both the prefix search and its ORDER BY ... LIMIT.
CREATE INDEX users_username_key_bytes ON users ((username_key COLLATE "C"));
--> statement-breakpoint
CREATE INDEX users_full_name_key_bytes ON users ((full_name_key COLLATE "C"));
--> statement-breakpoint
-- A search hit's position (the search cursor): insertion order, as SQLite's rowid. An identity, so
-- every instance's insert takes the next one without a lock; existing rows are numbered in the order
-- they were sent. Paging compares positions only among the GIN index's matches, so it needs no index.
ALTER TABLE messages ADD COLUMN search_position bigint;
--> statement-breakpoint
UPDATE messages m SET search_position = o.n
FROM (SELECT id, row_number() OVER (ORDER BY created_at, seq, id COLLATE "C") AS n FROM messages) o
WHERE o.id = m.id;
--> statement-breakpoint
ALTER TABLE messages ALTER COLUMN search_position SET NOT NULL;
--> statement-breakpoint
ALTER TABLE messages ALTER COLUMN search_position ADD GENERATED ALWAYS AS IDENTITY;
--> statement-breakpoint
SELECT setval(pg_get_serial_sequence('messages', 'search_position'), coalesce(max(search_position), 0) + 1, false) FROM messages;
