import type { Socket } from "node:net";
import { Writable } from "node:stream";
import { HocuspocusProvider, HocuspocusProviderWebsocket } from "@hocuspocus/provider";
import { CloseCode } from "@tandem/protocol";
import { createLogger, mintToken } from "@tandem/server";
import {
  authFrame,
  connectClient,
  describeFrame,
  openRawSocket,
  QuietWebSocket,
  type RawSocket,
  seededRandom,
  startTestServer,
  stateVectorFrame,
  type TestClient,
  type TestServer,
  updateFrame,
  waitFor,
} from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";

const MiB = 1024 * 1024;
const SECRET = "correct horse battery staple, 32+ characters";

/** Log lines the server wrote, parsed. */
type LogLine = { msg: string; code?: number };

/** Hands the server a JSON logger whose lines the test can read. */
function capturedLogs(): { logs: LogLine[]; logger: ReturnType<typeof createLogger> } {
  const logs: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  return { logs, logger: createLogger({ logLevel: "info", logFormat: "json" }, stream) };
}

/** Stops reading the socket at the TCP level, as a client that never reads would. */
function stopReading(raw: RawSocket): Socket {
  // ws keeps its net.Socket private; pausing it is the only way to stop reading from outside.
  const socket = (raw.ws as unknown as { _socket: Socket })._socket;
  socket.pause();
  return socket;
}

/** The server's answers to SyncStep1 (SyncStep2) among the messages a raw socket received. */
const answers = (raw: RawSocket) =>
  raw.messages.filter((m) => describeFrame(m) === "sync" && m.length > 1000).length;

describe("socket hardening", () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  const raws: RawSocket[] = [];
  const cleanups: (() => void)[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    for (const r of raws.splice(0)) r.ws.terminate();
    for (const f of cleanups.splice(0)) f();
    await server?.dispose();
  });

  const connect = (name: string, token?: string) => {
    const client = connectClient(server.url, name, token === undefined ? {} : { token });
    clients.push(client);
    return client;
  };
  const raw = async () => {
    const socket = await openRawSocket(server.url);
    raws.push(socket);
    return socket;
  };

  /**
   * A document of about 1 MB made the way editing makes one: thousands of small insertions at
   * scattered places (so Yjs keeps them as separate items, as it does for real edit history),
   * sent in updates below the message size limit.
   */
  async function writeLargeDocument(name: string): Promise<TestClient> {
    const writer = connect(name);
    await writer.synced();
    const text = writer.doc.getText("t");
    const random = seededRandom(7);
    for (let batch = 0; batch < 10; batch++) {
      writer.doc.transact(() => {
        for (let i = 0; i < 2000; i++) {
          text.insert(random.int(text.length + 1), `lorem ipsum dolor sit amet ${i}|`);
        }
      });
      await writer.stored();
    }
    expect(Y.encodeStateAsUpdate(writer.doc).length).toBeGreaterThan(600_000);
    return writer;
  }

  /** Peak resident memory of this process (the server runs in it) while `during` runs. */
  async function peakRssGrowth(during: () => Promise<void>): Promise<number> {
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    try {
      await during();
    } finally {
      clearInterval(sampler);
    }
    return Math.max(peak, process.memoryUsage().rss) - before;
  }

  it("finding 1: closes a socket that stops reading and keeps asking for a large document (4429); memory stays bounded", async () => {
    const { logs, logger } = capturedLogs();
    server = await startTestServer({ maxBufferedBytes: 2 * MiB }, { logger });
    const writer = await writeLargeDocument("big");

    let offender: RawSocket | undefined;
    const growth = await peakRssGrowth(async () => {
      offender = await raw();
      const tcp = stopReading(offender);
      // Each session address is its own document connection on the socket; each asks for the
      // whole document many times and reads nothing.
      for (let session = 0; session < 12; session++) {
        const address = `big\0s${session}`;
        offender.send(authFrame(address, ""));
        for (let i = 0; i < 40; i++) offender.send(stateVectorFrame(address));
      }
      await waitFor(
        "the server to close the socket that does not read",
        () => logs.some((l) => l.code === CloseCode.SendBufferFull),
        { timeoutMs: 20_000 },
      );
      // Honest clients are unaffected: one writes, a newcomer syncs the whole document.
      writer.doc.getText("t").insert(0, "still here ");
      await writer.stored();
      const reader = connect("big");
      await reader.synced();
      expect(reader.doc.getText("t").toString()).toBe(writer.doc.getText("t").toString());
      // When the offender reads again it gets what was already queued, then the close code.
      tcp.resume();
      expect(await offender.closed).toMatchObject({ code: CloseCode.SendBufferFull });
    });
    // 480 requests for a ~1 MB document: unbounded, that is ~500 MB queued for one socket.
    expect(growth).toBeLessThan(100 * MiB);
    expect(answers(offender as RawSocket)).toBeLessThan(20);
  });

  it("finding 1: answers a burst of repeated SyncStep1 requests once, not once per request", async () => {
    server = await startTestServer();
    await writeLargeDocument("big");
    const empty = updateFrame("big", new Uint8Array([0, 0]));
    /** Sends `requests` SyncStep1s at once and waits until the server has handled them all. */
    const ask = async (socket: RawSocket, requests: number) => {
      const acknowledged = socket.messages.filter((m) => describeFrame(m) === "sync-status");
      for (let i = 0; i < requests; i++) socket.send(stateVectorFrame("big"));
      // Messages of one document connection are handled in order: once the empty update after
      // the requests is acknowledged, every request before it has been answered (or not).
      socket.send(empty);
      await waitFor(
        "the server to handle the requests",
        () =>
          socket.messages.filter((m) => describeFrame(m) === "sync-status").length >
          acknowledged.length,
      );
    };
    const cpu = () => {
      const { user, system } = process.cpuUsage();
      return user + system;
    };

    const socket = await raw();
    socket.send(authFrame("big", ""));
    await ask(socket, 1);
    // Baseline: the CPU time of answering one request, averaged over five in a row.
    let started = cpu();
    for (let i = 0; i < 5; i++) await ask(socket, 1);
    const oneRequest = (cpu() - started) / 5;
    const answeredOneByOne = answers(socket);
    expect(answeredOneByOne).toBe(6);

    started = cpu();
    await ask(socket, 200);
    const burst = cpu() - started;
    // Unfixed, 200 requests cost about 200 answers' worth of CPU (and 200 MB sent).
    expect(burst).toBeLessThan(10 * oneRequest);
    expect(answers(socket) - answeredOneByOne).toBeLessThan(5);
  });

  describe("finding 11: documents per socket and per user", () => {
    /** Stock @hocuspocus/provider documents sharing one socket, as an app opening several. */
    function sharedSocket(token = "") {
      const socket = new HocuspocusProviderWebsocket({
        url: server.url,
        WebSocketPolyfill: QuietWebSocket,
        delay: 50,
        minDelay: 20,
        maxDelay: 500,
      });
      const closes: number[] = [];
      socket.on("close", ({ event }: { event: { code: number } }) => closes.push(event.code));
      const open = (name: string) => {
        const denials: string[] = [];
        const provider = new HocuspocusProvider({
          websocketProvider: socket,
          name,
          token,
          onAuthenticationFailed: ({ reason }) => {
            denials.push(reason);
          },
        });
        provider.attach();
        cleanups.push(() => provider.destroy());
        return { provider, denials, doc: provider.document };
      };
      cleanups.push(() => socket.destroy());
      return { socket, closes, open };
    }
    type Opened = ReturnType<ReturnType<typeof sharedSocket>["open"]>;
    const synced = (d: Opened) =>
      waitFor(`${d.provider.configuration.name} to sync`, () => d.provider.isSynced);
    const denied = (d: Opened) =>
      waitFor(`${d.provider.configuration.name} to be refused`, () => d.denials[0]);
    const writes = async (d: Opened, text: string) => {
      d.doc.getText("t").insert(0, text);
      await waitFor("the edit to be acknowledged", () => !d.provider.hasUnsyncedChanges);
      const stored = new Y.Doc();
      Y.applyUpdate(stored, (await server.store.read(d.provider.configuration.name)) as Uint8Array);
      return stored.getText("t").toString();
    };

    /**
     * Opens documents until one is accepted: the server frees a slot once it has handled the
     * close of another. A fresh name per attempt, because Hocuspocus queues the close of a
     * refused document and applies it to the next connection of that name on the socket.
     */
    const openWhenFree = (open: (name: string) => Opened, name: string) => {
      let attempt = 0;
      return waitFor(`a slot for ${name}`, async () => {
        const opened = open(`${name}-${attempt++}`);
        const outcome = await waitFor("an answer", () =>
          opened.provider.isSynced ? "synced" : opened.denials[0],
        );
        if (outcome === "synced") return opened;
        opened.provider.destroy();
        return null;
      });
    };

    it("refuses the document past --max-socket-documents; closing one frees its slot", async () => {
      server = await startTestServer({ maxSocketDocuments: 3 });
      const { open, closes } = sharedSocket();
      const [a, b, c] = ["a", "b", "c"].map(open) as [Opened, Opened, Opened];
      await Promise.all([a, b, c].map(synced));
      const d = open("d");
      expect(await denied(d)).toBe("too-many-documents");
      // The socket and the documents already open are untouched.
      expect(await writes(a, "still works")).toBe("still works");
      expect(closes).toEqual([]);
      // Closing one document frees its slot for another (once the server has the close).
      c.provider.destroy();
      const e = await openWhenFree(open, "e");
      expect(await writes(e, "fits now")).toBe("fits now");
      expect(d.provider.isSynced).toBe(false);
    });

    it("refuses the document past --max-user-documents, across that user's sockets", async () => {
      server = await startTestServer({
        auth: "jwt",
        jwtSecret: SECRET,
        maxUserDocuments: 3,
      });
      const token = (sub: string) =>
        mintToken({ secret: SECRET, sub, name: sub, docs: { "**": "write" }, ttlSeconds: 300 });
      const laptop = sharedSocket(await token("alice"));
      const phone = sharedSocket(await token("alice"));
      const [a1, a2] = ["a1", "a2"].map(laptop.open) as [Opened, Opened];
      await Promise.all([a1, a2].map(synced));
      const a3 = phone.open("a3");
      await synced(a3);
      const a4 = phone.open("a4");
      expect(await denied(a4)).toBe("too-many-documents-for-user");
      // Another user is not affected by alice's count.
      const bob = sharedSocket(await token("bob"));
      const bobs = ["a1", "b2", "b3"].map(bob.open);
      await Promise.all(bobs.map(synced));
      // Alice's open documents keep working; closing one lets her open another.
      expect(await writes(a3, "alice")).toBe("alice");
      a1.provider.destroy();
      await openWhenFree(phone.open, "a5");
      expect([laptop.closes, phone.closes, bob.closes]).toEqual([[], [], []]);
    });
  });
});
