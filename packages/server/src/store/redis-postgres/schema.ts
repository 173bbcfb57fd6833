import type { Pool, PoolClient } from "pg";
import { decodeAuthors } from "../authors.ts";
import type { Author } from "../document-store.ts";

/**
 * The PostgreSQL side of the cluster store: one row per compacted document, and its versions.
 *
 *   tandem_documents
 *     name           the document name
 *     state          one Yjs update holding every stream entry with id <= upto
 *     upto           the stream id the state covers (compaction moves it forward by
 *                    compare-and-set: UPDATE ... WHERE upto = the value it read)
 *     covered_bytes  bytes and count of every stream entry merged into the state so far; with
 *     covered_count  the totals in Redis (keys.ts) they give the size of the uncompacted tail
 *     pending_authors  authors (authors.ts list format) of the entries with id <= upto stored
 *                    since the latest version: compaction adds the authors of the entries it
 *                    merges in the same compare-and-set, so the authors since a version are
 *                    this column plus the authors of the stream entries after upto
 *     created_at, updated_at
 *
 *   tandem_versions  one row per version (versions.ts)
 *     name, id       the document, and the version id (version-ids.ts; sorts by time in "C")
 *     time_ms, kind, label, authors (authors.ts list format)
 *     upto           the stream id the version covers (every entry <= upto is in it)
 *     bytes          size of the snapshot
 *     snapshot       one Yjs update: the document as the version saw it
 *
 *   tandem_schema    the schema version (one row); a newer version is refused with a clear error
 *
 *   tandem_staged_slices  a temporary table of each session (not part of the schema): a large
 *                    state or snapshot on its way in, in slices (stageBytes)
 *
 * Migrations run in one transaction under an advisory lock, so instances starting together apply
 * each one once.
 */

export const TABLE = "tandem_documents";
export const VERSIONS_TABLE = "tandem_versions";

/** The key space of Tandem's advisory locks (pg_advisory_xact_lock(namespace, key)). */
export const LOCK_NAMESPACE = 0x74616e64; // "tand"
const MIGRATION_LOCK = 0;

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE ${TABLE} (
     name text PRIMARY KEY,
     state bytea NOT NULL,
     upto text NOT NULL,
     covered_bytes bigint NOT NULL,
     covered_count bigint NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now(),
     updated_at timestamptz NOT NULL DEFAULT now()
   )`,
  // 2: version history.
  `ALTER TABLE ${TABLE} ADD COLUMN pending_authors bytea NOT NULL DEFAULT ''::bytea;
   CREATE TABLE ${VERSIONS_TABLE} (
     name text NOT NULL,
     id text COLLATE "C" NOT NULL,
     time_ms bigint NOT NULL,
     kind text NOT NULL,
     label text,
     authors bytea NOT NULL,
     upto text NOT NULL,
     bytes integer NOT NULL,
     snapshot bytea NOT NULL,
     PRIMARY KEY (name, id)
   )`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** A client checked out of the pool; `release` gives it back (and drops it once it failed). */
export interface CheckedOut {
  client: PoolClient;
  release(): void;
}

/**
 * Checks a client out of the pool for a transaction. While a client is checked out the pool
 * stops listening for its errors, and PostgreSQL going away between two of its queries (a
 * restart, a fast shutdown: 57P01) makes it emit "error": without a listener that is an
 * uncaught exception and takes the whole server down. The error fails the next query anyway;
 * the client is then destroyed instead of going back to the pool.
 */
export async function checkout(pool: Pool): Promise<CheckedOut> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
  };
  client.on("error", onError);
  return {
    client,
    release: () => {
      client.off("error", onError);
      client.release(broken);
    },
  };
}

export async function migrate(pool: Pool): Promise<void> {
  const { client, release } = await checkout(pool);
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1, $2)", [LOCK_NAMESPACE, MIGRATION_LOCK]);
    await client.query("CREATE TABLE IF NOT EXISTS tandem_schema (version integer NOT NULL)");
    const version = await currentVersion(client);
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `the PostgreSQL database uses Tandem schema ${version}; this version of Tandem reads schema ${SCHEMA_VERSION}`,
      );
    }
    for (let v = version; v < SCHEMA_VERSION; v++) {
      await client.query(MIGRATIONS[v] as string);
    }
    if (version === 0) {
      await client.query("INSERT INTO tandem_schema (version) VALUES ($1)", [SCHEMA_VERSION]);
    } else if (version < SCHEMA_VERSION) {
      await client.query("UPDATE tandem_schema SET version = $1", [SCHEMA_VERSION]);
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    release();
  }
}

async function currentVersion(client: PoolClient): Promise<number> {
  const result = await client.query<{ version: number }>("SELECT version FROM tandem_schema");
  return result.rows[0]?.version ?? 0;
}

/** A document's row, as the store reads it. */
export interface DocumentRow {
  /**
   * The state, in the slices it was read in (STATE_SLICE_BYTES): joinParts() makes it one
   * update, and a merge takes them as they are (merge-worker.ts joins them in its thread).
   */
  stateParts: Uint8Array[];
  stateBytes: number;
  upto: string;
  coveredBytes: number;
  coveredCount: number;
  /** Encoded (authors.ts): authors of the entries up to upto since the latest version. */
  pendingAuthors: Uint8Array;
  createdAt: Date;
  updatedAt: Date;
}

interface RawRow {
  part: Buffer;
  upto: string;
  covered_bytes: string;
  covered_count: string;
  pending_authors: Buffer;
  created_at: Date;
  updated_at: Date;
}

/**
 * A state is read in slices of this size, one result row each. node-postgres receives a bytea
 * as hex text and decodes a whole row at once on the event loop: a 10 MB state in one row held
 * it for about 200 ms, at every load and compaction of the document. A slice costs a few ms, and
 * other sockets are read between slices; a compaction hands the slices to the merge thread
 * unjoined. (pg's binary results cannot help: pg-protocol decodes every field as UTF-8 text
 * first.)
 */
export const STATE_SLICE_BYTES = 256 * 1024;

/**
 * A query reading the bytea `column` in slices of STATE_SLICE_BYTES (`sliceParam`), one result
 * row per slice in order (the slice as `part`, each with `columns`). One statement, so one
 * snapshot: the slices belong together even while another instance commits. `column || ''`
 * detoasts the value once (TOAST stores a large one compressed), so each slice is cut from
 * memory rather than decompressed again.
 */
export function slicedQuery(column: string, columns: string, from: string, sliceParam: string) {
  return `WITH d AS MATERIALIZED (SELECT ${column} || ''::bytea AS whole, ${columns} FROM ${from})
     SELECT substring(d.whole FROM g FOR ${sliceParam}) AS part, ${columns}
     FROM d, generate_series(1, greatest(octet_length(d.whole), 1), ${sliceParam}) AS g
     ORDER BY g`;
}

/** The slices of a slicedQuery's rows, empty ones left out. */
export const partsOf = (rows: readonly { part: Buffer }[]): Uint8Array[] =>
  rows.map((row) => bytesOf(row.part)).filter((part) => part.byteLength > 0);

/** Reads a document's row, its state in slices (slicedQuery). */
export async function readRow(db: Pool | PoolClient, name: string): Promise<DocumentRow | null> {
  const result = await db.query<RawRow>(
    slicedQuery(
      "state",
      "upto, covered_bytes, covered_count, pending_authors, created_at, updated_at",
      `${TABLE} WHERE name = $1`,
      "$2",
    ),
    [name, STATE_SLICE_BYTES],
  );
  const [row] = result.rows;
  if (!row) return null;
  const stateParts = partsOf(result.rows);
  return {
    stateParts,
    stateBytes: stateParts.reduce((sum, part) => sum + part.byteLength, 0),
    upto: row.upto,
    coveredBytes: Number(row.covered_bytes),
    coveredCount: Number(row.covered_count),
    pendingAuthors: bytesOf(row.pending_authors),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * A row's pending authors, decoded. A column that does not decode (written by no Tandem) holds
 * none: failing instead would stop every compaction and version of the document for good.
 */
export function pendingOf(column: Uint8Array | undefined): Author[] {
  if (!column) return [];
  try {
    return decodeAuthors(column);
  } catch {
    return [];
  }
}

/** A bytea column as a Uint8Array over the same memory. */
export const bytesOf = (value: Buffer): Uint8Array =>
  new Uint8Array(value.buffer, value.byteOffset, value.byteLength);

/** A Uint8Array as a bytea parameter (pg sends Buffers as binary). */
export const byteaOf = (value: Uint8Array): Buffer =>
  Buffer.from(value.buffer, value.byteOffset, value.byteLength);

export async function readUpto(db: Pool | PoolClient, name: string): Promise<string | null> {
  const result = await db.query<{ upto: string }>(`SELECT upto FROM ${TABLE} WHERE name = $1`, [
    name,
  ]);
  return result.rows[0]?.upto ?? null;
}

/** Where a large value waits in slices for the statement that writes it (stageBytes). */
const STAGED = "pg_temp.tandem_staged_slices";

/** A value ready for a statement that writes it with stagedSql: inline, or staged in slices. */
export interface StagedBytes {
  /** The value itself, or null when it is staged. */
  readonly inline: Buffer | null;
}

/**
 * Readies `bytes` for a statement of this transaction that writes it (stagedSql). A value larger
 * than a slice is sent in slices, one INSERT each, into a temporary table of the session:
 * node-postgres copies all of a query's parameters into one buffer on the event loop, and a
 * 10 MB state written as one parameter held it for 38 ms (the copy) plus the socket write, at
 * every compaction and version of the document. The statement reads the slices back joined, on
 * the server. Runs inside a transaction on one client: the slices are that session's and go at
 * commit or rollback (ON COMMIT DELETE ROWS). A later stageBytes in the same transaction replaces
 * them.
 */
export async function stageBytes(client: PoolClient, bytes: Uint8Array): Promise<StagedBytes> {
  if (bytes.byteLength <= STATE_SLICE_BYTES) {
    return { inline: byteaOf(bytes) };
  }
  await client.query(
    `CREATE TEMPORARY TABLE IF NOT EXISTS ${STAGED} (i integer NOT NULL, part bytea NOT NULL)
     ON COMMIT DELETE ROWS`,
  );
  await client.query(`DELETE FROM ${STAGED}`);
  for (let i = 0, at = 0; at < bytes.byteLength; i++, at += STATE_SLICE_BYTES) {
    await client.query(`INSERT INTO ${STAGED} (i, part) VALUES ($1, $2)`, [
      i,
      byteaOf(bytes.subarray(at, at + STATE_SLICE_BYTES)),
    ]);
  }
  return { inline: null };
}

/**
 * The SQL of a StagedBytes value whose `inline` is the parameter `param` ("$2"): that parameter,
 * or the staged slices joined (the parameter, then null, stays in the statement for its number).
 */
export const stagedSql = (value: StagedBytes, param: string): string =>
  value.inline
    ? param
    : `COALESCE(${param}::bytea, (SELECT string_agg(part, ''::bytea ORDER BY i) FROM ${STAGED}))`;

/**
 * The compare-and-set at the heart of compaction: writes the new state only if the row still
 * covers `expectedUpto` (ZERO_ID-like "0-0" for "no row yet"). Returns false when another
 * compactor got there first; then nothing was written. Runs in a transaction on `db` (the state
 * may be staged there: stageBytes).
 */
export async function commitState(
  db: PoolClient,
  name: string,
  expectedUpto: string,
  next: {
    state: StagedBytes;
    upto: string;
    coveredBytes: number;
    coveredCount: number;
    /** Encoded (authors.ts): the row's pending authors with those of the entries merged. */
    pendingAuthors: Uint8Array;
  },
): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO ${TABLE} (name, state, upto, covered_bytes, covered_count, pending_authors)
     VALUES ($1, ${stagedSql(next.state, "$2")}, $3, $4, $5, $7)
     ON CONFLICT (name) DO UPDATE SET
       state = EXCLUDED.state, upto = EXCLUDED.upto, covered_bytes = EXCLUDED.covered_bytes,
       covered_count = EXCLUDED.covered_count, pending_authors = EXCLUDED.pending_authors,
       updated_at = now()
     WHERE ${TABLE}.upto = $6`,
    [
      name,
      next.state.inline,
      next.upto,
      next.coveredBytes,
      next.coveredCount,
      expectedUpto,
      byteaOf(next.pendingAuthors),
    ],
  );
  return result.rowCount === 1;
}
