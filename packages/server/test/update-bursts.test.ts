import { readFileSync } from "node:fs";
import {
  authFrame,
  connectClient,
  openRawSocket,
  type RawSocket,
  type SpawnedServer,
  spawnServer,
  type TestClient,
  tempDir,
  updateFrame,
  waitFor,
} from "@tandem/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as Y from "yjs";

/**
 * A burst of tiny, valid updates (typing replayed as fast as a socket may send it, within the
 * default --message-rate burst) must cost the server CPU in proportion to its size. Hocuspocus
 * merges the updates a document receives in one turn before relaying them, and that merge
 * grows with the square of their count: four sockets sending 4,000 one-character updates each
 * at once cost several times what the same updates cost sent a hundred at a time. Tandem bounds
 * each merge (flushMaxBytes in server.ts).
 */

const SOCKETS = 4;
const PER_SOCKET = 4_000;

/** CPU seconds a process has used (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** One client typing `count` characters into its own text, one update per character. */
function typing(client: number, count: number): Uint8Array[] {
  const doc = new Y.Doc();
  doc.clientID = client;
  const updates: Uint8Array[] = [];
  doc.on("update", (update: Uint8Array) => updates.push(update));
  const text = doc.getText(`t${client}`);
  for (let i = 0; i < count; i++) text.insert(i, "x");
  doc.destroy();
  return updates;
}

describe("a burst of tiny updates", () => {
  let server: SpawnedServer;
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    server = await spawnServer(["--port", "0", "--data", dir.path]);
    cleanups.push(() => server.kill("SIGKILL"));
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  /**
   * Sends every socket's updates, `perTurn` at a time (each group after the server has had a
   * turn to read the previous one), and resolves with the server's CPU seconds once an observer
   * has every character.
   */
  async function send(doc: string, perTurn: number): Promise<{ cpu: number; largest: number }> {
    const observer: TestClient = connectClient(server.url, doc);
    cleanups.push(() => observer.destroy());
    await observer.synced();
    // A second observer on a raw socket sees the size of every relayed message.
    const watcher = await openRawSocket(server.url);
    cleanups.push(() => watcher.ws.terminate());
    watcher.send(authFrame(doc, ""));
    await watcher.nextMessageOrClose(0);
    const seen = watcher.messages.length;
    const sockets: RawSocket[] = [];
    for (let i = 0; i < SOCKETS; i++) {
      const raw = await openRawSocket(server.url);
      cleanups.push(() => raw.ws.terminate());
      raw.send(authFrame(doc, ""));
      await raw.nextMessageOrClose(0);
      sockets.push(raw);
    }
    const updates = sockets.map((_, i) => typing(i + 1, PER_SOCKET));
    const before = cpuSeconds(server.child.pid as number);
    for (let start = 0; start < PER_SOCKET; start += perTurn) {
      sockets.forEach((raw, i) => {
        for (const update of (updates[i] as Uint8Array[]).slice(start, start + perTurn)) {
          raw.send(updateFrame(doc, update));
        }
      });
      if (perTurn < PER_SOCKET) await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(
      "the observer to have every character",
      () => sockets.every((_, i) => observer.doc.getText(`t${i + 1}`).length === PER_SOCKET),
      { timeoutMs: 120_000 },
    );
    for (const raw of sockets) expect(raw.ws.readyState).toBe(raw.ws.OPEN);
    const cpu = cpuSeconds(server.child.pid as number) - before;
    const largest = Math.max(...watcher.messages.slice(seen).map((m) => m.byteLength));
    return { cpu, largest };
  }

  it("is relayed in bounded pieces, and costs no more CPU at once than a hundred at a time", async () => {
    const paced = await send("paced", 100);
    const burst = await send("burst", PER_SOCKET);
    // Merged whole, a turn's updates went out as one message of up to hundreds of KB, and the
    // merge cost grew with the square of their count (4.6 s of CPU for this burst, against
    // 1.4 s bounded). Bounded: 4 KiB of updates per merge, plus the one that passed it.
    expect(burst.largest).toBeLessThan(4096 + 200);
    expect(paced.largest).toBeLessThan(4096 + 200);
    expect(burst.cpu, `burst ${burst.cpu} s of CPU, paced ${paced.cpu} s`).toBeLessThan(
      2 * paced.cpu + 0.5,
    );
  }, 300_000);
});
