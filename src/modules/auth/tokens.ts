// Access tokens: HS256 JWTs through @elysiajs/jwt, with the algorithm pinned and exp/sub required.
import { jwt } from "@elysiajs/jwt";

export const TOKEN_ISSUER = "chat-server";
/** Tokens longer than this are refused before any parsing (RFC 8725 hygiene). */
const MAX_TOKEN_LENGTH = 4096;
const VERIFIED_CACHE_SIZE = 10_000;

export interface TokenClaims {
  sub: string;
  ver: number;
  /** Expiry, Unix seconds: a socket opened with the token is closed then. */
  exp: number;
}

export interface TokenService {
  ttlSeconds: number;
  sign(userId: string, tokenVersion: number): Promise<string>;
  /** The claims of a valid token, or null for anything else (bad signature, alg, exp, issuer…). */
  verify(token: string): Promise<TokenClaims | null>;
}

export function createTokenService(secret: string, ttlSeconds: number): TokenService {
  // Signature checks cost more than the rest of an authenticated request; remember recent successes.
  const verified = new Map<string, { claims: TokenClaims; expMs: number }>();
  const signer = jwt({ name: "jwt", secret, alg: "HS256", iss: TOKEN_ISSUER }).decorator.jwt;
  return {
    ttlSeconds,
    sign: (userId, tokenVersion) =>
      signer.sign({ sub: userId, ver: tokenVersion, exp: Math.floor(Date.now() / 1000) + ttlSeconds }),
    async verify(token) {
      if (!token || token.length > MAX_TOKEN_LENGTH) return null;
      // Keyed by the whole signed string, so only a token that verified before can hit it.
      const hit = verified.get(token);
      if (hit && hit.expMs > Date.now()) return hit.claims;
      const payload = await signer.verify(token, {
        algorithms: ["HS256"],
        issuer: TOKEN_ISSUER,
        requiredClaims: ["exp", "sub", "iat"],
      });
      if (!payload || typeof payload.sub !== "string" || typeof payload.ver !== "number") return null;
      const claims = { sub: payload.sub, ver: payload.ver, exp: payload.exp as number };
      if (verified.size >= VERIFIED_CACHE_SIZE) verified.clear();
      verified.set(token, { claims, expMs: (payload.exp as number) * 1000 });
      return claims;
    },
  };
}
