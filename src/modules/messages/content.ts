// Rules on message text shared by the REST and socket sends (prepareSend applies them).
import { unprocessable } from "../../errors";

/**
 * Refuses text holding a lone UTF-16 surrogate (JSON's "\ud800" escape can carry one). Such text
 * cannot be encoded as UTF-8: stored as is, it came back as U+FFFD in some paths and not in others,
 * so the ack, the live frame, history and sync disagreed. Refused, every path agrees.
 */
export function requireWellFormed(content: string): string {
  if (!content.isWellFormed()) throw unprocessable("content", "must not contain unpaired surrogates (invalid Unicode)");
  return content;
}
