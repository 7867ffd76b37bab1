// Members of conversations with their users, roles and settings (ConversationStore.participants):
// the rows every Conversation view is built from (the list's capped participants, a single view,
// each member's frame).
import { now } from "../../lib/time";

export type { ParticipantRow } from "../../ports/stores";

/** Muted right now: muted, and with no end or an end still ahead. */
export const isMutedNow = (muted: boolean, mutedUntil: number | null, at = now()) => muted && (mutedUntil === null || mutedUntil > at);
