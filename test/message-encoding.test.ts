// The message has two encoders: toMessageView (REST responses, frames) and the pre-encoded JSON of
// the recent-messages window. Both are checked against the MessageView schema, field by field and
// in order, so a field added to the schema cannot be forgotten in either.
import { expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import fc from "fast-check";
import { MessageView } from "../src/modules/messages/model";
import { encodeMessage, toMessageView, type MessageRecord } from "../src/modules/messages/message-view";
import { propertyParams } from "./support/property";

const record = fc.record<MessageRecord>({
  id: fc.uuid(),
  conversation_id: fc.uuid(),
  seq: fc.integer({ min: 1, max: 2 ** 40 }),
  sender_id: fc.uuid(),
  recipient_id: fc.option(fc.uuid(), { nil: null }),
  content: fc.string({ unit: "binary", minLength: 1, maxLength: 200 }),
  client_msg_id: fc.option(fc.string({ minLength: 1, maxLength: 128 }), { nil: null }),
  rev: fc.integer({ min: 0, max: 2 ** 40 }),
  edited_at: fc.option(fc.integer({ min: 0, max: 4_102_444_800_000 }), { nil: null }),
  deleted_at: fc.option(fc.integer({ min: 0, max: 4_102_444_800_000 }), { nil: null }),
  reply_to_id: fc.option(fc.uuid(), { nil: null }),
  reply_count: fc.nat(),
  mentions: fc.option(fc.array(fc.uuid(), { minLength: 1, maxLength: 3 }).map((ids) => JSON.stringify(ids)), { nil: null }),
  created_at: fc.integer({ min: 0, max: 4_102_444_800_000 }),
  updated_at: fc.integer({ min: 0, max: 4_102_444_800_000 }),
  // Attachments (issue 14): the JSON SQLite renders, absent when the row came without the column.
  attachments: fc.option(
    fc
      .array(
        fc.record({
          id: fc.uuid(),
          filename: fc.string({ minLength: 1, maxLength: 40 }),
          content_type: fc.constantFrom("image/png", "text/plain", "application/octet-stream"),
          size: fc.integer({ min: 1, max: 2 ** 32 }),
          sha256: fc.stringMatching(/^[0-9a-f]{64}$/),
          created_at: fc.integer({ min: 0, max: 4_102_444_800_000 }).map((t) => new Date(t).toISOString()),
        }),
        { maxLength: 3 },
      )
      .map((list) => JSON.stringify(list)),
    { nil: undefined },
  ),
}, { requiredKeys: ["id", "conversation_id", "seq", "sender_id", "recipient_id", "content", "client_msg_id", "rev", "edited_at", "deleted_at", "reply_to_id", "reply_count", "mentions", "created_at", "updated_at"] });

const decode = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes).slice(1)); // drop the leading comma

test("both encoders give exactly the schema's fields, in the schema's order, with equal values", () => {
  const fields = Object.keys(MessageView.properties);
  fc.assert(
    fc.property(record, fc.boolean(), (m, isRead) => {
      const view = toMessageView(m, isRead);
      const encoded = encodeMessage(m);
      const fast = decode(isRead ? encoded.read : encoded.unread);
      expect(Object.keys(view)).toEqual(fields);
      expect(Object.keys(fast)).toEqual(fields);
      expect(fast).toEqual(view);
      expect(Value.Check(MessageView, view)).toBe(true);
    }),
    propertyParams("message encoders", { numRuns: 300 }),
  );
});
