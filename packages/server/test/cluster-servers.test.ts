import type { RedisPostgresStore } from "@tandem/server";
import {
  connectClient,
  type PostgresEngine,
  type Random,
  type RedisEngine,
  seededRandom,
  startPostgres,
  startRedis,
  startTestServer,
  type TestClient,
  type TestServer,
  waitFor,
} from "@tandem/testkit";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as Y from "yjs";

/** Several real Tandem servers sharing documents through one Redis and one PostgreSQL. */

let redis: RedisEngine;
let postgres: PostgresEngine;
let databases = 0;
const servers: TestServer[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
});
afterAll(async () => {
  await Promise.all([redis?.stop(), postgres?.stop()]);
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const s of servers.splice(0)) await s.dispose();
  redis.cli("FLUSHALL");
});

/** A cluster: a fresh database; start() adds an instance. */
async function newCluster(settings: { compactAfterUpdates?: number } = {}) {
  databases++;
  const postgresUrl = await postgres.createDatabase(`servers_${databases}`);
  return {
    postgresUrl,
    start: async () => {
      const server = await startTestServer({
        redisUrl: redis.url,
        postgresUrl,
        compactionRatio: 0,
        ...settings,
      });
      servers.push(server);
      return server;
    },
  };
}

const connect = (url: string, name: string, doc?: Y.Doc) => {
  const client = connectClient(url, name, doc ? { doc } : {});
  clients.push(client);
  return client;
};

type Attributes = Record<string, true | null>;
const FORMATS: Attributes[] = [{ bold: true }, { italic: true }, { bold: null }];

function randomEdit(client: TestClient, random: Random): void {
  const text = client.doc.getText("body");
  const length = text.length;
  const roll = random.next();
  if (roll < 0.6 || length === 0) {
    const word = Array.from({ length: 1 + random.int(5) }, () =>
      String.fromCharCode(97 + random.int(26)),
    ).join("");
    text.insert(random.int(length + 1), word, random.next() < 0.2 ? random.pick(FORMATS) : {});
  } else if (roll < 0.85) {
    const at = random.int(length);
    text.delete(at, 1 + random.int(Math.min(6, length - at)));
  } else {
    const at = random.int(length);
    text.format(at, 1 + random.int(Math.min(8, length - at)), random.pick(FORMATS));
  }
}

const contentOf = (doc: Y.Doc) => JSON.stringify(doc.getText("body").toDelta());

describe("several instances on Redis Streams + PostgreSQL", () => {
  it("clients editing on three instances, moving between them, converge; so do fresh clients and a fresh instance", async () => {
    const random = seededRandom();
    const seed = `seed ${random.seed} (rerun with TANDEM_SEED=${random.seed})`;
    const cluster = await newCluster({ compactAfterUpdates: 50 });
    const instances = [await cluster.start(), await cluster.start(), await cluster.start()];
    const docs = Array.from({ length: 6 }, () => new Y.Doc());
    const current = docs.map((doc, i) => connect((instances[i % 3] as TestServer).url, "doc", doc));
    await Promise.all(current.map((c) => c.synced()));

    let moves = 0;
    for (let step = 0; step < 900; step++) {
      const i = random.int(docs.length);
      if (random.next() < 0.03) {
        // The client's connection drops and it comes back through the load balancer to
        // another instance, with whatever it has not had acknowledged.
        (current[i] as TestClient).destroy();
        current[i] = connect(random.pick(instances).url, "doc", docs[i]);
        moves++;
      } else {
        randomEdit(current[i] as TestClient, random);
      }
      if (step % 3 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(moves, seed).toBeGreaterThan(10);

    const converged = () => {
      const first = contentOf(docs[0] as Y.Doc);
      return current.every(
        (c) => c.provider.isSynced && !c.provider.hasUnsyncedChanges && contentOf(c.doc) === first,
      );
    };
    await waitFor(`every client to converge (${seed})`, converged, { timeoutMs: 30_000 });
    const final = contentOf(docs[0] as Y.Doc);
    expect(JSON.parse(final).length, seed).toBeGreaterThan(0);

    for (const instance of instances) {
      const fresh = connect(instance.url, "doc");
      await fresh.synced();
      expect(contentOf(fresh.doc), `a fresh client on ${instance.url} (${seed})`).toBe(final);
    }
    // Every instance down; a new one loads only what Redis and PostgreSQL hold.
    for (const c of clients.splice(0)) c.destroy();
    for (const s of servers.splice(0)) await s.dispose();
    const newcomer = await cluster.start();
    const reader = connect(newcomer.url, "doc");
    await reader.synced();
    expect(contentOf(reader.doc), `a freshly started instance (${seed})`).toBe(final);
  }, 90_000);

  it("an instance that loads a document while others edit it misses nothing", async () => {
    const cluster = await newCluster({ compactAfterUpdates: 20 });
    const writerInstance = await cluster.start();
    const readerInstance = await cluster.start();
    const writers = [connect(writerInstance.url, "live"), connect(writerInstance.url, "live")];
    await Promise.all(writers.map((w) => w.synced()));
    const acknowledged: string[] = [];
    let writing = true;
    const loops = writers.map(async (w, i) => {
      const items = w.doc.getArray<string>("items");
      for (let n = 0; writing; n++) {
        items.push([`w${i}-${n}`]);
        await w.stored();
        acknowledged.push(`w${i}-${n}`);
      }
    });
    for (let round = 0; round < 12; round++) {
      await waitFor("more acknowledged items", () => acknowledged.length >= (round + 1) * 15);
      const before = [...acknowledged];
      const reader = connect(readerInstance.url, "live");
      await reader.synced();
      const seen = new Set(reader.doc.getArray<string>("items").toArray());
      expect(
        before.filter((item) => !seen.has(item)),
        `round ${round}: acknowledged items missing from the document the reader's instance loaded`,
      ).toEqual([]);
      // Leaving unloads the document there, so the next round loads it again.
      reader.destroy();
      await waitFor("the reader's instance to unload", () => {
        return readerInstance.hocuspocus.getDocumentsCount() === 0;
      });
    }
    writing = false;
    await Promise.all(loops);
    const last = connect(readerInstance.url, "live");
    await last.synced();
    await waitFor("the reader to hold every acknowledged item", () => {
      const seen = new Set(last.doc.getArray<string>("items").toArray());
      return acknowledged.every((item) => seen.has(item));
    });
  }, 60_000);

  it("stops reading a document's stream when the document unloads", async () => {
    const cluster = await newCluster();
    const a = await cluster.start();
    const b = await cluster.start();
    const storeB = b.store as RedisPostgresStore;
    const writer = connect(a.url, "unload-me");
    const reader = connect(b.url, "unload-me");
    await Promise.all([writer.synced(), reader.synced()]);
    writer.doc.getText("body").insert(0, "hello");
    await waitFor("B to relay A's edit", () => reader.doc.getText("body").toString() === "hello");
    expect(storeB.watchedDocuments).toEqual(["unload-me"]);

    reader.destroy();
    await waitFor("B to unload the document", () => b.hocuspocus.getDocumentsCount() === 0);
    await waitFor("B to stop reading its stream", () => storeB.watchedDocuments.length === 0);

    // From now on, no XREAD that Redis receives may name the stream (MONITOR sees every one).
    const monitorConnection = new Redis(redis.url, { lazyConnect: true });
    await monitorConnection.connect();
    const monitor = await monitorConnection.monitor();
    // Only B's reader connection counts: A has the document open and rightly reads it.
    const readerOfB = redis
      .cli("CLIENT", "LIST")
      .split("\n")
      .find((line) => line.includes(`name=tandem-reader-${storeB.instanceId}`));
    const addressOfB = /addr=(\S+)/.exec(readerOfB ?? "")?.[1];
    expect(addressOfB, "B's reader connection").toBeDefined();
    const reads: string[][] = [];
    monitor.on("monitor", (_time: string, args: string[], source: string) => {
      if (source === addressOfB && String(args[0]).toLowerCase() === "xread") {
        reads.push(args.map(String));
      }
    });
    // B opens another document so its reader keeps issuing XREADs while A writes on.
    const other = connect(b.url, "other");
    await other.synced();
    for (let n = 0; n < 20; n++) writer.doc.getText("body").insert(0, `${n}`);
    await writer.stored();
    other.doc.getText("body").insert(0, "x");
    await other.stored();
    await waitFor("an XREAD from B after the unload", () => reads.length > 0);
    monitor.disconnect();
    monitorConnection.disconnect();
    const naming = reads.filter((args) => args.some((arg) => arg.endsWith("log:unload-me")));
    expect(naming, "XREADs naming the unloaded document's stream").toEqual([]);
    expect(storeB.watchedDocuments).toEqual(["other"]);
  });
  it("relays presence between instances: a newcomer sees everyone at once, a leaver disappears", async () => {
    const cluster = await newCluster();
    const a = await cluster.start();
    const b = await cluster.start();
    const ada = connect(a.url, "presence");
    await ada.synced();
    ada.provider.awareness?.setLocalStateField("user", { name: "Ada" });
    await waitFor("A to hold Ada's state", () =>
      [...(a.hocuspocus.documents.get("presence")?.awareness.getStates().values() ?? [])].some(
        (state) => state.user?.name === "Ada",
      ),
    );

    // B opens the document after Ada's state was set: it asks A, and does not wait for a renewal.
    const grace = connect(b.url, "presence");
    await grace.synced();
    const namesSeenBy = (client: TestClient) =>
      [...(client.provider.awareness?.getStates().entries() ?? [])]
        .filter(([id]) => id !== client.doc.clientID)
        .map(([, state]) => (state.user as { name?: string } | undefined)?.name)
        .filter(Boolean);
    await waitFor("Grace (on B) to see Ada (on A)", () => namesSeenBy(grace).includes("Ada"), {
      timeoutMs: 5000,
    });
    grace.provider.awareness?.setLocalStateField("user", { name: "Grace" });
    await waitFor("Ada to see Grace", () => namesSeenBy(ada).includes("Grace"), {
      timeoutMs: 5000,
    });

    ada.destroy();
    await waitFor("Grace to see Ada leave", () => !namesSeenBy(grace).includes("Ada"), {
      timeoutMs: 5000,
    });
  });
});
