import { mintToken } from "@tandem/server";
import {
  connectClient,
  openRawSocket,
  seededRandom,
  startTestServer,
  type TestClient,
  type TestServer,
  waitFor,
} from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";

/**
 * Stock y-websocket clients (the reference WebsocketProvider, unmodified) on the same documents
 * as Hocuspocus clients: same store, same authentication, same limits.
 */

const SECRET = "correct horse battery staple, 32+ characters";

describe("y-websocket clients", () => {
  let server: TestServer;
  const providers: WebsocketProvider[] = [];
  const clients: TestClient[] = [];

  afterEach(async () => {
    for (const p of providers.splice(0)) p.destroy();
    for (const c of clients.splice(0)) c.destroy();
    await server?.dispose();
  });

  const yClient = (name: string, options: { token?: string; doc?: Y.Doc } = {}) => {
    const doc = options.doc ?? new Y.Doc();
    const provider = new WebsocketProvider(`${server.url}/y-websocket`, name, doc, {
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      // Same process, same room: without this the two providers would sync through a
      // BroadcastChannel and never need the server.
      disableBc: true,
      maxBackoffTime: 200,
      params: options.token ? { token: options.token } : {},
    });
    providers.push(provider);
    return { doc, provider };
  };
  const hClient = (name: string, token?: string) => {
    const client = connectClient(server.url, name, token ? { token } : {});
    clients.push(client);
    return client;
  };
  const synced = (provider: WebsocketProvider) =>
    waitFor("the y-websocket client to sync", () => provider.synced);
  const storedText = async (name: string, s = server) => {
    const doc = new Y.Doc();
    const update = await s.store.read(name);
    if (update) Y.applyUpdate(doc, update);
    return doc.getText("t").toString();
  };

  it("converges with Hocuspocus clients through random edits and disconnects, and persists", async () => {
    server = await startTestServer();
    const random = seededRandom();
    const y1 = yClient("shared");
    const y2 = yClient("shared");
    const h1 = hClient("shared");
    await Promise.all([synced(y1.provider), synced(y2.provider), h1.synced()]);
    const docs = [y1.doc, y2.doc, h1.doc];
    for (let step = 0; step < 300; step++) {
      const doc = random.pick(docs);
      const text = doc.getText("t");
      if (text.length > 0 && random.next() < 0.3) {
        text.delete(random.int(text.length), 1);
      } else {
        text.insert(random.int(text.length + 1), random.pick(["a", "b", "c", " "]));
      }
      if (random.next() < 0.03) {
        const who = random.pick([y1.provider, y2.provider]);
        who.disconnect();
        who.connect();
      }
      if (step % 25 === 0) await new Promise((r) => setImmediate(r));
    }
    const final = () => docs.map((d) => d.getText("t").toString());
    await waitFor(`convergence (seed ${random.seed})`, () => new Set(final()).size === 1, {
      timeoutMs: 20_000,
    });
    await h1.stored();
    const expected = final()[0] as string;
    expect(expected.length).toBeGreaterThan(0);
    // Every y-websocket edit reached the store too: a restart serves the same text.
    await waitFor(
      "the store to hold the final text",
      async () => (await storedText("shared")) === expected,
    );
    server = await server.restart();
    const fresh = yClient("shared");
    await synced(fresh.provider);
    expect(fresh.doc.getText("t").toString()).toBe(expected);
  });

  it("shows presence across both protocols", async () => {
    server = await startTestServer();
    const y = yClient("room");
    const h = hClient("room");
    await Promise.all([synced(y.provider), h.synced()]);
    y.provider.awareness.setLocalStateField("user", { name: "Yara", color: "#f00" });
    h.provider.setAwarenessField("user", { name: "Hugo", color: "#00f" });
    const names = (states: Map<number, Record<string, unknown>>) =>
      [...states.values()].map((s) => (s.user as { name?: string } | undefined)?.name);
    await waitFor("Hugo to see Yara", () =>
      names(h.provider.awareness?.getStates() ?? new Map()).includes("Yara"),
    );
    await waitFor("Yara to see Hugo", () =>
      names(y.provider.awareness.getStates()).includes("Hugo"),
    );
  });

  it("uses the same tokens: refused without one, read-only with a read token", async () => {
    server = await startTestServer({ auth: "jwt", jwtSecret: SECRET });
    const writerToken = await mintToken({
      secret: SECRET,
      sub: "w",
      name: "W",
      docs: { "*": "write" },
      ttlSeconds: 300,
    });
    const readerToken = await mintToken({
      secret: SECRET,
      sub: "r",
      name: "R",
      docs: { "*": "read" },
      ttlSeconds: 300,
    });

    const anonymous = yClient("secret");
    const closes: number[] = [];
    anonymous.provider.on("connection-close", (event) => {
      if (event) closes.push(event.code);
    });
    await waitFor("the anonymous client to be refused", () => closes.includes(4403));
    expect(anonymous.provider.shouldConnect).toBe(false);

    const writer = yClient("secret", { token: writerToken });
    const reader = yClient("secret", { token: readerToken });
    await Promise.all([synced(writer.provider), synced(reader.provider)]);
    writer.doc.getText("t").insert(0, "from the writer");
    await waitFor(
      "the reader to see it",
      () => reader.doc.getText("t").toString() === "from the writer",
    );
    reader.doc.getText("t").insert(0, "NOT ");
    // The reader's edit is neither applied nor stored; a fresh writer sees only the writer's.
    const check = hClient("secret", writerToken);
    await check.synced();
    await waitFor(
      "the writer's text stored",
      async () => (await storedText("secret")) === "from the writer",
    );
    expect(check.doc.getText("t").toString()).toBe("from the writer");
    expect(writer.doc.getText("t").toString()).toBe("from the writer");
  });

  it("closes only the offender on bad input", async () => {
    server = await startTestServer();
    const good = yClient("doc");
    await synced(good.provider);
    const bad = await openRawSocket(`${server.url}/y-websocket/doc`);
    bad.send(Uint8Array.of(0, 2, 5, 0xff, 0xff, 0xff)); // a sync update that does not decode
    expect((await bad.closed).code).toBe(1007);
    const worse = await openRawSocket(`${server.url}/y-websocket/doc`);
    worse.send(Uint8Array.of(9, 1, 2)); // a message type y-websocket clients never send
    expect((await worse.closed).code).toBe(1007);
    good.doc.getText("t").insert(0, "still fine");
    await waitFor(
      "the good client's edit stored",
      async () => (await storedText("doc")) === "still fine",
    );
  });
});
