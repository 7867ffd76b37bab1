// Mentions: `@username` in a message's content, for a member of its conversation, puts that member's
// id in the message's `mentions` (computed on send and on edit). Boundaries:
// - the `@` starts the content or follows a character that cannot be part of a username or an
//   address (so `a@b.c` and `bob@example.com` mention nobody);
// - the name is the longest run of username characters [A-Za-z0-9_.-] after it, matched
//   case-insensitively; when that run is not a member's name, trailing `.` and `-` are dropped
//   (`@alice.` at the end of a sentence mentions alice);
// - a run followed by another `@` is an address, not a mention (`@bob@example.com`).
// Only content containing '@' costs a query: one indexed lookup of the candidate names among the
// conversation's members.
import { andThen, type Awaitable, type Storage } from "../../ports/stores";

const MENTION = /(?<![A-Za-z0-9_.+\-@])@([A-Za-z0-9_.\-]{1,64})(?!@)/g;
/** A message mentioning more names than this only notifies the first ones. */
export const MAX_MENTIONS = 50;

/** Per `@name` in the content: the names it may stand for, lower-cased, longest first. */
export function mentionCandidates(content: string): string[][] {
  if (!content.includes("@")) return [];
  const found: string[][] = [];
  for (const match of content.matchAll(MENTION)) {
    const variants: string[] = [];
    let name = match[1]!.toLowerCase();
    for (;;) {
      if (name.length >= 3 && name.length <= 32) variants.push(name);
      const shorter = name.replace(/[.\-]$/, "");
      if (shorter === name) break;
      name = shorter;
    }
    if (variants.length > 0) found.push(variants);
    if (found.length >= MAX_MENTIONS) break;
  }
  return found;
}

/** Ids of the conversation's members mentioned in the content, in the order they appear. */
export function findMentions({ stores }: Storage, conversationId: string, content: string): Awaitable<string[]> {
  const candidates = mentionCandidates(content);
  if (candidates.length === 0) return [];
  const names = [...new Set(candidates.flat())];
  return andThen(stores.messages.membersByUsernameKey(conversationId, names), (rows) => {
    if (rows.length === 0) return [];
    const idByName = new Map(rows.map((r) => [r.key, r.id]));
    const ids: string[] = [];
    for (const variants of candidates) {
      const name = variants.find((v) => idByName.has(v));
      const id = name === undefined ? undefined : idByName.get(name)!;
      if (id !== undefined && !ids.includes(id)) ids.push(id);
    }
    return ids;
  });
}
