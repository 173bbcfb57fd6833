import type { Redis } from "ioredis";
import type { Pool } from "pg";
import { isPassing } from "./append-batcher.ts";

/**
 * Redis settings that would silently lose acknowledged edits. Checked once at start: an
 * instance refuses to start rather than acknowledge edits that a Redis restart or crash, an
 * eviction or (with --fsync) a power loss would take back.
 */

/** A setting of an engine that must change before Tandem may use it. */
export class UnsafeEngineError extends Error {
  override name = "UnsafeEngineError";
}

function infoField(info: string, field: string): string | null {
  const match = new RegExp(`^${field}:(.*)$`, "m").exec(info);
  return match ? (match[1] as string).trim() : null;
}

export async function checkRedis(redis: Redis, where: string, fsync: boolean): Promise<void> {
  const persistence = await redis.info("persistence");
  if (infoField(persistence, "aof_enabled") !== "1") {
    throw new UnsafeEngineError(
      `Redis at ${where} runs without an append-only file, so a Redis restart would lose acknowledged edits: set "appendonly yes" in its redis.conf (or CONFIG SET appendonly yes, then CONFIG REWRITE)`,
    );
  }
  const memory = await redis.info("memory");
  const policy = infoField(memory, "maxmemory_policy");
  if (policy !== "noeviction") {
    throw new UnsafeEngineError(
      `Redis at ${where} has maxmemory-policy ${policy ?? "unknown"}, so it may evict a document's log when memory runs short: set "maxmemory-policy noeviction" in its redis.conf`,
    );
  }
  let appendfsync: string | null = null;
  try {
    const reply = await redis.config("GET", "appendfsync");
    appendfsync = Array.isArray(reply) ? String(reply[1]) : null;
  } catch {
    appendfsync = null;
  }
  if (fsync && appendfsync !== "always") {
    throw new UnsafeEngineError(
      `--fsync promises that acknowledged edits survive a power loss, but Redis at ${where} has appendfsync ${appendfsync ?? "unknown (CONFIG GET is not allowed)"}: set "appendfsync always" in its redis.conf, or leave out --fsync`,
    );
  }
  // everysec is refused even without --fsync: while its background fsync is slow (a busy
  // disk), Redis postpones writing the AOF by up to 2 s yet still replies, so a crash of Redis
  // loses updates it acknowledged (measured: scripts/redis-aof-crash.sh). "no" writes the AOF
  // before every reply, like the LevelDB store without --fsync.
  if (appendfsync === null) {
    throw new UnsafeEngineError(
      `Redis at ${where} does not allow CONFIG GET, so Tandem cannot check that it writes its append-only file before replying: allow CONFIG GET to Tandem's user, with "appendfsync always" or "appendfsync no" in its redis.conf`,
    );
  }
  if (appendfsync !== "always" && appendfsync !== "no") {
    throw new UnsafeEngineError(
      `Redis at ${where} has appendfsync ${appendfsync}, which may reply before writing its append-only file, so a crash of Redis could lose acknowledged edits: set "appendfsync always" (survives a power loss too) or "appendfsync no" in its redis.conf`,
    );
  }
}

/**
 * Whether an engine failed for a while rather than for good: a Redis error as isPassing says,
 * a PostgreSQL connection failure or shutdown (SQLSTATE classes 08 and 57P), or a failure to
 * reach either at all (a plain or system error from a client: refused, reset, closed). A
 * TypeError or the like is a bug, never waited for.
 */
export function isEngineAway(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "ReplyError") return isPassing(error);
  const sqlState = (error as Error & { code?: unknown; severity?: unknown }).severity
    ? String((error as Error & { code?: unknown }).code ?? "")
    : null;
  if (sqlState !== null) return sqlState.startsWith("08") || sqlState.startsWith("57P");
  return error.name === "Error" || error.name === "MaxRetriesPerRequestError";
}

/**
 * PostgreSQL must let Tandem's role create temporary tables: a large state or snapshot is
 * written in slices through one (schema.ts, stageBytes). Without it every compaction and version
 * of a document over 256 KiB would fail, and its stream grow, long after a clean start.
 */
export async function checkPostgres(pool: Pool, where: string): Promise<void> {
  const result = await pool.query<{ temporary: boolean }>(
    "SELECT has_database_privilege(current_database(), 'TEMPORARY') AS temporary",
  );
  if (result.rows[0]?.temporary !== true) {
    throw new UnsafeEngineError(
      `PostgreSQL at ${where} does not let this role create temporary tables, which Tandem uses to write large documents in slices: GRANT TEMPORARY ON DATABASE <database> TO <role>`,
    );
  }
}
