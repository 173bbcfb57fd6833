import type { Redis } from "ioredis";
import type { Pool } from "pg";
import type { DocumentInfo } from "../document-store.ts";
import type { KeyScheme } from "./keys.ts";
import { TABLE } from "./schema.ts";

/**
 * Every document: the names with a row in PostgreSQL or anything in Redis, with sizes from the
 * row (state, covered totals) and the Redis meta hash (appended totals, times).
 */
export async function listDocuments(
  pool: Pool,
  redis: Redis,
  keys: KeyScheme,
): Promise<DocumentInfo[]> {
  const rows = await pool.query<{
    name: string;
    state_bytes: number;
    covered_bytes: string;
    covered_count: string;
    created_at: Date;
    updated_at: Date;
  }>(
    `SELECT name, octet_length(state) AS state_bytes, covered_bytes, covered_count, created_at, updated_at FROM ${TABLE}`,
  );
  const byName = new Map(rows.rows.map((row) => [row.name, row]));
  const names = new Set([...byName.keys(), ...(await redis.smembers(keys.documents))]);
  const pipeline = redis.pipeline();
  for (const name of names) pipeline.hmget(keys.meta(name), "bytes", "count", "created", "updated");
  const metas = (await pipeline.exec()) ?? [];
  const documents: DocumentInfo[] = [];
  let i = 0;
  for (const name of names) {
    const [error, value] = metas[i++] ?? [null, null];
    if (error) throw error;
    const [bytes, count, created, updated] = (value as (string | null)[] | null) ?? [];
    const row = byName.get(name);
    if (!row && bytes == null) continue; // deleted meanwhile
    const tailBytes = Math.max(0, Number(bytes ?? 0) - Number(row?.covered_bytes ?? 0));
    const tailCount = Math.max(0, Number(count ?? 0) - Number(row?.covered_count ?? 0));
    const createdAt = created ? new Date(Number(created)) : (row?.created_at ?? new Date(0));
    const updatedAt = updated ? new Date(Number(updated)) : (row?.updated_at ?? createdAt);
    documents.push({
      name,
      bytes: (row?.state_bytes ?? 0) + tailBytes,
      pendingUpdates: tailCount,
      createdAt: row && row.created_at < createdAt ? row.created_at : createdAt,
      updatedAt,
    });
  }
  return documents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
