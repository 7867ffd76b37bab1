// Member routes: add members, remove one (or leave), change a role, and the caller's own settings
// (mute, pin) of a conversation. Roles: a group has one owner (its creator, until they hand it on
// or leave), admins and members; a direct conversation has two members and no roles that matter.
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import type { Awaitable, ConversationRow } from "../../ports/stores";
import { ApiError } from "../../errors";
import { createRateLimiter } from "../../lib/rate-limiter";
import { authPlugin, bearerSecurity } from "../auth/plugin";
import { ConversationView, MAX_MEMBERS } from "../conversations/model";
import { toConversationViews } from "../conversations/service";
import { ErrorBody, errorResponses, IdParams, parseBody, UuidInput } from "../shared-model";
import { AddMembersBody, RoleBody, SettingsBody } from "./model";
import { addMembers, removeMember, setRole, updateSettings } from "./service";

/**
 * Adding people weighs on their lists and sockets like creating a group does (10 an hour): an
 * owner or admin may make 30 add requests in any hour.
 */
export const MEMBER_ADDS_PER_HOUR = 30;

const MemberParams = t.Object({ conversation_id: UuidInput, user_id: UuidInput });
const withForbidden = { ...errorResponses, 403: ErrorBody };

export const membersModule = (deps: Deps) => {
  const addsPerUser = createRateLimiter(MEMBER_ADDS_PER_HOUR, 3_600_000, deps.config.rateLimit);
  const view = async (me: string, row: Awaitable<ConversationRow>) => (await toConversationViews(deps, deps.hub, me, [await row]))[0]!;
  return new Elysia({ prefix: "/api/v1/conversations", tags: ["conversations"] })
    .use(authPlugin(deps))
    .onParse(parseBody(deps.config.maxBodyBytes))
    .post(
      "/:conversation_id/members",
      ({ params, body, user }) => {
        const wait = addsPerUser.hit(user.id);
        if (wait) {
          throw new ApiError(429, "rate_limited", `At most ${MEMBER_ADDS_PER_HOUR} member additions per hour, try again later`, { "Retry-After": String(wait) });
        }
        return view(user.id, addMembers(deps, deps.changes, deps.hub, user.id, params.conversation_id, body.user_ids));
      },
      {
        auth: true,
        params: IdParams("conversation_id"),
        body: AddMembersBody,
        response: { 200: ConversationView, ...withForbidden },
        detail: {
          summary: "Add members to a group (owner or admin)",
          description:
            `Owner or admin of a group only (403 forbidden); a direct conversation cannot get members (422). Unknown users are 422 naming user_ids; ` +
            `a group has at most ${MAX_MEMBERS} members (422). Someone who has blocked you cannot be added (403 blocked). Existing members are skipped; ` +
            `when nobody is new nothing changes (same rev). New members see the whole history but start with nothing unread (their read cursor is the ` +
            `conversation's last seq); their open sockets get conversation_updated and the conversation's events at once. Each user may make ` +
            `${MEMBER_ADDS_PER_HOUR} add requests in any hour (then 429 with Retry-After).`,
          security: bearerSecurity,
        },
      },
    )
    .delete(
      "/:conversation_id/members/:user_id",
      async ({ params, user, set }) => {
        await removeMember(deps, deps.changes, deps.hub, user.id, params.conversation_id, params.user_id);
        set.status = 204;
      },
      {
        auth: true,
        params: MemberParams,
        response: { 204: t.Void(), ...withForbidden },
        detail: {
          summary: "Remove a member, or leave (your own id)",
          description:
            "Anyone may remove themselves (leave). The owner removes admins and members, an admin removes members (else 403 forbidden); someone not in " +
            "the group is 404. When the owner leaves, the longest-standing admin, else the longest-standing member, becomes owner in the same change. " +
            "The last member leaving deletes the group and its messages. The removed member loses access at once (404 on the conversation and its " +
            "messages), their open sockets stop receiving its events and get conversation_removed. A direct conversation cannot be left (422).",
          security: bearerSecurity,
        },
      },
    )
    .patch(
      "/:conversation_id/members/:user_id",
      ({ params, body, user }) => view(user.id, setRole(deps, deps.changes, deps.hub, user.id, params.conversation_id, params.user_id, body.role)),
      {
        auth: true,
        params: MemberParams,
        body: RoleBody,
        response: { 200: ConversationView, ...withForbidden },
        detail: {
          summary: "Change a member's role (owner only)",
          description:
            "Owner only (403 forbidden). Making another member owner transfers ownership: you become an admin in the same change, so a group has one " +
            "owner. The owner cannot otherwise change their own role (422). The same role again changes nothing (same rev). Direct conversations have no roles (422).",
          security: bearerSecurity,
        },
      },
    )
    .put(
      "/:conversation_id/settings",
      ({ params, body, user }) => view(user.id, updateSettings(deps, deps.changes, deps.hub, user.id, params.conversation_id, body)),
      {
        auth: true,
        params: IdParams("conversation_id"),
        body: SettingsBody,
        response: { 200: ConversationView, ...errorResponses },
        detail: {
          summary: "Your own mute and pin settings for a conversation",
          description:
            "Only for you: not a revision (rev unchanged), nothing sent to other members; your other devices get conversation_updated. " +
            "muted_until sets when a mute ends (and mutes, unless muted is false); muted false unmutes and clears muted_until; muted true with no " +
            "muted_until mutes until you unmute. A muted conversation keeps its unread_count but is left out of the total. Pinned conversations list first in GET /conversations.",
          security: bearerSecurity,
        },
      },
    );
};
