import { createPrivateKey, type KeyObject } from "node:crypto";
import { SignJWT } from "jose";
import type { Access } from "./permissions.ts";
import { algorithmOf } from "./tokens.ts";

export interface MintOptions {
  sub: string;
  name?: string;
  docs: Record<string, Access>;
  /** The token may use the admin API. */
  admin?: boolean;
  /** Lifetime in seconds. */
  ttlSeconds: number;
  /** An HS256 secret, or a PEM private key (Ed25519, P-256 or RSA). */
  secret?: string;
  privateKeyPem?: string;
  /** Seconds since the epoch; for tests. */
  now?: number;
}

/** Signs a Tandem token: for scripts, tests and the editor demo's dev mode. */
export async function mintToken(options: MintOptions): Promise<string> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  let key: Uint8Array | KeyObject;
  let alg: string;
  if (options.privateKeyPem) {
    const privateKey = createPrivateKey(options.privateKeyPem);
    key = privateKey;
    alg = algorithmOf(privateKey);
  } else if (options.secret) {
    key = new TextEncoder().encode(options.secret);
    alg = "HS256";
  } else {
    throw new Error("mintToken needs a secret or a private key");
  }
  const jwt = new SignJWT({
    docs: options.docs,
    ...(options.name ? { name: options.name } : {}),
    ...(options.admin ? { admin: true } : {}),
  })
    .setProtectedHeader({ alg })
    .setSubject(options.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + options.ttlSeconds);
  return jwt.sign(key);
}

/** "90", "90s", "15m", "1h", "7d" to seconds; null when it is none of those. */
export function parseDuration(text: string): number | null {
  const match = /^(\d+)\s*([smhd]?)$/.exec(text.trim());
  if (!match) return null;
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as "" | "s" | "m" | "h" | "d"];
  const seconds = Number(match[1]) * unit;
  return seconds > 0 ? seconds : null;
}
