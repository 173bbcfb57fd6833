import type { Redis } from "ioredis";
import type { Pool } from "pg";
import { encodeAuthors, mergeAuthors } from "../authors.ts";
import { type CompactionPolicy, shouldCompact } from "../compaction-policy.ts";
import type { CompactionResult } from "../document-store.ts";
import { mergeOffThread } from "../merge-worker/merge-worker.ts";
import {
  after,
  authorsOfEntries,
  decodeEntries,
  type KeyScheme,
  minId,
  type StreamId,
  ZERO_ID,
} from "./keys.ts";
import { checkout, commitState, LOCK_NAMESPACE, pendingOf, readRow, stageBytes } from "./schema.ts";

/**
 * Folds a document's stream into its PostgreSQL state. Any instance may run it at any time:
 *
 *   1. in one transaction, pg_try_advisory_xact_lock for the document (taken: someone else is
 *      compacting it, skip);
 *   2. read the row (state, upto) and the stream after upto;
 *   3. merge them through a Y.Doc (in the merge thread for a large document), and add the merged
 *      entries' authors to the pending authors;
 *   4. compare-and-set: write the new state, upto and pending authors only WHERE upto is still
 *      the one read;
 *   5. after the commit, XTRIM MINID below the new upto, keeping `trimSlackMs` of entries for
 *      readers that are behind.
 *
 * The lock only saves duplicate work; correctness is the compare-and-set: a compactor that
 * stalls or dies anywhere leaves the row as it was or moved forward by someone else, and the
 * stream is only ever trimmed below a committed upto, so loading (state, then stream after
 * upto) always sees every entry.
 */

export interface CompactionContext {
  pool: Pool;
  redis: Redis;
  keys: KeyScheme;
  /** Entries younger than this stay in the stream after a compaction. */
  trimSlackMs: number;
  /** Most entries merged in one compaction (bounds its memory). */
  maxEntries: number;
  now?: () => number;
}

export interface Compacted extends CompactionResult {
  upto: StreamId;
  /** Size of the tail the new state does not cover, as this compaction saw it. */
  tailBytes: number;
  tailCount: number;
}

/** Compacts now; with a policy, only if the tail is worth it. Null when nothing was done. */
export async function compactDocument(
  context: CompactionContext,
  name: string,
  policy: CompactionPolicy | null,
): Promise<Compacted | null> {
  const { pool, redis, keys } = context;
  const { client, release } = await checkout(pool);
  let committed: Compacted | null = null;
  try {
    await client.query("BEGIN");
    const lock = await client.query<{ locked: boolean }>(
      "SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS locked",
      [LOCK_NAMESPACE, name],
    );
    if (!lock.rows[0]?.locked) {
      await client.query("ROLLBACK");
      return null;
    }
    const row = await readRow(client, name);
    const upto = row?.upto ?? ZERO_ID;
    const raw = await redis.callBuffer(
      "XRANGE",
      keys.stream(name),
      after(upto),
      "+",
      "COUNT",
      context.maxEntries + 1,
    );
    const all = decodeEntries(raw);
    const entries = all.slice(0, context.maxEntries);
    const mergedBytes = entries.reduce((sum, e) => sum + e.update.byteLength, 0);
    const stateBytes = row?.stateBytes ?? 0;
    const tailBytes = all.reduce((sum, e) => sum + e.update.byteLength, 0);
    const worthIt =
      entries.length > 0 &&
      (policy === null || shouldCompact({ tailCount: all.length, tailBytes, stateBytes }, policy));
    if (!worthIt) {
      await client.query("ROLLBACK");
      return null;
    }
    const { update: state } = await mergeOffThread(
      { state: null, updates: entries.map((e) => e.update) },
      row?.stateParts,
    );
    const newUpto = (entries.at(-1) as { id: StreamId }).id;
    const won = await commitState(client, name, upto, {
      state: await stageBytes(client, state),
      upto: newUpto,
      coveredBytes: (row?.coveredBytes ?? 0) + mergedBytes,
      coveredCount: (row?.coveredCount ?? 0) + entries.length,
      // The stream entries go, their authors stay until a version takes them.
      pendingAuthors: encodeAuthors(
        mergeAuthors(pendingOf(row?.pendingAuthors), authorsOfEntries(entries)),
      ),
    });
    if (!won) {
      await client.query("ROLLBACK");
      return null;
    }
    await client.query("COMMIT");
    committed = {
      name,
      merged: entries.length,
      bytesBefore: stateBytes + tailBytes,
      bytesAfter: state.byteLength + tailBytes - mergedBytes,
      stateBytes: state.byteLength,
      source: "log",
      upto: newUpto,
      tailBytes: tailBytes - mergedBytes,
      tailCount: all.length - entries.length,
    };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    release();
  }
  await trimStream(context, name, committed.upto);
  return committed;
}

/** Removes entries below the committed upto that are older than the slack. */
export async function trimStream(
  context: CompactionContext,
  name: string,
  upto: StreamId,
): Promise<void> {
  const now = context.now ?? Date.now;
  const oldestKept = `${Math.max(0, now() - context.trimSlackMs)}-0`;
  await context.redis.xtrim(context.keys.stream(name), "MINID", minId(upto, oldestKept));
}
