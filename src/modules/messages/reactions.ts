// Reactions: PUT adds the caller's emoji to a message, DELETE removes it. Idempotent: adding one
// that is there or removing one that is not commits nothing (no rev, no frame) and answers the
// message as it is. Each real change is one revision that stamps the message with its rev.
import { unprocessable } from "../../errors";
import type { ChangeFeed } from "../../ports/changes";
import { assertNotBlockedInDirect } from "../blocks/service";
import { commitRevision, NO_CHANGE } from "../changes/revision";
import { deletedMessage, reportMessageUpdated, viewFor, visibleMessage } from "./edit";
import { andThen, type Storage } from "../../ports/stores";
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

export async function setReaction(s: Storage, feed: ChangeFeed, userId: string, messageId: string, rawEmoji: string, on: boolean): Promise<MessageView> {
  const emoji = checkEmoji(rawEmoji);
  const message = await visibleMessage(s, userId, messageId);
  if (message.deleted_at !== null) throw deletedMessage();
  // Taking a reaction back is always allowed; adding one is writing to whoever blocked you.
  if (on) await assertNotBlockedInDirect(s, userId, message.conversation_id, "react");
  let gone = false;
  const committed = await commitRevision(s, message.conversation_id, {}, ({ messages }, rev, at) =>
    andThen(messages.touch(messageId, rev, at), (record) => {
      if (!record) return (gone = true), NO_CHANGE;
      if (!on) return andThen(messages.removeReaction(messageId, userId, emoji), (removed) => (removed ? record : NO_CHANGE));
      return andThen(messages.addReaction(messageId, userId, emoji, at, MAX_DISTINCT_EMOJI), (added) => {
        if (added === "full") throw unprocessable("emoji", `a message has at most ${MAX_DISTINCT_EMOJI} distinct emoji`);
        return added === "exists" ? NO_CHANGE : record;
      });
    }),
  );
  if (gone) throw deletedMessage();
  if (!committed) return viewFor(s, userId, (await findMessage(s, messageId))!);
  reportMessageUpdated(s, feed, committed.result, committed.at);
  return viewFor(s, userId, committed.result);
}
