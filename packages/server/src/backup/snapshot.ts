import type { DocumentStore } from "../store/document-store.ts";
import type { BackupDocument } from "./format.ts";

/**
 * The documents a backup holds: the store's consistent snapshot when it has one (LevelDB), else
 * every listed document read whole one after another (each read covers every update acknowledged
 * before it, so still every update acknowledged before the backup started).
 */
export async function* backupDocuments(store: DocumentStore): AsyncGenerator<BackupDocument> {
  if (store.snapshot) {
    yield* store.snapshot();
    return;
  }
  const names = (await store.list()).map((info) => info.name).sort();
  for (const name of names) {
    const update = await store.read(name);
    if (update) yield { name, update };
  }
}
