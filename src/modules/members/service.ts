// Membership changes (add, remove, leave, roles) and each member's own settings (mute, pin).
// Every membership change is a revision of the conversation (commitRevision with meta: true, so
// /changes carries the Conversation) reported once as conversation_updated with who was added and
// removed: the change feed then drops the cached members and moves open sockets in or out of the
// conversation's topic in the same step. Settings are the member's own and not a revision.
import { andThen, type ConversationRow, type MemberSettings, type Storage, type Stores } from "../../ports/stores";
import type { Config } from "../../config";
import { ApiError, notFound, unprocessable } from "../../errors";
import { now } from "../../lib/time";
import type { Hub } from "../../ports/bus";
import type { ChangeFeed } from "../../ports/changes";
import { commitRevision, NO_CHANGE } from "../changes/revision";
import { MAX_MEMBERS, type Role } from "../conversations/model";
import { memberViewRenderer } from "../conversations/member-views";
import { assertUsersExist, getConversationRow, reportConversationUpdated } from "../conversations/service";
import { assertNotBlockedBy } from "../blocks/service";
import { dropUnusedBlobs } from "../attachments/service";
import { filesDirOf } from "../attachments/store";
import type { SettingsBody } from "./model";

const RANK: Record<Role, number> = { owner: 3, admin: 2, member: 1 };
export const forbidden = (detail: string) => new ApiError(403, "forbidden", detail);
const cannotAdd = () => forbidden("Only the owner or an admin can add members");

const conversationRow = async ({ stores }: Storage, conversationId: string): Promise<ConversationRow> => (await stores.conversations.byId(conversationId))!;

/** The group row for a membership change by `me`: 404 when not a member, 422 for a direct conversation. */
async function groupFor(s: Storage, me: string, conversationId: string, field: string): Promise<ConversationRow> {
  const row = await getConversationRow(s, me, conversationId);
  if (!row.isGroup) throw unprocessable(field, "a direct conversation has exactly its two members and no roles; start a group instead");
  return row;
}

/**
 * Adds users to a group (owner or admin only). New members start with their read and delivered
 * cursors at the conversation's last_seq, so they are not flooded with old unread messages; the
 * history before they joined stays readable to them. Existing members are skipped; adding only
 * existing members is no change (no rev).
 */
export async function addMembers(s: Storage, feed: ChangeFeed, hub: Pick<Hub, "isOnline">, me: string, conversationId: string, userIds: string[]) {
  const row = await groupFor(s, me, conversationId, "user_ids");
  // 403 before looking at the ids: a member who may not add learns nothing about them.
  if (RANK[(await s.stores.conversations.roleOf(conversationId, me)) ?? "member"] < RANK.admin) throw cannotAdd();
  const wanted = [...new Set(userIds)];
  await assertUsersExist(s, wanted, "user_ids");
  // Inside the transaction: chained with andThen, never awaited (see commitRevision).
  const revision = await commitRevision(s, conversationId, { meta: true }, (tx, _rev, at) =>
    andThen(tx.conversations.members(conversationId), (current) => {
      const mine = current.find((m) => m.userId === me);
      if (!mine) throw notFound("Conversation");
      if (RANK[mine.role] < RANK.admin) throw cannotAdd();
      const present = new Set(current.map((m) => m.userId));
      const added = wanted.filter((id) => !present.has(id));
      if (added.length === 0) return NO_CHANGE;
      if (current.length + added.length > MAX_MEMBERS) {
        throw unprocessable("user_ids", `a group has at most ${MAX_MEMBERS} members (it has ${current.length})`);
      }
      // Someone who blocked the caller cannot be put into a group by them.
      return andThen(assertNotBlockedBy(s, me, added), () => andThen(tx.conversations.addMembers(conversationId, added, at), () => added));
    }),
  );
  if (!revision) return row;
  return reportConversationUpdated(s, feed, hub, conversationId, conversationRow(s, conversationId), revision.rev, revision.at, { added: revision.result, removed: [] });
}

/** After someone left or was removed: a group with members but no owner gets one. */
function ensureOwner(tx: Stores, conversationId: string) {
  return andThen(tx.conversations.members(conversationId), (rest) => {
    if (rest.length === 0 || rest.some((m) => m.role === "owner")) return;
    // The longest-standing admin, else the longest-standing member (joining order, then insertion).
    const heir = rest.find((m) => m.role === "admin") ?? rest[0]!;
    return tx.conversations.setRole(conversationId, heir.userId, "owner");
  });
}

/**
 * Removes a member: anyone removes themselves (leaving), an owner or admin removes someone with a
 * lower role. When the owner leaves, the longest-standing admin (else member) becomes owner in the
 * same change; when the last member leaves, the group is deleted with its messages and their files.
 * `s.config.dataDir` locates those files (the route passes its Deps).
 */
export async function removeMember(
  s: Storage & { config: Pick<Config, "dataDir"> },
  feed: ChangeFeed,
  hub: Pick<Hub, "isOnline">,
  me: string,
  conversationId: string,
  userId: string,
) {
  await groupFor(s, me, conversationId, "conversation_id");
  const revision = await commitRevision(s, conversationId, { meta: true }, (tx) => {
    const store = tx.conversations;
    return andThen(store.roleOf(conversationId, me), (mine) => {
      if (!mine) throw notFound("Conversation");
      return andThen(userId === me ? mine : store.roleOf(conversationId, userId), (theirs) => {
        if (!theirs) throw notFound("Member");
        if (userId !== me && RANK[mine] <= RANK[theirs]) {
          throw forbidden(mine === "member" ? "Only the owner or an admin can remove members" : `An ${mine} cannot remove an ${theirs}`);
        }
        return andThen(store.removeMember(conversationId, userId), (left) =>
          left === 0
            ? // Nobody can see it any more: its messages, reactions and cursors go with it (cascade), and
              // its messages' attachments as a deleted message's do, released first (the cascade takes
              // the links that find them) and in this transaction (a rolled-back delete keeps them).
              andThen(tx.attachments.releaseForConversation(conversationId), (released) =>
                andThen(store.delete(conversationId), () => ({ deleted: true, released })),
              )
            : andThen(ensureOwner(tx, conversationId), () => ({ deleted: false, released: [] as string[] })),
        );
      });
    });
  });
  if (!revision) return;
  const moves = { added: [], removed: [userId] };
  if (!revision.result.deleted) {
    await reportConversationUpdated(s, feed, hub, conversationId, conversationRow(s, conversationId), revision.rev, revision.at, moves);
    return;
  }
  // Deleted: nobody is left to render it for; the leaver's sockets still leave and hear conversation_removed.
  feed.committed({
    type: "conversation_updated",
    conversationId,
    rev: revision.rev,
    memberIds: [],
    ...moves,
    viewFor: () => {
      throw new Error("a deleted conversation has no view");
    },
    at: revision.at,
  });
  // The blobs after the commit, once no other upload of the same bytes names them.
  if (revision.result.released.length > 0) await dropUnusedBlobs(s, revision.result.released, filesDirOf(s.config.dataDir));
}

/**
 * Changes a member's role (owner only). Making someone else owner transfers ownership: the old
 * owner becomes an admin in the same change, so a group always has exactly one owner. The owner
 * cannot change their own role any other way (transfer it, or leave). The same role is no change.
 */
export async function setRole(s: Storage, feed: ChangeFeed, hub: Pick<Hub, "isOnline">, me: string, conversationId: string, userId: string, role: Role) {
  const row = await groupFor(s, me, conversationId, "role");
  const revision = await commitRevision(s, conversationId, { meta: true }, (tx) => {
    const store = tx.conversations;
    return andThen(store.roleOf(conversationId, me), (mine) => {
      if (!mine) throw notFound("Conversation");
      if (mine !== "owner") throw forbidden("Only the owner can change roles");
      return andThen(store.roleOf(conversationId, userId), (theirs) => {
        if (!theirs) throw notFound("Member");
        if (theirs === role) return NO_CHANGE;
        if (userId === me) throw unprocessable("role", "the owner keeps the role until it is given to another member (or the owner leaves)");
        return andThen(store.setRole(conversationId, userId, role), () =>
          andThen(role === "owner" ? store.setRole(conversationId, me, "admin") : undefined, () => true),
        );
      });
    });
  });
  if (!revision) return row;
  return reportConversationUpdated(s, feed, hub, conversationId, conversationRow(s, conversationId), revision.rev, revision.at, { added: [], removed: [] });
}

/**
 * The caller's own settings for a conversation. Not a revision (nobody else sees them); the
 * caller's other devices get conversation_updated through the change feed.
 */
export async function updateSettings(s: Storage, feed: ChangeFeed, hub: Pick<Hub, "isOnline">, me: string, conversationId: string, body: SettingsBody) {
  const row = await getConversationRow(s, me, conversationId);
  const patch: MemberSettings = {};
  if (body.muted_until !== undefined && body.muted_until !== null) {
    const until = Date.parse(body.muted_until);
    if (!Number.isFinite(until)) throw unprocessable("muted_until", "must be an ISO-8601 timestamp or null");
    patch.mutedUntil = until;
    // A mute with an end implies muting, unless the same request says otherwise.
    patch.muted = body.muted ?? true;
  } else if (body.muted_until === null) patch.mutedUntil = null;
  if (body.muted !== undefined) patch.muted = body.muted;
  // Unmuting forgets the end time: the next mute starts from scratch.
  if (patch.muted === false) patch.mutedUntil = null;
  if (body.pinned !== undefined) patch.pinned = body.pinned;
  if (Object.keys(patch).length > 0) {
    await s.stores.conversations.updateSettings(conversationId, me, patch);
    feed.committed({ type: "settings_changed", conversationId, userId: me, viewFor: await memberViewRenderer(s, hub, row), at: now() });
  }
  return row;
}
