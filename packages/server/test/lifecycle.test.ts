import type { Extension } from "@hocuspocus/server";
import { CloseCode } from "@tandem/protocol";
import {
  connectClient,
  spawnServer,
  startTestServer,
  type TestClient,
  type TestServer,
  tempDir,
  waitFor,
} from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";

describe("graceful shutdown (SIGTERM)", () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("closes clients with a reconnect code, finishes writes, exits 0; clients come back by themselves", async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const first = await spawnServer(["--port", "0", "--data", dir.path]);
    cleanups.push(() => first.kill("SIGKILL"));
    const client = connectClient(first.url, "doc");
    cleanups.push(() => client.destroy());
    await client.synced();
    const text = client.doc.getText("t");
    text.insert(0, "before shutdown.");
    await client.stored();

    const started = Date.now();
    first.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    await waitFor("the client to see the close", () => client.closes.length > 0);
    expect(client.closes[0]?.code).toBe(CloseCode.ServiceRestart);
    expect(first.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining(["shutting down", "stopped"]),
    );

    // Edits while the server is down stay with the client...
    text.insert(text.length, " while down.");
    // ...and reach the next server on the same port without anyone reconnecting by hand.
    const second = await spawnServer(["--port", String(first.port), "--data", dir.path]);
    cleanups.push(() => second.kill("SIGKILL"));
    await waitFor(
      "the client to reconnect and store",
      () =>
        client.provider.isSynced &&
        !client.provider.hasUnsyncedChanges &&
        client.socket.status === "connected",
    );
    const reader = connectClient(second.url, "doc");
    cleanups.push(() => reader.destroy());
    await reader.synced();
    expect(reader.doc.getText("t").toString()).toBe("before shutdown. while down.");
  });

  it("stops within the shutdown timeout even with many clients writing", async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const server = await spawnServer(["--port", "0", "--data", dir.path]);
    cleanups.push(() => server.kill("SIGKILL"));
    const clients = Array.from({ length: 10 }, (_, i) => connectClient(server.url, `doc-${i % 3}`));
    cleanups.push(() => {
      for (const c of clients) c.destroy();
    });
    await Promise.all(clients.map((c) => c.synced()));
    let writing = true;
    const writers = clients.map(async (c) => {
      for (let n = 0; writing && n < 2000; n++) {
        c.doc.getText("t").insert(0, "x");
        await new Promise((r) => setImmediate(r));
      }
    });
    await waitFor("some writes", () => clients.every((c) => c.doc.getText("t").length > 20));
    const started = Date.now();
    server.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    // The server's own time to stop; the clients winding down afterwards is not its time.
    expect(Date.now() - started).toBeLessThan(10_000);
    writing = false;
    await Promise.all(writers);
  });
});

describe("HTTP on the WebSocket port", () => {
  let server: TestServer;
  afterEach(() => server?.dispose());

  it("answers /healthz, /readyz and 404", async () => {
    server = await startTestServer();
    const get = (path: string, init?: RequestInit) => fetch(`${server.httpUrl}${path}`, init);
    const health = await get("/healthz");
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await get("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
    const missing = await get("/nope");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: "not found" });
    expect((await get("/healthz", { method: "POST" })).status).toBe(405);
  });

  it("/readyz is 503 once the store is closed", async () => {
    server = await startTestServer();
    await server.store.close();
    const ready = await fetch(`${server.httpUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
  });
});

describe("hook errors", () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await server?.dispose();
  });

  it("an extension that throws in hooks Hocuspocus does not await cannot crash the server", async () => {
    let thrown = 0;
    const faulty: Extension = {
      extensionName: "faulty",
      async onChange() {
        thrown++;
        throw new Error("onChange exploded");
      },
      async onStateless() {
        thrown++;
        throw new Error("onStateless exploded");
      },
      async onAwarenessUpdate() {
        thrown++;
        throw new Error("onAwarenessUpdate exploded");
      },
    };
    server = await startTestServer({}, { extensions: [faulty] });
    const a = connectClient(server.url, "doc");
    const b = connectClient(server.url, "doc");
    clients.push(a, b);
    await Promise.all([a.synced(), b.synced()]);
    a.doc.getText("t").insert(0, "still works");
    a.provider.sendStateless("hello");
    a.provider.setAwarenessField("user", { name: "A" });
    await waitFor("b to sync", () => b.doc.getText("t").toString() === "still works");
    await a.stored();
    await waitFor("the hooks to have thrown", () => thrown >= 3);
    // Still serving: a new client gets the document.
    const c = connectClient(server.url, "doc");
    clients.push(c);
    await c.synced();
    expect(c.doc.getText("t").toString()).toBe("still works");
    const stored = new Y.Doc();
    Y.applyUpdate(stored, (await server.store.read("doc")) as Uint8Array);
    expect(stored.getText("t").toString()).toBe("still works");
  });
});
