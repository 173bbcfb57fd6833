import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { TokenClaims, TokenVerifier } from "../../auth/tokens.ts";
import { Problem } from "./problem.ts";

export interface AdminAuthOptions {
  /** The --admin-token values (several while rotating). */
  tokens: readonly string[];
  /** Under --auth jwt: tokens with `"admin": true` are admin tokens too. */
  verifier: TokenVerifier | null;
  /** The server's --max-token-lifetime, applied to admin JWTs as to every token (0: none). */
  maxTokenLifetimeMs: number;
  now?: () => number;
  /** The realm named in WWW-Authenticate of a 401 (default "tandem-admin"). */
  realm?: string;
  /** What the token is called in a 401's detail (default "admin token"). */
  tokenName?: string;
}

/** Who a request's bearer token is: an admin (an --admin-token, or a JWT with the admin claim), or a user's JWT. */
export type Bearer = { admin: true } | { admin: false; claims: TokenClaims };

const digest = (text: string): Buffer => createHash("sha256").update(text).digest();

/**
 * Identifies the request's `Authorization: Bearer <token>`: an --admin-token, or (under --auth
 * jwt, when a verifier is given) a valid JWT, checked like every token (--max-token-lifetime
 * included). Throws a 401 Problem for a missing or bad token.
 */
export function bearerIdentifier(options: AdminAuthOptions) {
  // Compared as SHA-256 digests in constant time: neither the length nor a prefix leaks.
  const accepted = options.tokens.map(digest);
  const now = options.now ?? Date.now;
  const tokenName = options.tokenName ?? "admin token";
  const unauthorized = (detail: string) =>
    new Problem(401, "unauthorized", "Unauthorized", detail, {
      "www-authenticate": `Bearer realm="${options.realm ?? "tandem-admin"}"`,
    });
  return async (request: IncomingMessage): Promise<Bearer> => {
    const header = request.headers.authorization;
    if (!header) throw unauthorized(`send Authorization: Bearer <${tokenName}>`);
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw unauthorized(`the Authorization header must be: Bearer <${tokenName}>`);
    const token = match[1] as string;
    const presented = digest(token);
    if (accepted.some((candidate) => timingSafeEqual(candidate, presented))) return { admin: true };
    if (!options.verifier) throw unauthorized(`the token is not an ${tokenName}`);
    let claims: TokenClaims;
    try {
      claims = await options.verifier.verify(token);
    } catch (error) {
      throw unauthorized(`the token is refused: ${(error as Error).message}`);
    }
    const lifetimeMs = claims.exp * 1000 - now();
    if (options.maxTokenLifetimeMs > 0 && lifetimeMs > options.maxTokenLifetimeMs) {
      throw unauthorized("the token is valid for longer than the server's --max-token-lifetime");
    }
    return claims.admin ? { admin: true } : { admin: false, claims };
  };
}

/**
 * The one authorization function of the admin API: resolves when the request carries
 * `Authorization: Bearer <token>` with an --admin-token, or (under --auth jwt) a valid JWT
 * carrying `"admin": true`; throws a 401 Problem for a missing or bad token and a 403 Problem
 * for a valid JWT without the admin claim.
 */
export function adminAuthorizer(options: AdminAuthOptions) {
  const identify = bearerIdentifier(options);
  return async (request: IncomingMessage): Promise<void> => {
    const bearer = await identify(request);
    if (bearer.admin) return;
    throw new Problem(
      403,
      "forbidden",
      "Forbidden",
      `the token of ${JSON.stringify(bearer.claims.sub)} does not carry "admin": true`,
    );
  };
}
