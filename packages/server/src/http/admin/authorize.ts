import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { TokenVerifier } from "../../auth/tokens.ts";
import { Problem } from "./problem.ts";

export interface AdminAuthOptions {
  /** The --admin-token values (several while rotating). */
  tokens: readonly string[];
  /** Under --auth jwt: tokens with `"admin": true` are admin tokens too. */
  verifier: TokenVerifier | null;
  /** The server's --max-token-lifetime, applied to admin JWTs as to every token (0: none). */
  maxTokenLifetimeMs: number;
  now?: () => number;
}

const digest = (text: string): Buffer => createHash("sha256").update(text).digest();

const unauthorized = (detail: string) =>
  new Problem(401, "unauthorized", "Unauthorized", detail, {
    "www-authenticate": 'Bearer realm="tandem-admin"',
  });

/**
 * The one authorization function of the admin API: resolves when the request carries
 * `Authorization: Bearer <token>` with an --admin-token, or (under --auth jwt) a valid JWT
 * carrying `"admin": true`; throws a 401 Problem for a missing or bad token and a 403 Problem
 * for a valid JWT without the admin claim.
 */
export function adminAuthorizer(options: AdminAuthOptions) {
  // Compared as SHA-256 digests in constant time: neither the length nor a prefix leaks.
  const accepted = options.tokens.map(digest);
  const now = options.now ?? Date.now;
  return async (request: IncomingMessage): Promise<void> => {
    const header = request.headers.authorization;
    if (!header) throw unauthorized("send Authorization: Bearer <admin token>");
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw unauthorized("the Authorization header must be: Bearer <admin token>");
    const token = match[1] as string;
    const presented = digest(token);
    if (accepted.some((candidate) => timingSafeEqual(candidate, presented))) return;
    if (!options.verifier) throw unauthorized("the token is not an admin token");
    let claims: Awaited<ReturnType<TokenVerifier["verify"]>>;
    try {
      claims = await options.verifier.verify(token);
    } catch (error) {
      throw unauthorized(`the token is not an admin token: ${(error as Error).message}`);
    }
    const lifetimeMs = claims.exp * 1000 - now();
    if (options.maxTokenLifetimeMs > 0 && lifetimeMs > options.maxTokenLifetimeMs) {
      throw unauthorized("the token is valid for longer than the server's --max-token-lifetime");
    }
    if (!claims.admin) {
      throw new Problem(
        403,
        "forbidden",
        "Forbidden",
        `the token of ${JSON.stringify(claims.sub)} does not carry "admin": true`,
      );
    }
  };
}
