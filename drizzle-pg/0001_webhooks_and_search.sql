-- What SQLite keeps with triggers (drizzle/0006_webhooks.sql, drizzle/0007_message_search.sql), for
-- PostgreSQL: the webhook outbox written by triggers in the change's own transaction, and the
-- full-text index of messages.content.
--
-- Times in payloads: ISO-8601 UTC with milliseconds, as the API renders them (SQLite's strftime).
CREATE FUNCTION chat_iso_ms(ms bigint) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT to_char(timestamp 'epoch' + ms * interval '1 millisecond', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;
--> statement-breakpoint
-- One outbox row per subscribed hook. A row waits (next_attempt_at NULL) while an earlier event of
-- the same key is pending for that hook, so the worker only ever sees heads. Events of one
-- conversation are serialized by the row lock on the conversation every change takes first.
CREATE FUNCTION chat_webhook_enqueue(p_event text, p_conversation text, p_key text, p_payload json) RETURNS void LANGUAGE sql AS $$
  INSERT INTO webhook_outbox (hook_id, type, conversation_id, order_key, created_at, payload, next_attempt_at)
  SELECT w.id, p_event, p_conversation, p_key, (extract(epoch FROM clock_timestamp()) * 1000)::bigint, p_payload::text,
    CASE WHEN EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.hook_id = w.id AND p.order_key = p_key AND p.status = 'pending') THEN NULL ELSE 0 END
  FROM webhooks w
  WHERE strpos(w.events, ',' || p_event || ',') > 0 AND (w.conversation_id IS NULL OR w.conversation_id IS NOT DISTINCT FROM p_conversation)
$$;
--> statement-breakpoint
-- With no hook registered each trigger costs one probe of the (empty) webhooks table and builds no payload.
CREATE FUNCTION chat_webhooks_messages() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  event text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhooks) THEN RETURN NULL; END IF;
  IF TG_OP = 'INSERT' THEN
    event := 'message.created';
  ELSIF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
    event := 'message.deleted';
  ELSIF NEW.deleted_at IS NULL AND (OLD.content IS DISTINCT FROM NEW.content OR OLD.edited_at IS DISTINCT FROM NEW.edited_at) THEN
    event := 'message.updated';
  ELSE
    RETURN NULL;
  END IF;
  PERFORM chat_webhook_enqueue(event, NEW.conversation_id, NEW.conversation_id, json_build_object(
    'id', NEW.id, 'conversation_id', NEW.conversation_id, 'sender_id', NEW.sender_id, 'recipient_id', NEW.recipient_id,
    'content', NEW.content, 'seq', NEW.seq, 'client_msg_id', NEW.client_msg_id, 'rev', NEW.rev, 'reply_to_id', NEW.reply_to_id,
    'created_at', chat_iso_ms(NEW.created_at), 'updated_at', chat_iso_ms(NEW.updated_at),
    'edited_at', chat_iso_ms(NEW.edited_at), 'deleted_at', chat_iso_ms(NEW.deleted_at)));
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER webhooks_message_created AFTER INSERT ON messages FOR EACH ROW EXECUTE FUNCTION chat_webhooks_messages();
--> statement-breakpoint
-- Only updates naming these columns: rev and reply_count bumps never reach the function.
CREATE TRIGGER webhooks_message_changed AFTER UPDATE OF content, edited_at, deleted_at ON messages FOR EACH ROW EXECUTE FUNCTION chat_webhooks_messages();
--> statement-breakpoint
CREATE FUNCTION chat_webhooks_reactions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r reactions%ROWTYPE;
  conversation text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhooks) THEN RETURN NULL; END IF;
  IF TG_OP = 'INSERT' THEN r := NEW; ELSE r := OLD; END IF;
  SELECT m.conversation_id INTO conversation FROM messages m WHERE m.id = r.message_id;
  IF conversation IS NULL THEN RETURN NULL; END IF;
  PERFORM chat_webhook_enqueue('reaction.changed', conversation, conversation, json_build_object(
    'message_id', r.message_id, 'conversation_id', conversation, 'user_id', r.user_id, 'emoji', r.emoji,
    'action', CASE WHEN TG_OP = 'INSERT' THEN 'added' ELSE 'removed' END, 'created_at', chat_iso_ms(r.created_at)));
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER webhooks_reaction_changed AFTER INSERT OR DELETE ON reactions FOR EACH ROW EXECUTE FUNCTION chat_webhooks_reactions();
--> statement-breakpoint
CREATE FUNCTION chat_webhooks_members() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r members%ROWTYPE;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhooks) THEN RETURN NULL; END IF;
  IF TG_OP = 'INSERT' THEN r := NEW; ELSE r := OLD; END IF;
  PERFORM chat_webhook_enqueue(CASE WHEN TG_OP = 'INSERT' THEN 'member.added' ELSE 'member.removed' END, r.conversation_id, r.conversation_id,
    json_build_object('conversation_id', r.conversation_id, 'user_id', r.user_id, 'role', r.role, 'joined_at', chat_iso_ms(r.joined_at)));
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER webhooks_member_changed AFTER INSERT OR DELETE ON members FOR EACH ROW EXECUTE FUNCTION chat_webhooks_members();
--> statement-breakpoint
CREATE FUNCTION chat_webhooks_conversations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.name IS NOT DISTINCT FROM NEW.name OR NOT EXISTS (SELECT 1 FROM webhooks) THEN RETURN NULL; END IF;
  PERFORM chat_webhook_enqueue('conversation.updated', NEW.id, NEW.id, json_build_object(
    'id', NEW.id, 'name', NEW.name, 'is_group', NEW.is_group, 'rev', NEW.rev, 'meta_rev', NEW.meta_rev,
    'updated_at', chat_iso_ms(NEW.updated_at)));
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER webhooks_conversation_updated AFTER UPDATE OF name ON conversations FOR EACH ROW EXECUTE FUNCTION chat_webhooks_conversations();
--> statement-breakpoint
CREATE FUNCTION chat_webhooks_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhooks) THEN RETURN NULL; END IF;
  PERFORM chat_webhook_enqueue('user.created', NULL, 'user:' || NEW.id, json_build_object(
    'id', NEW.id, 'username', NEW.username, 'full_name', NEW.full_name, 'avatar_url', NEW.avatar_url, 'bio', NEW.bio,
    'created_at', chat_iso_ms(NEW.created_at)));
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER webhooks_user_created AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION chat_webhooks_users();
--> statement-breakpoint
-- Full-text search: a stored generated tsvector column with a GIN index (no triggers: PostgreSQL
-- recomputes it on every write of content or deleted_at, in the writing statement). A deleted
-- message indexes '' and never matches, like SQLite's FTS5 index. The configuration `chat_search`
-- folds diacritics like FTS5's remove_diacritics when the unaccent extension can be installed, and
-- is plain `simple` (lower-cased words, no stemming) otherwise. Prefix queries use to_tsquery's
-- `word:*`, which the GIN index serves.
DO $$
BEGIN
  BEGIN
    CREATE EXTENSION IF NOT EXISTS unaccent;
  EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'unaccent unavailable (%): search keeps diacritics', SQLERRM;
  END;
  CREATE TEXT SEARCH CONFIGURATION chat_search (COPY = pg_catalog.simple);
  IF EXISTS (SELECT 1 FROM pg_ts_dict WHERE dictname = 'unaccent') THEN
    ALTER TEXT SEARCH CONFIGURATION chat_search ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part WITH unaccent, simple;
  END IF;
END
$$;
--> statement-breakpoint
ALTER TABLE messages ADD COLUMN search_vector tsvector
  GENERATED ALWAYS AS (to_tsvector('chat_search'::regconfig, CASE WHEN deleted_at IS NULL THEN content ELSE '' END)) STORED;
--> statement-breakpoint
CREATE INDEX messages_search ON messages USING gin (search_vector);
