import { CloseCode } from "@tandem/protocol";
import type { ServerConfig } from "@tandem/server";
import {
  connectClient,
  openRawSocket,
  startTestServer,
  stateVectorFrame,
  type TestClient,
  type TestServer,
  tryUpgrade,
  updateFrame,
  waitFor,
} from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import type WebSocket from "ws";
import * as Y from "yjs";

const stateVectorRequest = stateVectorFrame;

describe("abuse limits", () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  const sockets: WebSocket[] = [];
  const start = async (config: Partial<ServerConfig>, origin?: string) => {
    server = await startTestServer(config);
    // Every limit test ends by checking an honest client still gets the stored document.
    const writer = connectClient(server.url, "doc", origin ? { origin } : {});
    clients.push(writer);
    await writer.synced();
    writer.doc.getText("t").insert(0, "kept");
    await writer.stored();
  };
  const expectDocumentIntact = async () => {
    const stored = new Y.Doc();
    Y.applyUpdate(stored, (await server.store.read("doc")) as Uint8Array);
    expect(stored.getText("t").toString()).toBe("kept");
    expect((await server.store.list()).map((d) => d.name)).toEqual(["doc"]);
  };
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    for (const s of sockets.splice(0)) s.terminate();
    await server?.dispose();
  });

  it("refuses upgrades from origins not allowed, with 403", async () => {
    await start({ allowedOrigin: ["https://app.example.com"] }, "https://app.example.com");
    expect((await tryUpgrade(server.url, { origin: "https://evil.example.com" })).status).toBe(403);
    // No Origin at all is a program, not a page: accepted (browsers always send one).
    const program = await tryUpgrade(server.url);
    expect(program.status).toBe(101);
    program.ws?.close();
    const good = await tryUpgrade(server.url, { origin: "https://app.example.com" });
    expect(good.status).toBe(101);
    good.ws?.close();
    await expectDocumentIntact();
  });

  it("limits open connections per address, with 429", async () => {
    await start({ maxConnectionsPerIp: 3, connectionsPerMinute: 0 });
    // The honest writer holds one; two more fit.
    const open = [await tryUpgrade(server.url), await tryUpgrade(server.url)];
    expect(open.map((o) => o.status)).toEqual([101, 101]);
    for (const o of open) if (o.ws) sockets.push(o.ws);
    expect((await tryUpgrade(server.url)).status).toBe(429);
    open[0]?.ws?.close();
    await waitFor("a slot to free up", async () => {
      const retry = await tryUpgrade(server.url);
      if (retry.ws) sockets.push(retry.ws);
      return retry.status === 101;
    });
    await expectDocumentIntact();
  });

  it("limits new connections per address per minute, with 429", async () => {
    await start({ maxConnectionsPerIp: 0, connectionsPerMinute: 5 });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const attempt = await tryUpgrade(server.url);
      statuses.push(attempt.status);
      attempt.ws?.close();
    }
    // The writer used the first of five.
    expect(statuses).toEqual([101, 101, 101, 101, 429, 429]);
    await expectDocumentIntact();
  });

  it("counts X-Forwarded-For only from trusted proxies", async () => {
    await start({ maxConnectionsPerIp: 1, connectionsPerMinute: 0, trustedProxy: ["127.0.0.1"] });
    // Through the trusted proxy, two different clients are two addresses...
    const a = await tryUpgrade(server.url, { "x-forwarded-for": "203.0.113.1" });
    const b = await tryUpgrade(server.url, { "x-forwarded-for": "198.51.100.7, 203.0.113.2" });
    expect([a.status, b.status]).toEqual([101, 101]);
    // ...and the same client twice is refused.
    expect((await tryUpgrade(server.url, { "x-forwarded-for": "203.0.113.1" })).status).toBe(429);
    for (const o of [a, b]) if (o.ws) sockets.push(o.ws);
    await expectDocumentIntact();
  });

  it("ignores X-Forwarded-For from anyone else", async () => {
    await start({ maxConnectionsPerIp: 1, connectionsPerMinute: 0 });
    // The writer already holds 127.0.0.1's only slot; a forged header does not help.
    expect((await tryUpgrade(server.url, { "x-forwarded-for": "203.0.113.9" })).status).toBe(429);
    await expectDocumentIntact();
  });

  it("closes a socket that sends faster than its message rate, with 1008", async () => {
    await start({ messageRate: 20, messageBurst: 40 });
    const raw = await openRawSocket(server.url);
    for (let i = 0; i < 200; i++) raw.send(stateVectorRequest("doc"));
    expect(await raw.closed).toMatchObject({ code: CloseCode.PolicyViolation });
    // The honest writer, sending slowly, is untouched.
    const writer = clients[0] as TestClient;
    expect(writer.closes).toEqual([]);
    await expectDocumentIntact();
  });

  it("bounds what a socket may queue before authenticating (Hocuspocus closes it with 4205)", async () => {
    await start({ preAuthMaxMessages: 5 });
    const many = await openRawSocket(server.url);
    // Updates, not SyncStep1s: repeated SyncStep1s for one document are dropped, not queued.
    for (let i = 0; i < 10; i++) many.send(updateFrame("doc", new Uint8Array([0, 0])));
    expect(await many.closed).toMatchObject({ code: CloseCode.ResetConnection });
    await expectDocumentIntact();
  });

  it("bounds how many documents a socket may ask for before authenticating", async () => {
    await start({ preAuthMaxDocuments: 2 });
    const spread = await openRawSocket(server.url);
    for (const doc of ["a", "b", "c"]) spread.send(stateVectorRequest(doc));
    expect(await spread.closed).toMatchObject({ code: CloseCode.ResetConnection });
    await expectDocumentIntact();
  });

  it("closes a socket that does not authenticate in time, with 4408", async () => {
    await start({ authTimeout: 200 });
    const silent = await openRawSocket(server.url);
    expect(await silent.closed).toMatchObject({ code: CloseCode.Timeout });
    await expectDocumentIntact();
  });

  it("refuses an update that would grow a document past the maximum size", async () => {
    await start({ maxDocumentSize: 4096 });
    const writer = clients[0] as TestClient;
    const other = connectClient(server.url, "doc");
    clients.push(other);
    await other.synced();
    writer.doc.getText("t").insert(writer.doc.getText("t").length, "x".repeat(5000));
    await waitFor("the server to close the document", () => writer.documentCloses.length > 0);
    expect(writer.documentCloses).toEqual(["document-too-large"]);
    // Nobody else got it (a broadcast would have reached the other client before its own
    // acknowledgement) and nothing was stored.
    other.doc.getText("t").insert(0, "!");
    await other.stored();
    expect(other.doc.getText("t").toString()).toBe("!kept");
    other.doc.getText("t").delete(0, 1);
    await other.stored();
    await expectDocumentIntact();
    expect(await server.store.sizeOf("doc")).toBeLessThan(4096);
  });
});
