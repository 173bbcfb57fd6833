import {
  connectClient,
  type PostgresEngine,
  type RedisEngine,
  type SpawnedServer,
  spawnServer,
  startPostgres,
  startRedis,
  startTestServer,
  type TestClient,
  waitFor,
} from "@tandem/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as Y from "yjs";

/**
 * Instance death: three instances share Redis and PostgreSQL (the one to die a `tandem serve`
 * process), writers on every one; the process is killed with SIGKILL mid-stream; its clients
 * come back through another instance.
 * Nothing any instance acknowledged may be lost.
 */

let redis: RedisEngine;
let postgres: PostgresEngine;
const children: SpawnedServer[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
});
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  for (const child of children) {
    child.kill("SIGKILL");
    await child.exited;
  }
  await Promise.all([redis?.stop(), postgres?.stop()]);
});

const DOC = "crash";

/** A writer keeps one Y.Doc across connections, as a browser tab does across reconnects. */
class Writer {
  readonly doc = new Y.Doc();
  readonly acknowledged = new Set<string>();
  client: TestClient;
  private running = true;
  readonly loop: Promise<void>;

  constructor(
    readonly id: number,
    url: string,
  ) {
    this.client = connectClient(url, DOC, { doc: this.doc });
    this.loop = this.write();
  }

  private async write(): Promise<void> {
    const items = this.doc.getArray<string>("items");
    for (let n = 0; this.running; n++) {
      const item = `w${this.id}-${n}`;
      items.push([item]);
      // An item counts as acknowledged once its provider says every change is stored.
      const provider = this.client.provider;
      const settled = () =>
        !this.running || provider !== this.client.provider || !provider.hasUnsyncedChanges;
      await waitFor("ack", settled, {
        timeoutMs: 20_000,
        intervalMs: 1,
      }).catch(() => {});
      if (this.running && provider === this.client.provider && !provider.hasUnsyncedChanges) {
        this.acknowledged.add(item);
      } else if (!this.running) return;
    }
  }

  /** The connection dropped: come back through another instance with the same document. */
  moveTo(url: string): void {
    this.client.destroy();
    this.client = connectClient(url, DOC, { doc: this.doc });
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.client.destroy();
  }
}

describe("cluster: an instance killed mid-stream", () => {
  it("loses nothing any instance acknowledged; the killed instance's clients carry on elsewhere", async () => {
    const postgresUrl = await postgres.createDatabase("crash");
    const args = [
      "--port",
      "0",
      "--redis-url",
      redis.url,
      "--postgres-url",
      postgresUrl,
      "--compact-after-updates",
      "200",
      "--compaction-ratio",
      "0",
    ];
    // The victim is a real process (SIGKILL); the survivors run in this one, which is cheaper.
    const victim = await spawnServer(args);
    children.push(victim);
    const survivors = [
      await startTestServer({
        redisUrl: redis.url,
        postgresUrl,
        compactAfterUpdates: 200,
        compactionRatio: 0,
      }),
      await startTestServer({
        redisUrl: redis.url,
        postgresUrl,
        compactAfterUpdates: 200,
        compactionRatio: 0,
      }),
    ];
    cleanups.push(...survivors.map((s) => () => s.dispose()));
    const urls = [victim.url, ...survivors.map((s) => s.url)];
    const writers = Array.from({ length: 6 }, (_, i) => new Writer(i, urls[i % 3] as string));
    const total = () => writers.reduce((sum, w) => sum + w.acknowledged.size, 0);
    await waitFor("250 acknowledged items", () => total() >= 250, { timeoutMs: 30_000 });

    victim.kill("SIGKILL");
    expect(await victim.exited).toBe("SIGKILL");
    const ackedAtKill = total();
    for (const writer of writers) {
      if (writer.id % 3 === 0) writer.moveTo(urls[1 + (writer.id % 2)] as string);
    }
    // The moved writers get acknowledgements again, from the surviving instances.
    const movedBefore = writers.filter((w) => w.id % 3 === 0).map((w) => w.acknowledged.size);
    await waitFor("the moved writers to be acknowledged again", () =>
      writers
        .filter((w) => w.id % 3 === 0)
        .every((w, i) => w.acknowledged.size > (movedBefore[i] ?? 0) + 20),
    );
    await Promise.all(writers.map((w) => w.stop()));
    const acknowledged = writers.flatMap((w) => [...w.acknowledged]);

    // A fresh instance loads only what Redis and PostgreSQL hold.
    const fresh = await startTestServer({ redisUrl: redis.url, postgresUrl });
    try {
      const reader = connectClient(fresh.url, DOC);
      await reader.synced();
      const stored = new Set(reader.doc.getArray<string>("items").toArray());
      reader.destroy();
      const lost = acknowledged.filter((item) => !stored.has(item));
      console.log(
        `cluster crash: ${acknowledged.length} acknowledged (${ackedAtKill} before the kill), lost ${lost.length}`,
      );
      expect(lost, `acknowledged items lost: ${lost.slice(0, 10).join(", ")}`).toEqual([]);
      expect(ackedAtKill).toBeGreaterThanOrEqual(250);
    } finally {
      await fresh.dispose();
    }
  }, 90_000);
});
