// The one send path shared by REST and sockets: validate, resolve the conversation, then the writer.
import type { Db } from "../../db/client";
import { notFound, unprocessable } from "../../errors";
import type { Hub } from "../../realtime/hub";
import { findOrCreateDirect } from "../conversations/service";
import { normalizeContent } from "./service";
import type { SendRequest } from "./writer";

export interface SendInput {
  conversationId?: string | null;
  recipientId?: string | null;
  content: unknown;
  clientMsgId?: string | null;
}

interface ConversationFacts {
  isGroup: boolean;
  members: Set<string>;
}

// The membership check runs on every send; answering it from memory takes a third off the
// main thread's cost per message. Members are only ever set when a conversation is created
// (there is no route that adds or removes them), and only conversations that exist are cached,
// so an entry never goes stale. Bounded: cleared when full.
const factsByDb = new WeakMap<Db, Map<string, ConversationFacts>>();
const MAX_CACHED_CONVERSATIONS = 20_000;

function conversationFacts(db: Db, conversationId: string): ConversationFacts | null {
  let cache = factsByDb.get(db);
  if (!cache) factsByDb.set(db, (cache = new Map()));
  const hit = cache.get(conversationId);
  if (hit) return hit;
  const rows = db.$client
    .query<{ is_group: number; user_id: string }, [string]>(
      "SELECT c.is_group AS is_group, mb.user_id AS user_id FROM conversations c JOIN members mb ON mb.conversation_id = c.id WHERE c.id = ?",
    )
    .all(conversationId);
  if (rows.length === 0) return null;
  const facts = { isGroup: Boolean(rows[0]!.is_group), members: new Set(rows.map((r) => r.user_id)) };
  if (cache.size >= MAX_CACHED_CONVERSATIONS) cache.clear();
  cache.set(conversationId, facts);
  return facts;
}

export function prepareSend(db: Db, hub: Hub, senderId: string, input: SendInput): SendRequest {
  const content = normalizeContent(input.content);
  let conversationId = input.conversationId ?? null;
  if (!conversationId) {
    if (!input.recipientId) throw unprocessable("conversation_id", "conversation_id or recipient_id is required");
    conversationId = findOrCreateDirect(db, hub, senderId, input.recipientId, "recipient_id").row.id;
  }
  const facts = conversationFacts(db, conversationId);
  if (!facts || !facts.members.has(senderId)) throw notFound("Conversation");
  return {
    conversationId,
    senderId,
    recipientId: facts.isGroup ? null : ([...facts.members].find((id) => id !== senderId) ?? null),
    content,
    clientMsgId: input.clientMsgId ?? null,
  };
}
