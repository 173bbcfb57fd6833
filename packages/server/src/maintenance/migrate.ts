import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import * as Y from "yjs";
import { ConfigError } from "../config.ts";
import type { DocumentStore } from "../store/document-store.ts";
import { LevelDocumentStore } from "../store/leveldb-store.ts";
import { openClusterStore } from "../store/open-cluster.ts";
import { redactUrl } from "../store/redis-postgres/redact-url.ts";

export const MIGRATE_USAGE = `Usage: tandem migrate SOURCE TARGET [--merge]

Copies every document from one store to another: a single instance's LevelDB data directory
into the Redis + PostgreSQL store of several instances, or back. Each document is copied as its
merged state (one Yjs update holding all of it), so the target serves identical content; its
history of separate log entries is not copied. Prints one line per document and a summary;
exits 0 when every document was copied whole, 1 when any could not be, 2 on bad usage.

SOURCE, one of:
  --from-data DIR          a data directory; the server using it must be stopped (LevelDB's
                           LOCK says so)
  --from-redis URL --from-postgres URL
                           the store of several instances; stop writes to it first (stop the
                           instances), or edits made during the copy may be missed
TARGET, one of:
  --to-data DIR            a data directory (created when missing)
  --to-redis URL --to-postgres URL
                           the store of several instances (Redis must be set up as for serve)

  --merge                  copy into a target that already holds documents. Safe: Yjs merges
                           the copied state with what a document holds, nothing is overwritten
                           or lost. Without it a non-empty target is refused.
`;

/** Where documents come from or go to. */
type Place = { kind: "data"; dir: string } | { kind: "cluster"; redis: string; postgres: string };

interface MigrateOptions {
  source: Place;
  target: Place;
  merge: boolean;
}

/** Never compacts on its own: the copy compacts each document once, explicitly. */
const NO_AUTO_COMPACTION = { minUpdates: 1e9, ratio: 0, maxUpdates: 1e9, quietMs: 0 };

function parseOptions(argv: readonly string[]): MigrateOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        "from-data": { type: "string" },
        "from-redis": { type: "string" },
        "from-postgres": { type: "string" },
        "to-data": { type: "string" },
        "to-redis": { type: "string" },
        "to-postgres": { type: "string" },
        merge: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const place = (side: "from" | "to", what: string): Place => {
    const data = values[`${side}-data`] as string | undefined;
    const redis = values[`${side}-redis`] as string | undefined;
    const postgres = values[`${side}-postgres`] as string | undefined;
    const cluster = redis !== undefined || postgres !== undefined;
    if (data !== undefined && cluster) {
      throw new ConfigError(
        `give one ${what}: --${side}-data, or --${side}-redis with --${side}-postgres, not both`,
      );
    }
    if (data !== undefined) {
      if (data === "") throw new ConfigError(`--${side}-data needs a directory`);
      return { kind: "data", dir: resolve(data) };
    }
    if (!cluster) {
      throw new ConfigError(
        `missing the ${what}: --${side}-data DIR, or --${side}-redis URL with --${side}-postgres URL (see tandem migrate --help)`,
      );
    }
    if (redis === undefined || postgres === undefined) {
      throw new ConfigError(`--${side}-redis and --${side}-postgres go together: give both`);
    }
    if (!/^rediss?:\/\//.test(redis)) {
      throw new ConfigError(
        `invalid --${side}-redis: ${JSON.stringify(redis)} (accepted: a redis:// or rediss:// URL)`,
      );
    }
    if (!/^postgres(ql)?:\/\//.test(postgres)) {
      throw new ConfigError(
        `invalid --${side}-postgres: ${JSON.stringify(redactUrl(postgres))} (accepted: a postgres:// or postgresql:// URL)`,
      );
    }
    return { kind: "cluster", redis, postgres };
  };
  const source = place("from", "source");
  const target = place("to", "target");
  const same =
    source.kind === "data" && target.kind === "data"
      ? source.dir === target.dir
      : source.kind === "cluster" &&
        target.kind === "cluster" &&
        source.redis === target.redis &&
        source.postgres === target.postgres;
  if (same) throw new ConfigError("the source and the target are the same store");
  return { source, target, merge: values.merge === true };
}

export function describePlace(place: Place): string {
  return place.kind === "data"
    ? place.dir
    : `Redis ${redactUrl(place.redis)} + PostgreSQL ${redactUrl(place.postgres)}`;
}

/** A LevelDB directory: LevelDB writes CURRENT when it creates one. */
const isLevelDb = (dir: string) => existsSync(join(dir, "CURRENT"));

async function openPlace(
  place: Place,
  role: "source" | "target",
  onPartial: (name: string, failed: number) => void,
): Promise<DocumentStore> {
  if (place.kind === "data") {
    const flag = role === "source" ? "--from-data" : "--to-data";
    if (role === "source" && !existsSync(place.dir)) {
      throw new ConfigError(`${flag} ${place.dir} does not exist`);
    }
    const nonEmpty = existsSync(place.dir) && readdirSync(place.dir).length > 0;
    if ((role === "source" || nonEmpty) && !isLevelDb(place.dir)) {
      throw new ConfigError(`${flag} ${place.dir} is not a Tandem data directory`);
    }
    try {
      return await LevelDocumentStore.open({
        path: place.dir,
        fsync: true,
        compaction: NO_AUTO_COMPACTION,
        events: { loadFailedEntries: onPartial },
      });
    } catch (error) {
      if (/LOCK/.test((error as Error).message)) {
        throw new Error(
          `${flag} ${place.dir} is in use by a running server (LevelDB's LOCK is held): stop it first`,
        );
      }
      throw error;
    }
  }
  return openClusterStore({
    redisUrl: place.redis,
    postgresUrl: place.postgres,
    fsync: false,
    compaction: NO_AUTO_COMPACTION,
    events: { loadFailedEntries: onPartial },
  });
}

/** Whether `target` holds everything `source` does (every client's updates up to its clock). */
function covers(target: Uint8Array, source: Uint8Array): boolean {
  const have = Y.decodeStateVector(Y.encodeStateVectorFromUpdate(target));
  for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVectorFromUpdate(source))) {
    if ((have.get(client) ?? 0) < clock) return false;
  }
  return true;
}

const describeError = (error: unknown) => (error as Error)?.message ?? String(error);

/** `tandem migrate`: copies every document; resolves to the exit code. */
export async function migrateCommand(
  argv: readonly string[],
  _env: NodeJS.ProcessEnv,
  out: (line: string) => void,
  progress: (line: string) => void = () => {},
): Promise<number> {
  const options = parseOptions(argv);
  const partial = new Map<string, number>();
  const source = await openPlace(options.source, "source", (name, failed) =>
    partial.set(name, failed),
  );
  let target: DocumentStore | null = null;
  try {
    target = await openPlace(options.target, "target", () => {});
    const existing = await target.list();
    if (existing.length > 0 && !options.merge) {
      throw new ConfigError(
        `the target ${describePlace(options.target)} already holds ${existing.length} documents: choose an empty one, or pass --merge to merge into them (Yjs merges, nothing is overwritten)`,
      );
    }
    const names = (await source.list()).map((doc) => doc.name);
    const from = describePlace(options.source);
    const to = describePlace(options.target);
    const started = performance.now();
    let lastProgress = started;
    let copied = 0;
    let failed = 0;
    let merged = 0;
    const existingNames = new Set(existing.map((doc) => doc.name));
    for (const [index, name] of names.entries()) {
      try {
        const update = await source.read(name);
        if (update === null) {
          out(`gone     ${JSON.stringify(name)}: deleted during the copy`);
          continue;
        }
        await target.append(name, update);
        await target.compact(name);
        const written = await target.read(name);
        if (written === null || !covers(written, update)) {
          throw new Error("the target does not hold the copied state after writing it");
        }
        const lost = partial.get(name);
        if (lost !== undefined) {
          failed++;
          out(
            `PARTIAL  ${JSON.stringify(name)}: copied; ${lost} stored updates of the source do not apply and were left out`,
          );
        } else {
          copied++;
          const into = existingNames.has(name) ? ", merged into the existing document" : "";
          if (into) merged++;
          out(`copied   ${JSON.stringify(name)} (${update.byteLength} bytes${into})`);
        }
      } catch (error) {
        failed++;
        out(`FAILED   ${JSON.stringify(name)}: ${describeError(error)}`);
      }
      const now = performance.now();
      if (now - lastProgress >= 2000) {
        lastProgress = now;
        const done = index + 1;
        const rate = done / ((now - started) / 1000);
        progress(
          `tandem migrate: ${done}/${names.length} documents (${Math.round((done / names.length) * 100)}%), ${Math.round(rate)}/s, about ${Math.ceil((names.length - done) / rate)} s left`,
        );
      }
    }
    const mergedNote = merged > 0 ? ` (${merged} merged into existing documents)` : "";
    out(
      failed === 0
        ? `${copied} documents copied from ${from} to ${to}${mergedNote}`
        : `${copied} of ${names.length} documents copied whole from ${from} to ${to}${mergedNote}; ${failed} could not be (see above; a damaged data directory: tandem check, then tandem repair)`,
    );
    return failed === 0 ? 0 : 1;
  } finally {
    await target?.close();
    await source.close();
  }
}
