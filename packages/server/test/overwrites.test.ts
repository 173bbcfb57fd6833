import { connectClient, type SpawnedServer, spawnServer, tempDir } from "@tandem/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * A small document rewritten over and over (a map key set again and again: a status, a cursor
 * kept in the document, a counter) has a log many times its size until it is compacted. Under
 * sustained writing, a compaction that re-applies the log falls behind: the log outgrows
 * --max-document-size and honest writers were refused (4413) for a document of a few KB.
 * The store compacts a loaded document from its copy in memory instead, which costs the
 * document's size, not the log's (leveldb-store.ts, compactFromMemory).
 */

const WRITERS = 4;
const PER_WRITER = 4_000;
const VALUE = "x".repeat(1000);
const MAX_DOCUMENT = 2 * 1024 * 1024;

describe("a small document rewritten many times", () => {
  let server: SpawnedServer;
  let args: string[];
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    args = ["--port", "0", "--data", dir.path, "--max-document-size", String(MAX_DOCUMENT)];
    server = await spawnServer(args);
    cleanups.push(() => server.kill("SIGKILL"));
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("takes six times --max-document-size of overwrites from four writers, refusing none", async () => {
    const writers = Array.from({ length: WRITERS }, () => connectClient(server.url, "status"));
    cleanups.push(() => {
      for (const w of writers) w.destroy();
    });
    await Promise.all(writers.map((w) => w.synced()));
    // Each writer keeps up to 100 updates unacknowledged, as a busy client would.
    await Promise.all(
      writers.map(async (writer, w) => {
        const map = writer.doc.getMap("status");
        for (let i = 1; i <= PER_WRITER; i++) {
          map.set(`w${w}`, [i, VALUE]);
          if (i % 100 === 0) await writer.stored();
        }
        await writer.stored();
      }),
    );
    expect(WRITERS * PER_WRITER * VALUE.length).toBeGreaterThan(6 * MAX_DOCUMENT);
    for (const writer of writers) {
      expect(writer.closes).toEqual([]);
      expect(writer.documentCloses).toEqual([]);
    }

    // Everything is stored: a fresh client after a SIGKILL reads every writer's last value.
    server.kill("SIGKILL");
    await server.exited;
    server = await spawnServer(args);
    const reader = connectClient(server.url, "status");
    cleanups.push(() => reader.destroy());
    await reader.synced();
    const status = reader.doc.getMap("status").toJSON();
    for (let w = 0; w < WRITERS; w++) expect(status[`w${w}`]).toEqual([PER_WRITER, VALUE]);
  });
});
