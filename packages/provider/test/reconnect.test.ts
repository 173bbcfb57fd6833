import { waitFor } from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { DocumentStatus } from "../src/index.ts";
import { clientPool, record, serverPool, transitions } from "./helpers.ts";

describe("reconnecting", () => {
  const pool = clientPool();
  const servers = serverPool();

  afterEach(async () => {
    await pool.closeAll();
    await servers.disposeAll();
  });

  const restartableServer = () => servers.restartable();

  it("goes connected → connecting → connected through a server restart, losing no edit", async () => {
    const server = await restartableServer();
    const doc = pool.create(server.current.url).open("restart");
    await doc.whenSynced();
    const statuses = record<DocumentStatus>((l) => doc.on("status", l));
    const synced = record<boolean>((l) => doc.on("synced", l));
    const text = doc.doc.getText("t");
    text.insert(0, "before;");
    await doc.whenStored();

    await server.stop();
    await waitFor("the document to notice", () => doc.status !== "connected");
    expect(doc.synced).toBe(false);
    // Edits while the server is away stay in the document...
    text.insert(text.length, "during;");
    expect(doc.stored).toBe(false);

    await server.start();
    // ...and reach the new server's disk once the client is back.
    await waitFor("the document to reconnect", () => doc.status === "connected");
    await doc.whenStored();
    text.insert(text.length, "after;");
    await doc.whenStored();

    const seen = transitions(statuses);
    expect(seen[0]).toBe("connecting");
    expect(seen.at(-1)).toBe("connected");
    // Between the two: connecting, and offline only if the restart took several attempts.
    expect(seen.slice(0, -1).every((s) => s === "connecting" || s === "offline")).toBe(true);
    expect(transitions(synced)).toEqual([false, true]);

    const reader = pool.create(server.current.url).open("restart");
    await reader.whenSynced();
    expect(reader.doc.getText("t").toString()).toBe("before;during;after;");
  });

  it("reports offline after repeated failures and connects as soon as the server is up", async () => {
    const server = await restartableServer();
    const port = server.current.port;
    await server.stop();

    const doc = pool.create(`ws://127.0.0.1:${port}`).open("late");
    expect(doc.status).toBe("connecting");
    doc.doc.getText("t").insert(0, "written offline");
    await waitFor("the status to say offline", () => doc.status === "offline");
    expect(doc.synced).toBe(false);
    expect(doc.stored).toBe(false);

    await server.start();
    await doc.whenSynced();
    expect(doc.status).toBe("connected");
    await doc.whenStored();
    const reader = pool.create(server.current.url).open("late");
    await reader.whenSynced();
    expect(reader.doc.getText("t").toString()).toBe("written offline");
  });

  it("reconnect() skips the backoff wait", async () => {
    const server = await restartableServer();
    // A backoff so long that only reconnect() can bring the client back within the test.
    const client = pool.create(server.current.url, {
      reconnect: { minDelayMs: 600_000, maxDelayMs: 600_000 },
    });
    const doc = client.open("patient");
    await doc.whenSynced();
    await server.stop();
    // The status leaves "connected" once the close is handled and the retry is scheduled.
    await waitFor("the client to notice the server left", () => doc.status !== "connected");
    await server.start();
    client.reconnect();
    await doc.whenSynced();
    expect(doc.status).toBe("connected");
  });

  it("waits out the backoff before retrying on its own", async () => {
    const server = await restartableServer();
    const sockets: WebSocket[] = [];
    class CountingWebSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    }
    const slow = pool
      .create(server.current.url, {
        reconnect: { minDelayMs: 600_000, maxDelayMs: 600_000 },
        WebSocketPolyfill: CountingWebSocket,
      })
      .open("backoff");
    const fast = pool.create(server.current.url).open("backoff");
    await Promise.all([slow.whenSynced(), fast.whenSynced()]);
    await server.stop();
    await waitFor(
      "both to notice",
      () => slow.status !== "connected" && fast.status !== "connected",
    );
    await server.start();
    // The fast client's retry comes within milliseconds; the slow one's is minutes away, and
    // nothing else (such as an immediate retry of Hocuspocus's own) opens a socket meanwhile.
    await fast.whenSynced();
    fast.doc.getText("t").insert(0, "a round trip");
    await fast.whenStored();
    expect(slow.status).toBe("connecting");
    expect(slow.synced).toBe(false);
    expect(sockets).toHaveLength(1);
  });
});
