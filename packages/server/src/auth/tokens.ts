import { createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { createLocalJWKSet, errors, type JWTVerifyGetKey, jwtVerify } from "jose";
import { z } from "zod";
import { ConfigError, type ServerConfig } from "../config.ts";
import type { Access } from "./permissions.ts";

/**
 * Token claims Tandem reads: `sub` (user id), `exp` (required), `name`, `docs`, a map from a
 * document name or glob to "read" or "write" (permissions.ts), and `admin` (the admin API).
 */
export interface TokenClaims {
  sub: string;
  name: string;
  exp: number;
  docs: Record<string, Access>;
  /** The token may use the admin API (`"admin": true`). */
  admin: boolean;
}

const claimsSchema = z.object({
  sub: z.string().min(1),
  exp: z.number(),
  name: z.string().optional(),
  docs: z.record(z.string(), z.enum(["read", "write"])).default({}),
  admin: z.boolean().default(false),
});

/** Why a token was refused; the reason is sent to the client in Hocuspocus's permission-denied. */
export class TokenError extends Error {
  constructor(
    readonly reason:
      | "token-missing"
      | "token-malformed"
      | "token-signature-invalid"
      | "token-expired"
      | "token-lifetime-too-long"
      | "token-claims-invalid"
      | "no-access",
    message: string,
  ) {
    super(message);
  }
}

export interface TokenVerifier {
  verify(token: string): Promise<TokenClaims>;
}

const ASYMMETRIC = ["EdDSA", "ES256", "RS256"];

type Key = Uint8Array | KeyObject | JWTVerifyGetKey;

/** Builds the verifier the configuration asks for; key files are read once, here. */
export function createTokenVerifier(
  config: Pick<ServerConfig, "jwtSecret" | "jwtPublicKey" | "jwksFile">,
): TokenVerifier {
  let key: Key;
  let algorithms: string[];
  if (config.jwtSecret) {
    key = new TextEncoder().encode(config.jwtSecret);
    algorithms = ["HS256"];
  } else if (config.jwtPublicKey) {
    const publicKey = readKey("--jwt-public-key", config.jwtPublicKey, (text) =>
      createPublicKey(text),
    );
    key = publicKey;
    algorithms = [algorithmOf(publicKey)];
  } else if (config.jwksFile) {
    key = readKey("--jwks-file", config.jwksFile, (text) => createLocalJWKSet(JSON.parse(text)));
    algorithms = ASYMMETRIC;
  } else {
    throw new ConfigError("--auth jwt needs one of --jwt-secret, --jwt-public-key, --jwks-file");
  }
  return {
    async verify(token) {
      if (!token) throw new TokenError("token-missing", "no token was sent");
      let payload: unknown;
      try {
        // requiredClaims makes jose refuse tokens without exp; it checks exp and nbf itself.
        ({ payload } = await jwtVerify(token, key as Uint8Array, {
          algorithms,
          requiredClaims: ["exp", "sub"],
        }));
      } catch (error) {
        throw tokenError(error);
      }
      const claims = claimsSchema.safeParse(payload);
      if (!claims.success) {
        throw new TokenError(
          "token-claims-invalid",
          `token claims: ${claims.error.issues[0]?.message}`,
        );
      }
      const { sub, exp, name, docs, admin } = claims.data;
      return { sub, exp, name: name ?? sub, docs, admin };
    },
  };
}

function tokenError(error: unknown): TokenError {
  if (error instanceof errors.JWTExpired)
    return new TokenError("token-expired", "the token has expired");
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new TokenError("token-signature-invalid", "the token's signature does not verify");
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    return new TokenError("token-claims-invalid", `token claim ${error.claim}: ${error.reason}`);
  }
  return new TokenError(
    "token-malformed",
    `the token is not a valid JWT: ${(error as Error).message}`,
  );
}

function readKey<T>(flag: string, path: string, parse: (text: string) => T): T {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read ${flag} ${path}: ${(error as Error).message}`);
  }
  try {
    return parse(text);
  } catch (error) {
    throw new ConfigError(`${flag} ${path} is not a usable key: ${(error as Error).message}`);
  }
}

/** The one JWS algorithm a public key is used with. */
export function algorithmOf(key: KeyObject): string {
  const type = key.asymmetricKeyType;
  if (type === "ed25519") return "EdDSA";
  if (type === "rsa") return "RS256";
  if (type === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return "ES256";
  throw new ConfigError(
    `unsupported key type ${type}${type === "ec" ? ` (${key.asymmetricKeyDetails?.namedCurve})` : ""} (accepted: Ed25519, P-256, RSA)`,
  );
}
