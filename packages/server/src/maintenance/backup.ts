import { createReadStream, createWriteStream, existsSync, readdirSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { encodeBackup, readBackup } from "../backup/format.ts";
import { backupDocuments } from "../backup/snapshot.ts";
import { ConfigError } from "../config.ts";
import { openDataStore } from "./data-store.ts";

export const BACKUP_USAGE = `Usage: tandem backup FILE --url URL [--admin-token TOKEN]
       tandem backup FILE [--data DIR]

Writes a backup of every document to FILE: from a running server through its admin API (--url,
POST /api/backup), or from a stopped server's data directory (--data). Either way the backup is
one consistent snapshot holding every update acknowledged before it started. FILE is written
under a temporary name, read back and checked, then renamed: a FILE that exists is whole.

  --url URL            the running server (http:// or https://, its WebSocket port)
  --admin-token TOKEN  its admin token (default: env TANDEM_ADMIN_TOKEN)
  --data DIR           the stopped server's data directory (default: env TANDEM_DATA, else ./data)
`;

export const RESTORE_USAGE = `Usage: tandem restore FILE [--data DIR]

Restores a backup (tandem backup) into an empty or missing data directory, then start a server
on it. The whole backup is checked before anything is written; a cut-off or damaged file is
refused.

  --data DIR     the data directory to create (default: env TANDEM_DATA, else ./data)
`;

function args(argv: readonly string[], options: NonNullable<ParseArgsConfig["options"]>) {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}

/** Reads a whole backup file and checks it; resolves to its document count and snapshot time. */
export async function verifyBackup(file: string): Promise<{ documents: number; takenAt: number }> {
  const reader = readBackup(createReadStream(file));
  for (;;) {
    const next = await reader.next();
    if (next.done) return next.value;
  }
}

/** `tandem backup`: from a running server (--url) or a stopped data directory. */
export async function backupCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
): Promise<number> {
  const { values, positionals } = args(argv, {
    url: { type: "string" },
    "admin-token": { type: "string" },
    data: { type: "string" },
  });
  if (positionals.length !== 1) throw new ConfigError("name the backup FILE to write");
  const file = positionals[0] as string;
  const url = values.url as string | undefined;
  if (url !== undefined && values.data !== undefined) {
    throw new ConfigError(
      "--url and --data exclude each other: a running server, or a stopped one",
    );
  }
  const partial = `${file}.partial`;
  try {
    if (url !== undefined) {
      const token = (values["admin-token"] as string | undefined) ?? env.TANDEM_ADMIN_TOKEN ?? "";
      if (!token) throw new ConfigError("--url needs --admin-token (or TANDEM_ADMIN_TOKEN)");
      const response = await fetch(new URL("/api/backup", url), {
        method: "POST",
        headers: { authorization: `Bearer ${token.split(",")[0]}` },
      });
      if (!response.ok || !response.body) {
        throw new Error(
          `the server answered ${response.status}: ${(await response.text()).slice(0, 500)}`,
        );
      }
      await pipeline(
        Readable.fromWeb(response.body as import("node:stream/web").ReadableStream),
        createWriteStream(partial),
      );
    } else {
      const data = (values.data as string | undefined) ?? env.TANDEM_DATA ?? "./data";
      const store = await openDataStore(data);
      try {
        await pipeline(
          Readable.from(encodeBackup(backupDocuments(store), Date.now())),
          createWriteStream(partial),
        );
      } finally {
        await store.close();
      }
    }
    const { documents, takenAt } = await verifyBackup(partial);
    await rename(partial, file);
    out(
      `${documents} documents backed up to ${file} (snapshot of ${new Date(takenAt).toISOString()})`,
    );
    return 0;
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

/** `tandem restore`: a backup into an empty data directory. */
export async function restoreCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
): Promise<number> {
  const { values, positionals } = args(argv, { data: { type: "string" } });
  if (positionals.length !== 1) throw new ConfigError("name the backup FILE to restore");
  const file = positionals[0] as string;
  const data = (values.data as string | undefined) ?? env.TANDEM_DATA ?? "./data";
  if (!existsSync(file)) throw new ConfigError(`${file} does not exist`);
  if (existsSync(data) && readdirSync(data).length > 0) {
    throw new ConfigError(`--data ${data} is not empty: restore into a new directory`);
  }
  const { documents } = await verifyBackup(file);
  const store = await openDataStore(data, { create: true });
  try {
    for await (const { name, update } of readBackup(createReadStream(file))) {
      await store.append(name, update);
    }
  } finally {
    await store.close();
  }
  out(`${documents} documents restored from ${file} into ${data}`);
  return 0;
}
