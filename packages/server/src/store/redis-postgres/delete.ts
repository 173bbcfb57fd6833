import type { Redis } from "ioredis";
import type { Pool } from "pg";
import type { KeyScheme } from "./keys.ts";
import { checkout, LOCK_NAMESPACE, TABLE, VERSIONS_TABLE } from "./schema.ts";

/**
 * Deletes a document everywhere, its versions included. Resolves to false when there was
 * nothing to delete.
 */
export async function deleteDocument(
  pool: Pool,
  redis: Redis,
  keys: KeyScheme,
  name: string,
): Promise<boolean> {
  const { client, release } = await checkout(pool);
  let existed = false;
  try {
    await client.query("BEGIN");
    // Waits for a compaction of this document on any instance, and keeps new ones out.
    await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [LOCK_NAMESPACE, name]);
    // Redis first: should the row's delete then fail, the document falls back to its
    // compacted state, never to a stream without the state it follows.
    const removed = await redis
      .multi()
      .del(keys.stream(name), keys.meta(name))
      .srem(keys.documents, name)
      .exec();
    const failure = removed?.find(([error]) => error !== null)?.[0];
    if (!removed || failure) throw failure ?? new Error("the Redis transaction was aborted");
    existed = Number(removed[0]?.[1] ?? 0) > 0;
    const row = await client.query(`DELETE FROM ${TABLE} WHERE name = $1`, [name]);
    await client.query(`DELETE FROM ${VERSIONS_TABLE} WHERE name = $1`, [name]);
    existed ||= (row.rowCount ?? 0) > 0;
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    release();
  }
  return existed;
}
