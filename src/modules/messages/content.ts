// The rules on message text shared by the REST and socket sends (prepareSend applies them).
import { unprocessable } from "../../errors";
import { MAX_CONTENT_LENGTH } from "./model";

function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * Nothing a reader could see: controls (\u0000), format characters (\u200b, \u202e, the BOM), separators
 * and the other default-ignorable code points (Hangul fillers, variation selectors), the blank Braille pattern. `trim()` only
 * removes white space, so a message of these would show as an empty bubble or reorder what follows.
 */
const INVISIBLE_ONLY = /^[\p{Cc}\p{Cf}\p{Z}\p{Default_Ignorable_Code_Point}\u2800]+$/u;

export function isInvisibleOnly(text: string): boolean {
  const first = text.charCodeAt(0);
  // Most messages start with a visible ASCII character: no regex for them.
  if (first > 0x20 && first < 0x7f) return false;
  return INVISIBLE_ONLY.test(text);
}

export function normalizeContent(content: unknown): string {
  if (typeof content !== "string") throw unprocessable("content", "must be a string");
  const trimmed = content.trim();
  if (trimmed.length === 0) throw unprocessable("content", "must not be empty");
  if (isInvisibleOnly(trimmed)) throw unprocessable("content", "must contain a visible character");
  // Characters are code points, as the original service counted them: an emoji is one, not two UTF-16 units.
  if (trimmed.length > MAX_CONTENT_LENGTH && codePoints(trimmed) > MAX_CONTENT_LENGTH) {
    throw unprocessable("content", `must be at most ${MAX_CONTENT_LENGTH} characters`);
  }
  // A lone UTF-16 surrogate (JSON's "\ud800" escape can carry one) cannot be encoded as UTF-8: stored
  // as is, it came back as U+FFFD in some paths and not in others (ack, live frame, history, sync).
  if (!trimmed.isWellFormed()) throw unprocessable("content", "must not contain unpaired surrogates (invalid Unicode)");
  return trimmed;
}
