import { join } from "node:path";
import {
  connectClient,
  mountSmallDisk,
  type SmallDisk,
  type SpawnedServer,
  spawnServer,
  type TestClient,
  waitFor,
} from "@tandem/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as Y from "yjs";

/**
 * The disk fills up for real (a small tmpfs), as in the data-loss report: two writers on a
 * document a watcher keeps open the whole time, one writer alone on another document. While the
 * disk is full nothing may be acknowledged that is not stored; once space is back everything is
 * stored without a restart; after a graceful restart or a SIGKILL every acknowledged edit is
 * there, and the clients' other edits arrive when they reconnect.
 */

const FAILED = "a write to the data directory failed";
const RECOVERED = "the data directory takes writes again";

/** A client writing map keys, which knows which of its keys the server has acknowledged. */
interface Writer {
  client: TestClient;
  doc: Y.Doc;
  name: string;
  written: string[];
  /** Keys written before a moment when the provider had no unacknowledged change. */
  acked: Set<string>;
  write(count: number): Promise<void>;
}

function startWriter(url: string, name: string, prefix: string, doc = new Y.Doc()): Writer {
  const client = connectClient(url, name, { doc });
  const writer: Writer = {
    client,
    doc,
    name,
    written: [],
    acked: new Set(),
    write: async (count) => {
      const map = doc.getMap<string>("m");
      for (let i = 0; i < count; i++) {
        const key = `${prefix}-${writer.written.length}`;
        map.set(key, `${key} ${"x".repeat(80)}`);
        writer.written.push(key);
        // Type like a person (fast), so several frames go out per batch but the rate limit holds.
        await new Promise((r) => setTimeout(r, 2));
      }
    },
  };
  // The provider counts unacknowledged changes; acknowledgements come in order, so at zero
  // every key written so far is acknowledged. Recorded synchronously, before anything else runs.
  client.provider.on("unsyncedChanges", ({ number }: { number: number }) => {
    if (number === 0 && client.provider.isSynced) {
      for (const key of writer.written) writer.acked.add(key);
    }
  });
  return writer;
}

async function readyz(server: SpawnedServer): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`http://127.0.0.1:${server.port}/readyz`);
  return { status: response.status, body: await response.json() };
}

/** The keys of a document as a fresh client sees it. */
async function freshKeys(url: string, name: string): Promise<Set<string>> {
  const fresh = connectClient(url, name);
  try {
    await fresh.synced();
    return new Set(fresh.doc.getMap("m").keys());
  } finally {
    fresh.destroy();
  }
}

function missing(expected: Iterable<string>, actual: Set<string>): string[] {
  return [...expected].filter((key) => !actual.has(key));
}

describe("a full disk", () => {
  let disk: SmallDisk;
  let server: SpawnedServer | null = null;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    disk = await mountSmallDisk(16 * 1024 * 1024);
  });
  afterAll(async () => {
    await disk?.remove();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    disk.free();
    if (server && server.child.exitCode === null) {
      server.kill("SIGKILL");
      await server.exited;
    }
    server = null;
  });

  const serve = (data: string, port = 0) =>
    spawnServer(["--port", String(port), "--data", data, "--log-level", "debug"]);

  const scenario = async (data: string) => {
    server = await serve(data);
    const a = startWriter(server.url, "shared", "a");
    const b = startWriter(server.url, "shared", "b");
    const c = startWriter(server.url, "solo", "c");
    const watcher = connectClient(server.url, "shared");
    clients.push(a.client, b.client, c.client, watcher);
    const writers = [a, b, c];
    // Synced before writing: an edit made while connecting goes out twice (in the sync and
    // queued), and the provider's counter of unacknowledged changes would reach 0 one ack early,
    // counting a key as acknowledged that is not.
    await Promise.all(writers.map((w) => w.client.synced()));
    await Promise.all(writers.map((w) => w.write(40)));
    await Promise.all([...writers.map((w) => w.client.stored()), watcher.synced()]);
    expect((await readyz(server)).status).toBe(200);

    // The disk fills up while everyone keeps writing.
    expect(disk.fill()).toBeGreaterThan(0);
    await Promise.all(writers.map((w) => w.write(60)));
    const full = server;
    await waitFor("/readyz to say the storage is full", async () => {
      const { status, body } = await readyz(full);
      return status === 503 && /no space left/i.test(JSON.stringify(body));
    });
    // Peers keep seeing each other's edits live...
    const lastOfA = a.written.at(-1) as string;
    await waitFor("the watcher to see a's latest edit", () => watcher.doc.getMap("m").has(lastOfA));
    await waitFor("b to see a's latest edit", () => b.doc.getMap("m").has(lastOfA));
    // a reconnects while the disk is full: the server already holds its edits in memory, so
    // its sync sends nothing, and that must not be acknowledged as "stored" either.
    a.client.goOffline();
    a.client.goOnline();
    await a.client.synced();
    // ...but nothing written since the disk filled is acknowledged, and the process is up.
    expect(full.child.exitCode).toBeNull();
    // (A write or two may still fit in the last page of LevelDB's log file, and be acknowledged.)
    for (const w of writers) {
      expect(w.client.provider.hasUnsyncedChanges, `${w.name} has unacknowledged edits`).toBe(true);
      expect(w.acked.size, `${w.name}'s acknowledged edits`).toBeLessThan(50);
    }
    return { writers, watcher };
  };

  it("holds acknowledgements while full, resumes without a restart, and loses nothing across a graceful restart", async () => {
    const data = join(disk.path, "graceful");
    const { writers, watcher } = await scenario(data);
    const full = server as SpawnedServer;

    disk.free();
    await Promise.all(writers.map((w) => w.client.stored()));
    await waitFor("/readyz to answer 200 again", async () => (await readyz(full)).status === 200);
    await Promise.all(writers.map((w) => w.write(20)));
    await Promise.all(writers.map((w) => w.client.stored()));
    // One line when the disk filled and one when it came back, however many updates waited.
    expect(full.logs.filter((l) => l.msg.startsWith(FAILED))).toHaveLength(1);
    expect(full.logs.filter((l) => l.msg.startsWith(RECOVERED))).toHaveLength(1);
    for (const w of writers) expect(w.acked.size).toBe(w.written.length);

    // Everyone leaves but the watcher; a graceful restart; a fresh client finds every edit.
    for (const w of writers) w.client.destroy();
    full.kill("SIGTERM");
    expect(await full.exited).toBe(0);
    watcher.destroy();
    server = await serve(data, full.port);
    const [a, b, c] = writers as [Writer, Writer, Writer];
    expect(missing([...a.written, ...b.written], await freshKeys(server.url, "shared"))).toEqual(
      [],
    );
    expect(missing(c.written, await freshKeys(server.url, "solo"))).toEqual([]);
  });

  it("keeps every acknowledged edit across a SIGKILL while full, and the rest arrives when clients return", async () => {
    const data = join(disk.path, "killed");
    const { writers } = await scenario(data);
    const full = server as SpawnedServer;

    // The clients go away with their unacknowledged edits (they keep their documents), the
    // server dies while the disk is full, and the space comes back before it restarts.
    for (const w of writers) w.client.destroy();
    full.kill("SIGKILL");
    await full.exited;
    disk.free();
    server = await serve(data, full.port);
    const [a, b, c] = writers as [Writer, Writer, Writer];
    const shared = await freshKeys(server.url, "shared");
    const solo = await freshKeys(server.url, "solo");
    expect(missing([...a.acked, ...b.acked], shared)).toEqual([]);
    expect(missing(c.acked, solo)).toEqual([]);

    // The writers come back with the documents they kept: their sync sends what the server
    // lacks, and everything is stored.
    const url = server.url;
    const back = writers.map((w) => startWriter(url, w.name, "again", w.doc));
    clients.push(...back.map((w) => w.client));
    await Promise.all(back.map((w) => w.client.stored()));
    expect(missing([...a.written, ...b.written], await freshKeys(url, "shared"))).toEqual([]);
    expect(missing(c.written, await freshKeys(url, "solo"))).toEqual([]);
  });
});
