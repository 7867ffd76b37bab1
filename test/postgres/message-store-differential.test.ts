// The PostgreSQL MessageStore against the SQLite one, which is the reference: one random history of
// sends (replies, mentions, retried client_msg_ids) through each engine's group commit, edits,
// deletes and reactions through revisions, read and delivered cursors and mutes, then every read of
// the MessageStore compared. Message ids differ between the engines (each commit makes its own), so
// messages are compared by seq.
import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/db/client";
import { runMigrations } from "../../src/db/migrate";
import { sqliteStorage } from "../../src/db/stores";
import { sqliteCommitter } from "../../src/db/stores/message-commit";
import type { CommitResult, MessageCommitter, SendRequest } from "../../src/ports/message-commit";
import { andThen, NO_CHANGE, type Awaitable, type MessageRecord, type Stores } from "../../src/ports/stores";
import { pgWriterBackend } from "../../src/storage/postgres";
import { openPostgresStores } from "../../src/storage/postgres/stores";
import { postgresMissing } from "../support/postgres";
import { propertyParams } from "../support/property";
import { newUser } from "../support/stores";
import { pgDatabases } from "./helpers";

const database = pgDatabases();
const dir = mkdtempSync(join(tmpdir(), "chat-differential-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const user = fc.integer({ min: 0, max: 2 });
/** Which message (modulo how many there are): few, so reactions and replies meet. */
const message = fc.integer({ min: 0, max: 3 });
const op = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("send" as const), sender: user, replyTo: fc.option(message, { nil: null }), mention: fc.option(user, { nil: null }), key: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }) }) },
  fc.record({ kind: fc.constant("edit" as const), message, mention: fc.option(user, { nil: null }) }),
  fc.record({ kind: fc.constant("delete" as const), message }),
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("react" as const), message, user, emoji: fc.integer({ min: 0, max: 3 }) }) },
  fc.record({ kind: fc.constant("unreact" as const), message, user, emoji: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant("read" as const), user, seq: fc.integer({ min: 0, max: 25 }) }),
  fc.record({ kind: fc.constant("deliver" as const), batch: fc.array(fc.record({ user, seq: fc.integer({ min: 0, max: 25 }) }), { maxLength: 4 }) }),
  fc.record({ kind: fc.constant("mute" as const), user, muted: fc.boolean(), until: fc.option(fc.integer({ min: 0, max: 60 }), { nil: null }) }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

const EMOJI = ["👍", ":tada:", "🎉", "a"];

/** One engine: its stores, its committer, and the ids its commits gave each seq. */
interface Engine {
  stores: Stores;
  committer: MessageCommitter;
  idBySeq: string[];
}

const commit = (committer: MessageCommitter, requests: SendRequest[], at: number) =>
  new Promise<CommitResult>((resolve) => committer.commit(requests, at, resolve));
const orNone = (written: Awaitable<MessageRecord | null>) => andThen(written, (r) => r ?? NO_CHANGE);

/** Applies `op` to one engine; what it answered, without ids. */
async function apply(e: Engine, op: Op, at: number, conversationId: string, users: string[]): Promise<unknown> {
  const id = (n: number) => e.idBySeq[n % e.idBySeq.length]!;
  const s = e.stores;
  const revision = (r: unknown) => (r && typeof r === "object" && "rev" in r ? { rev: r.rev } : r);
  switch (op.kind) {
    case "send": {
      const request: SendRequest = {
        conversationId,
        senderId: users[op.sender]!,
        recipientId: null,
        content: `m${at} @${op.mention ?? "-"}`,
        clientMsgId: op.key === null ? null : `k${op.key}`,
        replyToId: op.replyTo === null || e.idBySeq.length === 0 ? null : id(op.replyTo),
        mentions: op.mention === null ? null : [users[op.mention]!],
      };
      const result = await commit(e.committer, [request], at);
      if (result.busy) throw new Error("busy");
      const [outcome] = result.outcomes;
      if (!outcome || "error" in outcome) return "error";
      if (outcome.created) e.idBySeq.push(outcome.record.id);
      return { seq: outcome.record.seq, created: outcome.created };
    }
    case "edit":
      if (!e.idBySeq.length) return null;
      return revision(await s.conversations.revise(conversationId, { at }, (tx, rev) => orNone(tx.messages.edit(id(op.message), `e${at}`, op.mention === null ? null : JSON.stringify([users[op.mention]]), rev, at))));
    case "delete":
      if (!e.idBySeq.length) return null;
      return revision(await s.conversations.revise(conversationId, { at }, (tx, rev) => orNone(tx.messages.tombstone(id(op.message), rev, at))));
    case "react":
      if (!e.idBySeq.length) return null;
      return revision(
        await s.conversations.revise(conversationId, { at }, (tx, rev) =>
          andThen(tx.messages.addReaction(id(op.message), users[op.user]!, EMOJI[op.emoji]!, at, 3), (added) => (added === "added" ? orNone(tx.messages.touch(id(op.message), rev, at)) : NO_CHANGE)),
        ),
      );
    case "unreact":
      if (!e.idBySeq.length) return null;
      return s.messages.removeReaction(id(op.message), users[op.user]!, EMOJI[op.emoji]!);
    case "read":
      return s.messages.markRead(conversationId, users[op.user]!, op.seq, at);
    case "deliver": {
      const batch = op.batch.map((d) => ({ conversationId, userId: users[d.user]!, seq: d.seq }));
      return (await s.messages.markDelivered(batch)).map((d) => batch.indexOf(d));
    }
    case "mute":
      return s.conversations.updateSettings(conversationId, users[op.user]!, { muted: op.muted, mutedUntil: op.until });
  }
}

/** Everything the MessageStore answers about the conversation, with message ids replaced by seqs. */
async function everything(e: Engine, conversationId: string, users: string[], keys: string[], at: number) {
  const m = e.stores.messages;
  const seqOf = new Map(e.idBySeq.map((id, i) => [id, i + 1]));
  const bare = (r: MessageRecord) => ({ ...r, id: seqOf.get(r.id), reply_to_id: r.reply_to_id && seqOf.get(r.reply_to_id), attachments: r.attachments ?? "[]" });
  const head = await m.head(conversationId);
  const out: Record<string, unknown> = {
    page: (await m.page(conversationId, { after: 0, limit: 1000 })).map(bare),
    latest: (await m.page(conversationId, { before: 6, limit: 3 })).map((r) => r.seq),
    byIds: (await m.byIds([...e.idBySeq].reverse())).map(bare).sort((x, y) => x.seq - y.seq),
    head: head && { ...head, cursors: [...head.cursors].sort() },
    cursors: await m.cursors(conversationId),
    mentionable: (await m.membersByUsernameKey(conversationId, keys.concat("nobody"))).sort((x, y) => x.key.localeCompare(y.key)),
  };
  const tallies = await m.reactions(e.idBySeq);
  out.reactions = [...tallies].map(([id, t]) => [seqOf.get(id), t]).sort();
  for (const [i, u] of users.entries()) {
    out[`unread ${i}`] = [await m.unread(u, at), await m.unread(u, 30)];
    out[`readCursors ${i}`] = await m.readCursors(conversationId, u);
  }
  for (const [i, id] of e.idBySeq.entries()) {
    out[`replies ${i + 1}`] = [(await m.replies(id, { limit: 100 })).map((r) => r.seq), (await m.replies(id, { before: 20, limit: 2 })).map((r) => r.seq)];
    out[`replyTarget ${i + 1}`] = await m.replyTarget(id);
  }
  for (let since = 0; since <= (head?.rev ?? 0); since++) {
    out[`changedSince ${since}`] = [(await m.changedSince(conversationId, since, 3)).map((r) => r.seq), (await m.changedSince(conversationId, since, 100)).map((r) => r.seq)];
  }
  return out;
}

describe.skipIf(postgresMissing !== null)("the PostgreSQL MessageStore answers as SQLite's", () => {
  test("random histories of sends, revisions, cursors and mutes: every read the same on both engines", async () => {
    // One database per engine for every run; each run has its own users and conversation.
    const sqlite = openDatabase(join(dir, "reference.db"));
    runMigrations(sqlite);
    const { db } = await database();
    const engines = [
      { stores: sqliteStorage(sqlite).stores, committer: sqliteCommitter(sqlite) },
      { stores: openPostgresStores(db), committer: pgWriterBackend(db) },
    ];
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        run++;
        const [reference, candidate]: Engine[] = engines.map((e) => ({ ...e, idBySeq: [] }));
        const keys = [0, 1, 2].map((i) => `d${run}-${i}`);
        const users = keys.map((usernameKey) => newUser({ usernameKey }));
        const conversation = { id: Bun.randomUUIDv7(), name: "g", isGroup: true, createdBy: users[0]!.id, directKey: null, lastActivityAt: 1, createdAt: 1, updatedAt: 1 };
        for (const { stores } of engines) {
          for (const u of users) await stores.users.insert(u);
          await stores.conversations.create(conversation, users.map((u, i) => ({ userId: u.id, role: i === 0 ? ("owner" as const) : ("member" as const) })));
        }
        const ids = users.map((u) => u.id);
        for (const [n, o] of ops.entries()) {
          // Four ops per millisecond: reactions and cursors also meet ties in time.
          const at = 10 + Math.floor(n / 4);
          const expected = await apply(reference!, o, at, conversation.id, ids);
          expect({ op: n, answer: await apply(candidate!, o, at, conversation.id, ids) }).toEqual({ op: n, answer: expected });
        }
        const at = 10 + ops.length / 4;
        expect(await everything(candidate!, conversation.id, ids, keys, at)).toEqual(await everything(reference!, conversation.id, ids, keys, at));
      }),
      propertyParams("pg MessageStore = sqlite MessageStore", { numRuns: 40 }),
    );
    sqlite.$client.close();
  }, 240_000);
});
