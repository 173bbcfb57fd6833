import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { mintToken, parseDuration } from "./auth/mint.ts";
import type { Access } from "./auth/permissions.ts";
import { ConfigError } from "./config.ts";

export const TOKEN_USAGE = `Usage: tandem token --sub ID [options]

Mints a Tandem token (JWT) and prints it.

  --sub ID                 user id (required)
  --name NAME              display name (default: the id)
  --doc PATTERN=ACCESS     document name or glob and read|write; repeatable (default: '**=write')
  --admin                  the token may use the admin API (/api/)
  --ttl DURATION           lifetime: 90, 90s, 15m, 1h, 7d (default: 1h)
  --secret SECRET          HS256 secret (default: env TANDEM_JWT_SECRET)
  --private-key FILE       sign with a PEM private key instead (Ed25519, P-256 or RSA)
`;

/** `tandem token`: prints a signed token. Throws ConfigError for bad arguments. */
export async function tokenCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<string> {
  let values: ReturnType<typeof parse>["values"];
  try {
    ({ values } = parse(argv));
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  if (!values.sub) throw new ConfigError("missing --sub (the user id the token is for)");
  const ttlSeconds = parseDuration(values.ttl ?? "1h");
  if (ttlSeconds === null) {
    throw new ConfigError(
      `invalid --ttl: ${JSON.stringify(values.ttl)} (accepted: 90, 90s, 15m, 1h, 7d)`,
    );
  }
  const docs: Record<string, Access> = {};
  for (const entry of values.doc ?? ["**=write"]) {
    const at = entry.lastIndexOf("=");
    const access = entry.slice(at + 1);
    if (at <= 0 || (access !== "read" && access !== "write")) {
      throw new ConfigError(
        `invalid --doc: ${JSON.stringify(entry)} (accepted: PATTERN=read or PATTERN=write)`,
      );
    }
    docs[entry.slice(0, at)] = access;
  }
  const secret = values.secret ?? env.TANDEM_JWT_SECRET ?? "";
  let privateKeyPem: string | undefined;
  if (values["private-key"]) {
    try {
      privateKeyPem = readFileSync(values["private-key"], "utf8");
    } catch (error) {
      throw new ConfigError(
        `cannot read --private-key ${values["private-key"]}: ${(error as Error).message}`,
      );
    }
  } else if (secret.length < 32) {
    throw new ConfigError(
      "no signing key: give --secret (or TANDEM_JWT_SECRET) of at least 32 characters, or --private-key FILE",
    );
  }
  return mintToken({
    sub: values.sub,
    ...(values.name ? { name: values.name } : {}),
    docs,
    ...(values.admin ? { admin: true } : {}),
    ttlSeconds,
    ...(privateKeyPem ? { privateKeyPem } : { secret }),
  });
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      sub: { type: "string" },
      name: { type: "string" },
      doc: { type: "string", multiple: true },
      ttl: { type: "string" },
      admin: { type: "boolean" },
      secret: { type: "string" },
      "private-key": { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
}
