import { type DocumentStore, LevelDocumentStore, RedisPostgresStore } from "@tandem/server";
import {
  type PostgresEngine,
  type RedisEngine,
  seededRandom,
  startPostgres,
  startRedis,
  tempDir,
  waitFor,
} from "@tandem/testkit";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as Y from "yjs";

/**
 * The cluster store against real Redis and PostgreSQL: it must behave like the LevelDB store
 * through the DocumentStore interface, and stay correct when several instances compact at once.
 */

let redis: RedisEngine;
let postgres: PostgresEngine;
let databases = 0;
const opened: DocumentStore[] = [];
const removals: (() => Promise<void>)[] = [];

beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
});
afterAll(async () => {
  await Promise.all([redis?.stop(), postgres?.stop()]);
});
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  for (const remove of removals.splice(0)) await remove();
});

const NEVER = { minUpdates: 1_000_000, ratio: 100, maxUpdates: 10_000_000 };

/** A fresh database and key prefix: one "cluster" that several stores (instances) can share. */
async function newCluster() {
  databases++;
  const postgresUrl = await postgres.createDatabase(`store_${databases}`);
  const keyPrefix = `t${databases}:`;
  const open = async (options: Partial<Parameters<typeof RedisPostgresStore.open>[0]> = {}) => {
    const store = await RedisPostgresStore.open({
      redisUrl: redis.url,
      postgresUrl,
      fsync: false,
      compaction: NEVER,
      keyPrefix,
      trimSlackMs: 0,
      ...options,
    });
    opened.push(store);
    return store;
  };
  return { postgresUrl, keyPrefix, open };
}

/** Yjs updates that each push one item onto a Y.Array, as a client would send them. */
function itemWriter(clientId: number) {
  const doc = new Y.Doc();
  doc.clientID = clientId;
  const items = doc.getArray<string>("items");
  return (item: string): Uint8Array => {
    let update: Uint8Array | null = null;
    const take = (u: Uint8Array) => {
      update = u;
    };
    doc.once("update", take);
    items.push([item]);
    return update as unknown as Uint8Array;
  };
}

function itemsOf(update: Uint8Array | null): string[] {
  if (!update) return [];
  const doc = new Y.Doc();
  Y.applyUpdate(doc, update);
  return doc.getArray<string>("items").toArray();
}

function itemsOfStored(stored: { state: Uint8Array | null; updates: Uint8Array[] } | null) {
  if (!stored) return [];
  const doc = new Y.Doc();
  if (stored.state) Y.applyUpdate(doc, stored.state);
  for (const u of stored.updates) Y.applyUpdate(doc, u);
  return doc.getArray<string>("items").toArray();
}

/**
 * Appends "z0", "z1", ... to "doc" through `writer` while `compactor` compacts it in a loop, until
 * stop(): `durable` counts the items whose append has resolved.
 */
function appendWhileCompacting(
  writer: DocumentStore,
  compactor: DocumentStore,
  write: (item: string) => Uint8Array,
) {
  let durable = 0;
  let compactions = 0;
  let writing = true;
  const appending = (async () => {
    for (let n = 0; writing; n++) {
      await writer.append("doc", write(`z${n}`));
      durable = n + 1;
    }
  })();
  const compacting = (async () => {
    while (writing) if (await compactor.compact("doc")) compactions++;
  })();
  return {
    get durable() {
      return durable;
    },
    get compactions() {
      return compactions;
    },
    async stop() {
      writing = false;
      await Promise.all([appending, compacting]);
    },
  };
}

describe("cluster store (Redis Streams + PostgreSQL)", () => {
  it("behaves like the LevelDB store: append, load, read, compact, sizeOf, list, delete", async () => {
    const random = seededRandom();
    const seed = `seed ${random.seed} (rerun with TANDEM_SEED=${random.seed})`;
    const dir = await tempDir();
    removals.push(dir.remove);
    const level = await LevelDocumentStore.open({
      path: dir.path,
      fsync: false,
      compaction: NEVER,
    });
    opened.push(level);
    const cluster = await (await newCluster()).open();
    const stores = [level, cluster];
    const names = ["a", "b/c", "d é", "e"];
    const writers = new Map(names.map((n, i) => [n, itemWriter(i + 1)]));

    for (const store of stores) {
      expect(await store.load("a")).toBeNull();
      expect(await store.read("a")).toBeNull();
      expect(await store.delete("a")).toBe(false);
      expect(await store.compact("a")).toBeNull();
      expect(await store.list()).toEqual([]);
      expect(await store.sizeOf("a")).toBe(0);
    }
    for (let step = 0; step < 300; step++) {
      const name = random.pick(names);
      const roll = random.next();
      if (roll < 0.85) {
        const update = (writers.get(name) as (item: string) => Uint8Array)(`${name}-${step}`);
        await Promise.all(stores.map((s) => s.append(name, update)));
      } else if (roll < 0.95) {
        const results = await Promise.all(stores.map((s) => s.compact(name)));
        expect(results[1], seed).toEqual(results[0]);
      } else {
        const results = await Promise.all(stores.map((s) => s.delete(name)));
        expect(results[1], `delete ${name} (${seed})`).toBe(results[0]);
      }
    }
    for (const name of names) {
      const [a, b] = await Promise.all(stores.map((s) => s.read(name)));
      expect(itemsOf(b as Uint8Array | null), `${name} (${seed})`).toEqual(
        itemsOf(a as Uint8Array | null),
      );
      const [la, lb] = await Promise.all(stores.map((s) => s.load(name)));
      expect(itemsOfStored(lb ?? null), seed).toEqual(itemsOfStored(la ?? null));
      expect(lb?.updates.length, seed).toBe(la?.updates.length);
      const [sa, sb] = await Promise.all(stores.map((s) => s.sizeOf(name)));
      expect(sb, `size of ${name} (${seed})`).toBe(sa);
    }
    const strip = (list: Awaited<ReturnType<DocumentStore["list"]>>) =>
      list
        .map(({ name, bytes, pendingUpdates }) => ({ name, bytes, pendingUpdates }))
        .sort((x, y) => (x.name < y.name ? -1 : 1));
    const [listA, listB] = await Promise.all(stores.map((s) => s.list()));
    expect(strip(listB ?? []), seed).toEqual(strip(listA ?? []));
    expect((listA ?? []).length, seed).toBeGreaterThan(0);
  });

  it("compacting on three instances at once never loses or duplicates content", async () => {
    const cluster = await newCluster();
    const instances = await Promise.all([cluster.open(), cluster.open(), cluster.open()]);
    const write = itemWriter(7);
    const expected: string[] = [];
    let writing = true;
    const compactions: number[] = [0, 0, 0];
    const compactors = instances.map(async (store, i) => {
      while (writing) {
        if (await store.compact("doc")) compactions[i] = (compactions[i] ?? 0) + 1;
        await new Promise((r) => setImmediate(r));
      }
    });
    for (let n = 0; n < 1500; n++) {
      const item = `item-${n}`;
      expected.push(item);
      const store = instances[n % 3] as RedisPostgresStore;
      // Appends in flight from every instance while compactions commit and trim.
      const pending = store.append("doc", write(item));
      if (n % 20 === 19) await pending;
    }
    const last = write("last");
    await Promise.all(instances.map((s) => s.append("doc", last)));
    expected.push("last");
    writing = false;
    await Promise.all(compactors);
    expect(
      compactions.reduce((a, b) => a + b),
      "compactions that committed",
    ).toBeGreaterThan(3);
    for (const store of instances) expect(itemsOf(await store.read("doc"))).toEqual(expected);
    const fresh = await cluster.open();
    expect(itemsOf(await fresh.read("doc"))).toEqual(expected);
  });

  it("a compactor that dies or goes stale changes nothing (lock released, compare-and-set)", async () => {
    const cluster = await newCluster();
    const store = await cluster.open();
    const write = itemWriter(9);
    const expected: string[] = [];
    for (let n = 0; n < 50; n++) {
      expected.push(`x${n}`);
      await store.append("doc", write(`x${n}`));
    }
    expect(await store.compact("doc")).toMatchObject({ merged: 50 });
    for (let n = 50; n < 80; n++) {
      expected.push(`x${n}`);
      await store.append("doc", write(`x${n}`));
    }

    // A compactor on another instance takes the lock and reads, then its process dies.
    const dying = new pg.Client({ connectionString: cluster.postgresUrl });
    await dying.connect();
    dying.on("error", () => {});
    const dyingPid = (await dying.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
    await dying.query("BEGIN");
    await dying.query("SELECT pg_try_advisory_xact_lock($1, hashtext($2))", [0x74616e64, "doc"]);
    const { rows } = await dying.query("SELECT upto FROM tandem_documents WHERE name = 'doc'");
    const staleUpto = rows[0].upto as string;
    expect(await store.compact("doc"), "skipped while another holds the lock").toBeNull();
    const killer = new pg.Client({ connectionString: cluster.postgresUrl });
    await killer.connect();
    try {
      await killer.query("SELECT pg_terminate_backend($1)", [dyingPid]);
      // pg_terminate_backend only signals the backend: its lock goes when its process has exited.
      await waitFor("the dying compactor's backend to exit", async () => {
        const alive = await killer.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [
          dyingPid,
        ]);
        return alive.rowCount === 0;
      });
    } finally {
      await killer.end();
    }
    expect(await store.compact("doc"), "runs once the dead compactor's lock is gone").toMatchObject(
      { merged: 30 },
    );

    // A stale compactor (read the old upto, commits late) is refused by the compare-and-set.
    // Its state is large enough to be staged in slices (stageBytes), as a large one would be.
    const { commitState, stageBytes } = await import("../src/store/redis-postgres/schema.ts");
    const stale = new pg.Client({ connectionString: cluster.postgresUrl });
    await stale.connect();
    let won: boolean;
    try {
      await stale.query("BEGIN");
      const large = new Y.Doc();
      large.getText("t").insert(0, "z".repeat(700_000));
      won = await commitState(stale as pg.PoolClient, "doc", staleUpto, {
        state: await stageBytes(stale as pg.PoolClient, Y.encodeStateAsUpdate(large)),
        upto: "1-0",
        coveredBytes: 0,
        coveredCount: 0,
        pendingAuthors: new Uint8Array(),
      });
      await stale.query("ROLLBACK");
    } finally {
      await stale.end();
    }
    expect(won).toBe(false);
    expect(itemsOf(await store.read("doc"))).toEqual(expected);
  });

  it("keeps each stream bounded: compaction trims what PostgreSQL holds", async () => {
    const cluster = await newCluster();
    const store = await cluster.open({
      compaction: { minUpdates: 100, ratio: 0, maxUpdates: 500 },
    });
    const write = itemWriter(11);
    let longest = 0;
    for (let n = 0; n < 3000; n++) {
      const pending = store.append("doc", write(`y${n}`));
      if (n % 50 === 49) {
        await pending;
        longest = Math.max(longest, Number(redis.cli("XLEN", `${cluster.keyPrefix}log:doc`)));
      }
    }
    await store.append("doc", write("end"));
    // Bounded by the compaction threshold plus what arrives during one compaction, not by the
    // 3000 updates that went through.
    expect(longest, "longest stream seen").toBeLessThan(1000);
    await store.compact("doc");
    expect(Number(redis.cli("XLEN", `${cluster.keyPrefix}log:doc`)), "after a compaction").toBe(1);
    const items = itemsOf(await store.read("doc"));
    expect(items.length).toBe(3001);
    expect(items.at(-1)).toBe("end");
  });

  it("a load while others append and compact sees everything appended before it", async () => {
    const cluster = await newCluster();
    const writer = await cluster.open({
      compaction: { minUpdates: 20, ratio: 0, maxUpdates: 100 },
    });
    const other = await cluster.open({ compaction: { minUpdates: 20, ratio: 0, maxUpdates: 100 } });
    const reader = await cluster.open();
    const churn = appendWhileCompacting(writer, other, itemWriter(13));
    let loads = 0;
    while (loads < 150) {
      const before = churn.durable;
      const items = itemsOfStored(await reader.load("doc"));
      reader.unload("doc");
      const expected = Array.from({ length: before }, (_, n) => `z${n}`);
      expect(items.slice(0, before), `load ${loads} holds what was durable before it`).toEqual(
        expected,
      );
      loads++;
    }
    await churn.stop();
    expect(churn.durable).toBeGreaterThan(150);
    expect(churn.compactions, "compactions committed during the loads").toBeGreaterThan(10);
  });
  it("reads a state of several slices whole, also while another instance compacts it", async () => {
    const cluster = await newCluster();
    const writer = await cluster.open();
    const other = await cluster.open();
    const reader = await cluster.open();
    const write = itemWriter(21);
    // About 900 KB of state: four slices of STATE_SLICE_BYTES (256 KiB), stored compressed.
    const big = ["a", "b", "c"].map((c) => c.repeat(300_000));
    for (const item of big) await writer.append("doc", write(item));
    expect(await other.compact("doc")).toMatchObject({ merged: 3 });
    expect(itemsOfStored(await reader.load("doc"))).toEqual(big);
    reader.unload("doc");

    const churn = appendWhileCompacting(writer, other, write);
    for (let loads = 0; loads < 30 || churn.compactions < 5; loads++) {
      const before = churn.durable;
      const items = itemsOfStored(await reader.load("doc"));
      reader.unload("doc");
      expect(items.slice(0, 3 + before)).toEqual([
        ...big,
        ...Array.from({ length: before }, (_, n) => `z${n}`),
      ]);
    }
    await churn.stop();
    expect(itemsOfStored(await reader.load("doc"))).toHaveLength(3 + churn.durable);
  });

  it("an instance that finds a document new misses nothing another appends before it watches", async () => {
    const cluster = await newCluster();
    const [first, second] = [await cluster.open(), await cluster.open()];
    // As when two instances open a new document at once: one finds it empty...
    expect(await first.load("new")).toBeNull();
    // ...the other's clients write before the first has started reading the stream...
    const write = itemWriter(21);
    for (const item of ["a", "b", "c"]) await second.append("new", write(item));
    // ...and the first reads on from where its load left off, not from where the stream is now.
    const received = new Y.Doc();
    const stop = first.watch("new", (updates) => {
      for (const update of updates) Y.applyUpdate(received, update);
    });
    try {
      await second.append("new", write("d"));
      await waitFor("the first instance to get every entry", () =>
        received.getArray<string>("items").length === 4 ? true : undefined,
      );
      expect(received.getArray<string>("items").toArray()).toEqual(["a", "b", "c", "d"]);
      expect(received.store.pendingStructs).toBeNull();
    } finally {
      stop();
    }
  });

  it("forgets what it knew of a document's size when it was unloaded while its compaction was queued", async () => {
    const cluster = await newCluster();
    const compacted: string[] = [];
    const a = await cluster.open({
      compaction: { minUpdates: 3, ratio: 0, maxUpdates: 1000 },
      events: { compacted: (result) => compacted.push(result.name) },
    });
    const [b, fresh] = [await cluster.open(), await cluster.open()];
    const write = itemWriter(23);
    expect(await a.load("doc")).toBeNull();
    // The third append queues a compaction, and the server unloads the document meanwhile.
    for (const item of ["a", "b", "c"]) await a.append("doc", write(item));
    a.unload("doc");
    await waitFor("the queued compaction", () => compacted.includes("doc"));
    // Another instance writes on: what `a` says of the size must see it.
    for (let n = 0; n < 5; n++) await b.append("doc", write(`more-${n}`));
    expect(await a.sizeOf("doc")).toBe(await fresh.sizeOf("doc"));
  });

  it("a reader cut off while others compact and trim catches up from the stored state", async () => {
    const cluster = await newCluster();
    const writer = await cluster.open();
    const reader = await cluster.open({ readerReconnectDelayMs: 1500 });
    const write = itemWriter(19);
    await writer.append("doc", write("first"));
    expect(await reader.load("doc")).not.toBeNull();
    const received = new Y.Doc();
    Y.applyUpdate(received, (await reader.read("doc")) as Uint8Array);
    reader.watch("doc", (updates) => {
      for (const update of updates) Y.applyUpdate(received, update);
    });
    const items = () => received.getArray<string>("items").toArray();

    // Cut the reader's connection; while it is away, entries are appended, compacted and
    // trimmed (no slack), so reading on from its cursor alone would miss them.
    const readerId = redis
      .cli("CLIENT", "LIST")
      .split("\n")
      .find((line) => line.includes(`name=tandem-reader-${reader.instanceId}`))
      ?.match(/id=(\d+)/)?.[1];
    expect(readerId).toBeDefined();
    redis.cli("CLIENT", "KILL", "ID", readerId as string);
    const expected = ["first"];
    for (let n = 0; n < 30; n++) {
      expected.push(`gap-${n}`);
      await writer.append("doc", write(`gap-${n}`));
    }
    expect(await writer.compact("doc")).toMatchObject({ merged: 31 });
    expect(Number(redis.cli("XLEN", `${cluster.keyPrefix}log:doc`))).toBe(1);
    expected.push("later");
    await writer.append("doc", write("later"));
    await waitFor("the reader to catch up", () => items().length === expected.length);
    expect(items()).toEqual(expected);
  });

  // Last: it kills the file's Redis (and restarts it on the same data).
  it("holds appends and reports not ready while Redis is down; stores them in order once it is back", async () => {
    const cluster = await newCluster();
    let held = 0;
    const store = await cluster.open({ events: { appendsHeld: () => held++ } });
    const write = itemWriter(17);
    await store.append("doc", write("before"));
    expect(store.status).toEqual({ ready: true });

    await redis.kill();
    await waitFor("the store to notice", () => !store.status.ready);
    expect(store.status).toEqual({
      ready: false,
      reason: "Redis is unreachable: acknowledgements wait for it",
    });
    let settled = 0;
    const during = store.append("doc", write("during")).then(() => settled++);
    const durable = store.durable("doc").then(() => settled++);
    const after = store.append("doc", write("after")).then(() => settled++);
    await waitFor("the store to hold the appends", () => held === 1);
    expect(settled, "appends settled with Redis down").toBe(0);

    await redis.restart();
    await Promise.all([during, durable, after]);
    await waitFor("the store to be ready again", () => store.status.ready, { timeoutMs: 20_000 });
    expect(itemsOf(await store.read("doc"))).toEqual(["before", "during", "after"]);
  });

  it("rejects held appends when it closes with Redis still down", async () => {
    const cluster = await newCluster();
    const store = await cluster.open();
    const write = itemWriter(18);
    await store.append("doc", write("before"));
    await redis.kill();
    await waitFor("the store to notice", () => !store.status.ready);
    const held = store.append("doc", write("held"));
    const durable = store.durable("doc");
    const closed = store.close();
    await expect(held).rejects.toThrow(/closed before Redis took/);
    await expect(durable).rejects.toThrow();
    await closed;
    await redis.restart();
  });
});
