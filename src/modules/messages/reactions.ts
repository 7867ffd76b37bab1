// Reactions: PUT adds the caller's emoji to a message, DELETE removes it. Idempotent: adding one
// that is there or removing one that is not commits nothing (no rev, no frame) and answers the
// message as it is. Each real change is one revision that stamps the message with its rev.
import type { Db } from "../../db/client";
import { unprocessable } from "../../errors";
import type { ChangeFeed } from "../../ports/changes";
import { commitRevision, NO_CHANGE } from "../changes/revision";
import { deletedMessage, reportMessageUpdated, viewFor, visibleMessage } from "./edit";
import { sqliteStoresOf } from "../storage-bridge";
import type { MessageView } from "./model";
import { findMessage } from "./service";

export const MAX_DISTINCT_EMOJI = 20;
export const MAX_EMOJI_NAME_LENGTH = 32;

const SHORTCODE = /^:[a-z0-9_+\-]+:$/;
/** Every code point of an emoji sequence: pictographs, skin tones, ZWJ, variation selectors, keycap, tags, flags. */
const EMOJI_PARTS = /^[\p{Extended_Pictographic}\p{Emoji_Component}\uFE0E]+$/u;
/** What makes it an emoji rather than a bare digit or '#': a pictograph, a flag letter or a keycap. */
const EMOJI_CORE = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3/u;
const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** One emoji grapheme (ZWJ sequences, skin tones, flags, keycaps) or a `:short_name:`; else 422 naming `emoji`. */
export function checkEmoji(emoji: string): string {
  if (emoji.length > 0 && emoji.length <= MAX_EMOJI_NAME_LENGTH && SHORTCODE.test(emoji)) return emoji;
  if (emoji.length > 0 && emoji.length <= 64 && EMOJI_PARTS.test(emoji) && EMOJI_CORE.test(emoji)) {
    let count = 0;
    for (const _ of graphemes.segment(emoji)) if (++count > 1) break;
    if (count === 1) return emoji;
  }
  throw unprocessable("emoji", `must be one emoji or a :short_name: of at most ${MAX_EMOJI_NAME_LENGTH} characters [a-z0-9_+-]`);
}

export function setReaction(db: Db, feed: ChangeFeed, userId: string, messageId: string, rawEmoji: string, on: boolean): MessageView {
  const emoji = checkEmoji(rawEmoji);
  const message = visibleMessage(db, userId, messageId);
  if (message.deleted_at !== null) throw deletedMessage();
  const { messages } = sqliteStoresOf(db);
  let gone = false;
  const committed = commitRevision(db, message.conversation_id, {}, (rev, at) => {
    const record = messages.touch(messageId, rev, at);
    if (!record) return (gone = true), NO_CHANGE;
    if (on) {
      const added = messages.addReaction(messageId, userId, emoji, at, MAX_DISTINCT_EMOJI);
      if (added === "full") throw unprocessable("emoji", `a message has at most ${MAX_DISTINCT_EMOJI} distinct emoji`);
      if (added === "exists") return NO_CHANGE;
    } else if (!messages.removeReaction(messageId, userId, emoji)) {
      return NO_CHANGE;
    }
    return record;
  });
  if (gone) throw deletedMessage();
  if (!committed) return viewFor(db, userId, findMessage(db, messageId)!);
  reportMessageUpdated(db, feed, committed.result, committed.at);
  return viewFor(db, userId, committed.result);
}
