// Member and settings schemas: add members, change a role, the caller's mute/pin settings.
import { t, type Static } from "elysia";
import { MAX_MEMBERS, RoleSchema } from "../conversations/model";
import { UuidInput } from "../shared-model";

export const AddMembersBody = t.Object(
  { user_ids: t.Array(UuidInput, { minItems: 1, maxItems: MAX_MEMBERS, description: "Users to add; existing members are skipped" }) },
  { additionalProperties: false },
);

export const RoleBody = t.Object({ role: RoleSchema }, { additionalProperties: false });

export const SettingsBody = t.Object(
  {
    muted: t.Optional(t.Boolean({ description: "Mute (true) or unmute (false; also clears muted_until)" })),
    muted_until: t.Optional(
      t.Union([t.String({ maxLength: 64, description: "ISO-8601 timestamp: the mute ends then (implies muted unless muted is false)" }), t.Null()]),
    ),
    pinned: t.Optional(t.Boolean({ description: "Pinned conversations list first" })),
  },
  { additionalProperties: false },
);
export type SettingsBody = Static<typeof SettingsBody>;
