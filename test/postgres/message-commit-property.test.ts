// Properties of the PostgreSQL group commit under random concurrent load: three connections send
// random batches over three conversations, with client_msg_ids drawn from a small pool (so retries
// and in-batch duplicates are common). Whatever the interleaving: each conversation's seqs and revs
// are 1..n, one stored message per client_msg_id, and every answer for one id names that message.
// A connection that cannot reach the server fails the batch once, with no per-request retries.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { SendRequest } from "../../src/ports/message-commit";
import { openPostgres } from "../../src/storage/postgres/client";
import { createPgCommitter } from "../../src/storage/postgres/message-commit";
import { postgresMissing } from "../support/postgres";
import { propertyParams } from "../support/property";
import { pgDatabases, seedConversation, seedUsers } from "./helpers";

const database = pgDatabases();

const request = fc.record({ conversation: fc.integer({ min: 0, max: 2 }), sender: fc.integer({ min: 0, max: 1 }), key: fc.option(fc.integer({ min: 0, max: 5 }), { nil: null }) });
const worker = fc.array(fc.array(request, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 });

describe.skipIf(postgresMissing !== null)("PostgreSQL group commit properties", () => {
  test("random concurrent batches: gap-free seq and rev per conversation, one message per client_msg_id", async () => {
    const { db, connect } = await database();
    const senders = await seedUsers(db, "alice", "bob");
    const committers = [0, 1, 2].map(() => createPgCommitter(connect(1)));
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.tuple(worker, worker, worker), async (workers) => {
        run++;
        const convs = await Promise.all([0, 1, 2].map((i) => seedConversation(db, `r${run}-c${i}`, senders[0]!)));
        const toRequest = (r: { conversation: number; sender: number; key: number | null }): SendRequest => ({
          conversationId: convs[r.conversation]!,
          senderId: senders[r.sender]!,
          recipientId: null,
          content: `k${r.key}`,
          clientMsgId: r.key === null ? null : `k${r.key}`,
        });
        const answers = await Promise.all(
          workers.map(async (batches, w) => {
            const out: { key: string; id: string; created: boolean }[] = [];
            for (const batch of batches) {
              const requests = batch.map(toRequest);
              const result = await committers[w]!(requests, Date.now());
              if (result.busy) throw new Error("busy");
              result.outcomes.forEach((o, i) => {
                if ("error" in o) throw new Error(o.error.message);
                const r = requests[i]!;
                out.push({ key: `${r.conversationId}/${r.senderId}/${r.clientMsgId ?? o.record.id}`, id: o.record.id, created: o.created });
              });
            }
            return out;
          }),
        );
        const all = answers.flat();
        // Every answer for one key names one message, created exactly once.
        const byKey = Map.groupBy(all, (a) => a.key);
        for (const [key, group] of byKey) {
          expect({ key, ids: new Set(group.map((a) => a.id)).size, created: group.filter((a) => a.created).length }).toEqual({ key, ids: 1, created: 1 });
        }
        for (const conv of convs) {
          const rows = await db.$client`SELECT seq, rev FROM messages WHERE conversation_id = ${conv} ORDER BY seq`;
          const n = rows.length;
          expect(rows.map((r: { seq: number }) => r.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
          expect(rows.map((r: { rev: number }) => r.rev)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
          const [head] = await db.$client`SELECT last_seq, rev FROM conversations WHERE id = ${conv}`;
          expect(head).toEqual({ last_seq: n, rev: n });
        }
        const [{ n }] = await db.$client`SELECT count(*)::int AS n FROM messages WHERE conversation_id IN ${db.$client(convs)}`;
        expect(n).toBe(byKey.size);
      }),
      propertyParams("pg group commit", { numRuns: 15 }),
    );
  });

  test("a server that cannot be reached fails the whole batch once, each request with the connection error", async () => {
    const unreachable = openPostgres("postgres://postgres@127.0.0.1:1/chat", { max: 1 });
    try {
      const commit = createPgCommitter(unreachable);
      const requests: SendRequest[] = ["a", "b"].map((content) => ({ conversationId: "c", senderId: "u", recipientId: null, content, clientMsgId: null }));
      const result = await commit(requests, Date.now());
      expect(result).toMatchObject({ busy: false, failed: { code: "ERR_POSTGRES_CONNECTION_REFUSED" } });
      if (result.busy) throw new Error("busy");
      expect(result.outcomes).toEqual([{ error: result.failed! }, { error: result.failed! }]);
    } finally {
      await unreachable.$client.close();
    }
  });
});
