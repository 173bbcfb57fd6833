import { existsSync } from "node:fs";
import { LevelDocumentStore } from "../store/leveldb-store.ts";

/**
 * Opens a stopped server's data directory as the server would, for the commands that read or
 * write documents (export, import, backup, restore). Compacts every document it writes, so the
 * server's next start loads each in one read.
 */
export async function openDataStore(
  path: string,
  { create = false }: { create?: boolean } = {},
): Promise<LevelDocumentStore> {
  if (!create && !existsSync(path)) throw new Error(`${path} does not exist`);
  try {
    return await LevelDocumentStore.open({
      path,
      fsync: true,
      compaction: { minUpdates: 1, ratio: 0, maxUpdates: 1 },
    });
  } catch (error) {
    const cause = String((error as { cause?: unknown }).cause ?? error);
    if (/lock/i.test(cause)) {
      throw new Error(
        `${path} is in use by a running server (LevelDB's LOCK is held): stop it first, or go through its admin API`,
      );
    }
    throw new Error(`${path} does not open as a Tandem data directory: ${cause}`);
  }
}
