import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { ClassicLevel } from "classic-level";
import * as Y from "yjs";
import { ConfigError } from "../config.ts";
import { LevelDocumentStore } from "../store/leveldb-store.ts";

export const IMPORT_PEER_USAGE = `Usage: tandem import --from y-leveldb DIR [--data DIR]
       tandem import --from hocuspocus-sqlite FILE [--data DIR]

Brings every document of another Yjs server into a stopped Tandem's data directory:
  y-leveldb            the y-websocket server's store (YPERSISTENCE=DIR)
  hocuspocus-sqlite    @hocuspocus/extension-sqlite's database file

Each document arrives as one Yjs update merged into the Tandem document of the same name (a
document that exists in both ends up with both contents, as Yjs merges). The source is only
read. Prints one line per document and a summary; exits 0 when every document came over, 1
when one could not be read, 2 on bad usage.

  --data DIR     Tandem's data directory (default: env TANDEM_DATA, else ./data)
`;

export const PEER_SOURCES = ["y-leveldb", "hocuspocus-sqlite"] as const;
export type PeerSource = (typeof PEER_SOURCES)[number];

/** One document of a peer's store: its name and its whole content as one update, or why not. */
type PeerDocument = { name: string; update: Uint8Array } | { name: string; error: string };

/** `tandem import --from …`: resolves to the exit code. */
export async function importPeerCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
): Promise<number> {
  let from: PeerSource;
  let source: string;
  let data: string;
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: { from: { type: "string" }, data: { type: "string" } },
      strict: true,
      allowPositionals: true,
    });
    if (!PEER_SOURCES.includes(values.from as PeerSource)) {
      throw new Error(
        `invalid --from: ${JSON.stringify(values.from ?? "")} (accepted: ${PEER_SOURCES.join(", ")})`,
      );
    }
    from = values.from as PeerSource;
    if (positionals.length !== 1) {
      throw new Error(`expected one source path after --from ${from}, got ${positionals.length}`);
    }
    source = positionals[0] as string;
    data = values.data ?? env.TANDEM_DATA ?? "./data";
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  if (!existsSync(source)) throw new ConfigError(`${source} does not exist`);

  const store = await LevelDocumentStore.open({
    path: data,
    fsync: true,
    compaction: { minUpdates: 1_000_000, ratio: 0, maxUpdates: 1_000_000 },
  });
  let imported = 0;
  let failed = 0;
  try {
    const documents = from === "y-leveldb" ? readYLeveldb(source) : readHocuspocusSqlite(source);
    for await (const doc of documents) {
      if ("error" in doc) {
        failed++;
        out(`FAILED   ${JSON.stringify(doc.name)}: ${doc.error}`);
        continue;
      }
      await store.append(doc.name, doc.update);
      imported++;
      out(`imported ${JSON.stringify(doc.name)} (${doc.update.byteLength} bytes)`);
    }
    // Fold each document into one state now, so the server loads it in one read.
    for (const { name } of await store.list()) await store.compact(name);
  } finally {
    await store.close();
  }
  out(
    `${imported} documents imported from ${from} ${source} into ${data}${failed > 0 ? `; ${failed} could not be read` : ""}`,
  );
  return failed === 0 ? 0 : 1;
}

/** The y-websocket server's y-leveldb store, read through y-leveldb itself. */
async function* readYLeveldb(dir: string): AsyncGenerator<PeerDocument> {
  // y-leveldb is only needed here: loaded on demand, not by every server start.
  const { LeveldbPersistence } = await import("y-leveldb");
  const persistence = new LeveldbPersistence(dir, { Level: ClassicLevel });
  try {
    for (const name of await persistence.getAllDocNames()) {
      try {
        const doc = await persistence.getYDoc(name);
        yield { name, update: Y.encodeStateAsUpdate(doc) };
        doc.destroy();
      } catch (error) {
        yield { name, error: (error as Error).message };
      }
    }
  } finally {
    await persistence.destroy();
  }
}

/** @hocuspocus/extension-sqlite's table: one row per document, its whole state as an update. */
async function* readHocuspocusSqlite(file: string): AsyncGenerator<PeerDocument> {
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT name, data FROM "documents" ORDER BY name').all() as {
      name: string;
      data: Buffer;
    }[];
    for (const { name, data } of rows) {
      const update = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      try {
        Y.decodeUpdate(update);
        yield { name, update };
      } catch (error) {
        yield { name, error: `stored state does not decode: ${(error as Error).message}` };
      }
    }
  } finally {
    db.close();
  }
}
