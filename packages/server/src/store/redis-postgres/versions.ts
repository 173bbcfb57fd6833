import type { PoolClient } from "pg";
import { decodeAuthors, encodeAuthors, mergeAuthors } from "../authors.ts";
import { DamagedDocumentError } from "../damaged.ts";
import type {
  Author,
  RecordVersion,
  VersionInfo,
  VersionKind,
  VersionStore,
} from "../document-store.ts";
import { assertDocumentName } from "../keys.ts";
import { mergeOffThread } from "../merge-worker/merge-worker.ts";
import { joinParts } from "../state-chunks.ts";
import { checkRecordRequest, nextVersionId, parseVersionId } from "../version-ids.ts";
import { type CompactionContext, trimStream } from "./compaction.ts";
import {
  after,
  authorsOfEntries,
  compareIds,
  decodeEntries,
  type StreamId,
  ZERO_ID,
} from "./keys.ts";
import {
  byteaOf,
  bytesOf,
  checkout,
  commitState,
  LOCK_NAMESPACE,
  partsOf,
  pendingOf,
  readRow,
  STATE_SLICE_BYTES,
  slicedQuery,
  stageBytes,
  stagedSql,
  TABLE,
  VERSIONS_TABLE,
} from "./schema.ts";

/**
 * Version history in the cluster store (tables in schema.ts). Every instance may record, list
 * or delete versions of any document at any time:
 *
 * - Each stream entry carries its author (append-batcher.ts). A compaction adds the authors of
 *   the entries it merges to the row's pending_authors in the same compare-and-set that moves
 *   the state forward, so "who stored updates since the latest version" is always the row's
 *   pending authors plus the authors of the stream entries after its upto, whichever instance
 *   stored or compacted them.
 * - Recording a version, in one transaction under the document's advisory lock (so no
 *   compaction, recording or deletion of it runs anywhere meanwhile): reads the row and the
 *   stream after its upto, merges them into the snapshot, writes the snapshot as the new state
 *   (a compaction: upto moves to the last entry read) with no pending authors left, and inserts
 *   the version with the pending authors and the stream entries' authors. Entries stored after
 *   the stream was read have ids after the version's upto: they belong to the next version.
 * - Deleting a version hands its authors on: to the next newer version, or, when it was the
 *   newest, back to the row's pending authors.
 */

const VERSIONS = VERSIONS_TABLE;
const KINDS: readonly VersionKind[] = ["auto", "named", "restore"];

export interface VersionContext extends CompactionContext {
  assertOpen(): void;
  /** Settles once this instance's appends to the document made so far have. */
  durable(name: string): Promise<void>;
  /** A version merged `count` stream entries of `bytes` into a state of `stateBytes`. */
  compacted?(name: string, stateBytes: number, bytes: number, count: number): void;
}

interface VersionRow {
  id: string;
  time_ms: string;
  kind: string;
  label: string | null;
  authors: Buffer;
  bytes: number;
}

const INFO_COLUMNS = "id, time_ms, kind, label, authors, bytes";

function infoOf(name: string, row: VersionRow): VersionInfo {
  const kind = KINDS.find((k) => k === row.kind);
  if (!kind)
    throw new DamagedDocumentError(name, `version ${row.id} has the unknown kind ${row.kind}`);
  let authors: Author[];
  try {
    authors = decodeAuthors(bytesOf(row.authors));
  } catch (error) {
    throw new DamagedDocumentError(name, `the authors of version ${row.id} do not decode`, {
      cause: error,
    });
  }
  return {
    id: row.id,
    time: Number(row.time_ms),
    kind,
    ...(row.label === null ? {} : { label: row.label }),
    authors,
    bytes: row.bytes,
  };
}

export class ClusterVersionStore implements VersionStore {
  constructor(private readonly context: VersionContext) {}

  record(name: string, request: RecordVersion): Promise<VersionInfo | null> {
    this.context.assertOpen();
    assertDocumentName(name);
    const requested = checkRecordRequest(request, this.context.now ?? Date.now);
    return this.recordNow(name, request, requested);
  }

  private async recordNow(
    name: string,
    request: RecordVersion,
    requested: number,
  ): Promise<VersionInfo | null> {
    const { pool, redis, keys } = this.context;
    // This instance's appends in flight are in the version (they are "made before the call").
    await this.context.durable(name).catch(() => {});
    const { client, release } = await checkout(pool);
    let recorded: { info: VersionInfo; upto: StreamId; bytes: number; count: number } | null = null;
    try {
      await client.query("BEGIN");
      await lockDocument(client, name);
      const row = await readRow(client, name);
      const upto = row?.upto ?? ZERO_ID;
      const raw = await redis.callBuffer("XRANGE", keys.stream(name), after(upto), "+");
      const entries = decodeEntries(raw);
      const covered = entries.at(-1)?.id ?? upto;
      const newest = (
        await client.query<{ id: string; upto: string }>(
          `SELECT id, upto FROM ${VERSIONS} WHERE name = $1 ORDER BY id DESC LIMIT 1`,
          [name],
        )
      ).rows[0];
      const nothingNew = newest !== undefined && compareIds(newest.upto, covered) >= 0;
      if ((!row && entries.length === 0) || (request.kind === "auto" && nothingNew)) {
        await client.query("ROLLBACK");
        return null;
      }
      // Counted first: a large document merges in a thread (merge-worker.ts), which may take
      // the buffers, so that recording a version does not hold the event loop.
      const bytes = entries.reduce((sum, e) => sum + e.update.byteLength, 0);
      const { update, failed } = await mergeOffThread(
        { state: null, updates: entries.map((e) => e.update) },
        row?.stateParts,
      );
      if (failed > 0) {
        // A version of half a document would be restored one day as if it were whole.
        throw new DamagedDocumentError(name, `${failed} stored updates do not apply`);
      }
      const noAuthors = encodeAuthors([]);
      // The snapshot, and the state too when it is written: one staging for both.
      const staged = await stageBytes(client, update);
      if (entries.length > 0) {
        // The merge is done anyway: it becomes the state (a compaction up to the version).
        const won = await commitState(client, name, upto, {
          state: staged,
          upto: covered,
          coveredBytes: (row?.coveredBytes ?? 0) + bytes,
          coveredCount: (row?.coveredCount ?? 0) + entries.length,
          pendingAuthors: noAuthors,
        });
        if (!won) throw new Error(`the state of ${JSON.stringify(name)} moved under its lock`);
      } else {
        await client.query(`UPDATE ${TABLE} SET pending_authors = $2 WHERE name = $1`, [
          name,
          byteaOf(noAuthors),
        ]);
      }
      const { id, time } = nextVersionId(requested, newest?.id ?? null);
      const info: VersionInfo = {
        id,
        time,
        kind: request.kind,
        ...(request.label === undefined ? {} : { label: request.label }),
        authors: mergeAuthors(pendingOf(row?.pendingAuthors), authorsOfEntries(entries)),
        bytes: update.byteLength,
      };
      await client.query(
        `INSERT INTO ${VERSIONS} (name, id, time_ms, kind, label, authors, upto, bytes, snapshot)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, ${stagedSql(staged, "$9")})`,
        [
          name,
          id,
          time,
          info.kind,
          info.label ?? null,
          byteaOf(encodeAuthors(info.authors)),
          covered,
          info.bytes,
          staged.inline,
        ],
      );
      await client.query("COMMIT");
      recorded = { info, upto: covered, bytes, count: entries.length };
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      release();
    }
    if (recorded.count > 0) {
      this.context.compacted?.(name, recorded.info.bytes, recorded.bytes, recorded.count);
      // The version's upto is committed: what it covers may leave the stream (see compaction).
      await trimStream(this.context, name, recorded.upto).catch(() => {});
    }
    return recorded.info;
  }

  async list(name: string): Promise<VersionInfo[]> {
    this.context.assertOpen();
    assertDocumentName(name);
    const result = await this.context.pool.query<VersionRow>(
      `SELECT ${INFO_COLUMNS} FROM ${VERSIONS} WHERE name = $1 ORDER BY id DESC`,
      [name],
    );
    return result.rows.map((row) => infoOf(name, row));
  }

  async read(name: string, id: string): Promise<{ info: VersionInfo; update: Uint8Array } | null> {
    this.context.assertOpen();
    assertDocumentName(name);
    if (!parseVersionId(id)) return null;
    // In slices, as a state is read (schema.ts): one row of a 10 MB snapshot would hold the
    // event loop for about 200 ms.
    const result = await this.context.pool.query<VersionRow & { part: Buffer }>(
      slicedQuery("snapshot", INFO_COLUMNS, `${VERSIONS} WHERE name = $1 AND id = $2`, "$3"),
      [name, id, STATE_SLICE_BYTES],
    );
    const row = result.rows[0];
    return row ? { info: infoOf(name, row), update: joinParts(partsOf(result.rows)) } : null;
  }

  async delete(name: string, ids: readonly string[]): Promise<number> {
    this.context.assertOpen();
    assertDocumentName(name);
    const doomed = new Set(ids.filter((id) => parseVersionId(id) !== null));
    if (doomed.size === 0) return 0;
    const { client, release } = await checkout(this.context.pool);
    try {
      await client.query("BEGIN");
      await lockDocument(client, name);
      const versions = await client.query<VersionRow>(
        `SELECT ${INFO_COLUMNS} FROM ${VERSIONS} WHERE name = $1 ORDER BY id`,
        [name],
      );
      const deleted: string[] = [];
      // Authors of deleted versions, handed on to the next newer version that stays.
      let carried: Author[] = [];
      for (const row of versions.rows) {
        const info = infoOf(name, row);
        if (doomed.has(info.id)) {
          deleted.push(info.id);
          carried = mergeAuthors(carried, info.authors);
        } else if (carried.length > 0) {
          await client.query(`UPDATE ${VERSIONS} SET authors = $3 WHERE name = $1 AND id = $2`, [
            name,
            info.id,
            byteaOf(encodeAuthors(mergeAuthors(carried, info.authors))),
          ]);
          carried = [];
        }
      }
      if (carried.length > 0) {
        // The newest version went: its authors are pending again, before any stored since.
        const pending = await client.query<{ pending_authors: Buffer }>(
          `SELECT pending_authors FROM ${TABLE} WHERE name = $1`,
          [name],
        );
        const column = pending.rows[0]?.pending_authors;
        await client.query(`UPDATE ${TABLE} SET pending_authors = $2 WHERE name = $1`, [
          name,
          byteaOf(encodeAuthors(mergeAuthors(carried, pendingOf(column && bytesOf(column))))),
        ]);
      }
      if (deleted.length > 0) {
        await client.query(`DELETE FROM ${VERSIONS} WHERE name = $1 AND id = ANY($2)`, [
          name,
          deleted,
        ]);
      }
      await client.query("COMMIT");
      return deleted.length;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      release();
    }
  }

  /**
   * The row's pending authors and those of the stream after its upto. A compaction may commit
   * (and trim) between the two reads: reading upto again tells, as in load.ts.
   */
  async pendingAuthors(name: string): Promise<Author[]> {
    this.context.assertOpen();
    assertDocumentName(name);
    const { pool, redis, keys } = this.context;
    const readPending = async () => {
      const result = await pool.query<{ upto: string; pending_authors: Buffer }>(
        `SELECT upto, pending_authors FROM ${TABLE} WHERE name = $1`,
        [name],
      );
      const row = result.rows[0];
      return {
        upto: row?.upto ?? ZERO_ID,
        authors: row ? pendingOf(bytesOf(row.pending_authors)) : [],
      };
    };
    let pending = await readPending();
    const raw = await redis.callBuffer("XRANGE", keys.stream(name), after(pending.upto), "+");
    let entries = decodeEntries(raw);
    const again = await readPending();
    if (again.upto !== pending.upto) {
      pending = again;
      entries = entries.filter((e) => compareIds(e.id, again.upto) > 0);
    }
    return mergeAuthors(pending.authors, authorsOfEntries(entries));
  }
}

/** Waits for any compaction, recording or deletion of the document, on any instance. */
async function lockDocument(client: PoolClient, name: string): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [LOCK_NAMESPACE, name]);
}
