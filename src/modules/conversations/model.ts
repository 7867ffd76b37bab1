// Conversation schemas: the view (with participants, last message and the caller's unread count) and bodies.
import { t, type Static } from "elysia";
import { MessageView } from "../messages/model";
import { DisplayName, Limit, Offset, Timestamp, Uuid, UuidInput } from "../shared-model";
import { UserView } from "../users/model";

export const MAX_PARTICIPANTS = 1000;
/** Members a group may grow to by adding (POST /members); creation keeps v1's 1000 others plus the creator. */
export const MAX_MEMBERS = 1000;
/** Members listed per conversation in GET /conversations; the caller is always among them. */
export const LIST_PARTICIPANTS = 10;

export const RoleSchema = t.Union(
  [t.Literal("owner"), t.Literal("admin"), t.Literal("member")],
  { description: "owner (one per group; only the owner changes roles), admin (adds members, removes members), member. Roles do not matter in a direct conversation." },
);

export type Role = Static<typeof RoleSchema>;

export const MemberView = t.Object({
  user_id: Uuid,
  role: RoleSchema,
  joined_at: Timestamp,
});
export type MemberView = Static<typeof MemberView>;

export const ConversationView = t.Object({
  id: Uuid,
  name: t.Union([t.String(), t.Null()]),
  is_group: t.Boolean(),
  created_by: Uuid,
  rev: t.Integer({ minimum: 0, description: "Revision: +1 per committed change members see (messages, edits, reactions, members, renames)" }),
  participants: t.Array(UserView, {
    description:
      `Members in joining order. In the list (GET /conversations) a group of more than ${LIST_PARTICIPANTS} members shows ` +
      `only its first ${LIST_PARTICIPANTS} and you; member_count is the total and GET /conversations/{id} lists everyone.`,
  }),
  member_count: t.Integer({ minimum: 1, description: "How many members the conversation has" }),
  members: t.Array(MemberView, {
    description: `Roles and join times, in the same order and with the same cap as participants (the list shows at most ${LIST_PARTICIPANTS} and you).`,
  }),
  my_role: RoleSchema,
  muted: t.Boolean({ description: "Muted for you now (muted, and muted_until is null or still ahead)" }),
  muted_until: t.Union([Timestamp, t.Null()], { description: "When your mute ends; null while muted means until you unmute" }),
  pinned: t.Boolean({ description: "Pinned by you: pinned conversations list first" }),
  created_at: Timestamp,
  updated_at: Timestamp,
  last_message: t.Union([MessageView, t.Null()]),
  unread_count: t.Integer({ minimum: 0 }),
});
export type ConversationView = Static<typeof ConversationView>;

const Name = DisplayName(128);

export const CreateConversationBody = t.Object(
  {
    participant_ids: t.Array(UuidInput, { maxItems: MAX_PARTICIPANTS, description: "Other members; you are always added" }),
    name: t.Optional(t.Union([Name, t.Null()])),
    is_group: t.Optional(t.Boolean({ default: false })),
  },
  { additionalProperties: false },
);
export type CreateConversationBody = Static<typeof CreateConversationBody>;

export const UpdateConversationBody = t.Object({ name: t.Optional(t.Union([Name, t.Null()])) }, { additionalProperties: false });

export const ConversationListQuery = t.Object({
  limit: Limit(50, 100),
  offset: Offset,
});
