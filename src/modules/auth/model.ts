// Auth schemas: signup, login (JSON or OAuth2 form) and the token response.
import { t } from "elysia";
import { Email, Password, Username } from "../users/model";
import { DisplayName } from "../shared-model";

export const SignupBody = t.Object(
  {
    username: Username,
    email: Email,
    password: Password,
    full_name: t.Optional(t.Union([DisplayName(128), t.Null()])),
  },
  { additionalProperties: false },
);

// The OAuth2 password form also carries grant_type, scope, client_id and client_secret.
export const LoginBody = t.Object(
  {
    username: t.String({ minLength: 1, maxLength: 254 }),
    password: t.String({ minLength: 1, maxLength: 256 }),
    grant_type: t.Optional(t.String({ maxLength: 64 })),
    scope: t.Optional(t.String({ maxLength: 1024 })),
    client_id: t.Optional(t.String({ maxLength: 256 })),
    client_secret: t.Optional(t.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);

export const TokenResponse = t.Object({
  access_token: t.String(),
  token_type: t.Literal("bearer"),
  expires_in: t.Integer({ description: "Seconds until the token expires" }),
});
