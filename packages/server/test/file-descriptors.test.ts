import { readdirSync } from "node:fs";
import {
  connectClient,
  type SpawnedServer,
  spawnServer,
  type TestClient,
  tempDir,
  waitFor,
} from "@tandem/testkit";
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";

/**
 * Out of file descriptors (`ulimit -n` low): new sockets are refused cleanly while the open
 * ones keep working, nothing is lost, and new sockets are accepted again once some close.
 */

/** Opens a socket; resolves true once it is open, false when the server refused or dropped it. */
function tryOpen(url: string, into: WebSocket[]): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on("error", () => resolve(false));
    ws.on("close", () => resolve(false));
    ws.on("open", () => {
      into.push(ws);
      resolve(true);
    });
  });
}

describe("running out of file descriptors", () => {
  let server: SpawnedServer;
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("refuses new sockets while the open ones keep editing, and recovers when some close", async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const limit = 96;
    server = await spawnServer(["--port", "0", "--data", dir.path], {}, { maxOpenFiles: limit });
    cleanups.push(() => server.kill("SIGKILL"));
    const writer: TestClient = connectClient(server.url, "doc");
    cleanups.push(() => writer.destroy());
    await writer.synced();
    writer.doc.getText("t").insert(0, "before;");
    await writer.stored();

    const used = readdirSync(`/proc/${server.child.pid}/fd`).length;
    expect(used).toBeLessThan(limit - 10);
    // Open sockets until the server has no descriptor left for the next one.
    const open: WebSocket[] = [];
    cleanups.push(() => {
      for (const ws of open) ws.terminate();
    });
    let refused = 0;
    for (let i = 0; i < limit && refused === 0; i++) {
      if (!(await tryOpen(server.url, open))) refused++;
    }
    expect(refused).toBe(1);
    // Refused for lack of descriptors (not by the per-address limit of 100): every one was used.
    expect(open.length).toBeGreaterThan(limit - used - 10);
    // (+2: libuv keeps a descriptor in reserve to accept-and-close when none is left, and one
    // may have been in use while /proc was read.)
    expect(open.length).toBeLessThanOrEqual(limit - used + 2);

    // The open socket keeps working: edits are applied, stored and acknowledged.
    writer.doc.getText("t").insert(writer.doc.getText("t").length, "during;");
    await writer.stored();
    expect(server.child.exitCode).toBeNull();

    // Descriptors come back: a new client connects and sees everything.
    for (const ws of open.splice(0, 20)) ws.close();
    const reader = connectClient(server.url, "doc");
    cleanups.push(() => reader.destroy());
    await waitFor("a new client to sync", () => reader.provider.isSynced, { timeoutMs: 20_000 });
    expect(reader.doc.getText("t").toString()).toBe("before;during;");

    // And after a restart everything acknowledged is there.
    server.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    const again = await spawnServer(["--port", "0", "--data", dir.path]);
    cleanups.push(() => again.kill("SIGKILL"));
    const fresh = connectClient(again.url, "doc");
    cleanups.push(() => fresh.destroy());
    await fresh.synced();
    expect(fresh.doc.getText("t").toString()).toBe("before;during;");
  });
});
