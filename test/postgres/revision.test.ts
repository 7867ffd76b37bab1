// commitRevisionPg beside the group commit on one conversation from several connections: messages
// and other changes share one gap-free rev sequence; a change that changes nothing spends no rev.
import { describe, expect, test } from "bun:test";
import { ApiError } from "../../src/errors";
import { NO_CHANGE } from "../../src/modules/changes/revision";
import { createPgCommitter } from "../../src/storage/postgres/message-commit";
import { commitRevisionPg } from "../../src/storage/postgres/revision";
import { postgresMissing } from "../support/postgres";
import { pgDatabases, seedConversation, seedUsers } from "./helpers";

const database = pgDatabases();

describe.skipIf(postgresMissing !== null)("PostgreSQL revisions", () => {
  test("messages and other changes committed at once from four connections take revs 1..N, each once", async () => {
    const { db, connect } = await database();
    const [alice] = await seedUsers(db, "alice");
    const conv = await seedConversation(db, "c1", alice!);
    const revs: number[] = [];
    const senders = [0, 1].map(async () => {
      const commit = createPgCommitter(connect(1));
      for (let b = 0; b < 10; b++) {
        const result = await commit([0, 1, 2].map((i) => ({ conversationId: conv, senderId: alice!, recipientId: null, content: `${b}.${i}`, clientMsgId: null })), Date.now());
        if (result.busy) throw new Error("busy");
        for (const o of result.outcomes) {
          if ("error" in o) throw new Error(o.error.message);
          revs.push(o.record.rev);
        }
      }
    });
    const renamers = [0, 1].map(async (w) => {
      const other = connect(1);
      for (let i = 0; i < 15; i++) {
        // Every third one changes nothing: rolled back, no rev spent.
        const revision = await commitRevisionPg(other, conv, { meta: true }, Date.now(), async (tx, rev) => {
          if (i % 3 === 2) return NO_CHANGE;
          await tx`UPDATE conversations SET name = ${`w${w} ${i}`} WHERE id = ${conv}`;
          return rev;
        });
        if (revision) revs.push(revision.rev);
        else expect(i % 3).toBe(2);
      }
    });
    await Promise.all([...senders, ...renamers]);
    const total = 2 * 10 * 3 + 2 * 10;
    expect(revs.sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    const [head] = await db.$client`SELECT rev, last_seq, meta_rev FROM conversations WHERE id = ${conv}`;
    expect({ rev: head.rev, last_seq: head.last_seq }).toEqual({ rev: total, last_seq: 60 });
    expect(head.meta_rev).toBeLessThanOrEqual(total);
  });

  test("a missing conversation is a 404, and nothing is written", async () => {
    const { db } = await database();
    const error = await commitRevisionPg(db, "nope", {}, 1, async () => 1).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(404);
  });
});
