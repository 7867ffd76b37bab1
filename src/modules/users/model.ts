// User schemas: the public view, the profile update body, the search query.
import { t, type Static } from "elysia";
import { DisplayName, Limit, NullableTimestamp, Offset, Timestamp, Uuid } from "../shared-model";

export const Username = t.String({ minLength: 3, maxLength: 32, pattern: "^[A-Za-z0-9_.-]+$" });
export const Email = t.String({ format: "email", maxLength: 254 });
export const Password = t.String({ minLength: 8, maxLength: 256 });
const OptionalText = (max: number) => t.Optional(t.Union([t.String({ maxLength: max }), t.Null()]));
/**
 * An avatar is shown as an image by every client, so only http(s) URLs and paths on this server
 * (an uploaded attachment: /api/v1/attachments/{id}) are taken: never javascript:, data: and the like.
 */
const AvatarUrl = t.Optional(
  t.Union([
    t.String({
      maxLength: 2048,
      pattern: "^(?:[Hh][Tt][Tt][Pp][Ss]?://[^\\s]+|/(?!/)[^\\s]*|)$",
      error: "Expected an http(s) URL or a path on this server",
    }),
    t.Null(),
  ]),
);

export const UserView = t.Object({
  id: Uuid,
  username: t.String(),
  email: t.Optional(t.String({ description: "Only in your own profile" })),
  full_name: t.Union([t.String(), t.Null()]),
  avatar_url: t.Union([t.String(), t.Null()]),
  bio: t.Union([t.String(), t.Null()]),
  is_online: t.Boolean(),
  is_bot: t.Optional(t.Boolean({ description: "A bot account (acts through API tokens); absent from servers before v2" })),
  last_seen_at: NullableTimestamp,
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type UserView = Static<typeof UserView>;

export const UpdateMeBody = t.Object(
  {
    full_name: t.Optional(t.Union([DisplayName(128), t.Null()])),
    email: t.Optional(Email),
    username: t.Optional(Username),
    avatar_url: AvatarUrl,
    bio: OptionalText(1024),
    password: t.Optional(Password),
    current_password: t.Optional(t.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
export type UpdateMeBody = Static<typeof UpdateMeBody>;

export const UserSearchQuery = t.Object({
  q: t.Optional(t.String({ maxLength: 64 })),
  limit: Limit(50, 100),
  offset: Offset,
});
