// Access tokens: HS256 JWTs through @elysiajs/jwt, with the algorithm pinned and exp/sub required.
import { jwt } from "@elysiajs/jwt";

export const TOKEN_ISSUER = "chat-server";
/** Tokens longer than this are refused before any parsing (RFC 8725 hygiene). */
const MAX_TOKEN_LENGTH = 4096;

export interface TokenClaims {
  sub: string;
  ver: number;
}

export interface TokenService {
  ttlSeconds: number;
  sign(userId: string, tokenVersion: number): Promise<string>;
  /** The claims of a valid token, or null for anything else (bad signature, alg, exp, issuer…). */
  verify(token: string): Promise<TokenClaims | null>;
}

export function createTokenService(secret: string, ttlSeconds: number): TokenService {
  const signer = jwt({ name: "jwt", secret, alg: "HS256", iss: TOKEN_ISSUER }).decorator.jwt;
  return {
    ttlSeconds,
    sign: (userId, tokenVersion) =>
      signer.sign({ sub: userId, ver: tokenVersion, exp: Math.floor(Date.now() / 1000) + ttlSeconds }),
    async verify(token) {
      if (!token || token.length > MAX_TOKEN_LENGTH) return null;
      const payload = await signer.verify(token, {
        algorithms: ["HS256"],
        issuer: TOKEN_ISSUER,
        requiredClaims: ["exp", "sub", "iat"],
      });
      if (!payload || typeof payload.sub !== "string" || typeof payload.ver !== "number") return null;
      return { sub: payload.sub, ver: payload.ver };
    },
  };
}
