import {
  connectClient,
  type GatedStore,
  limitHits,
  startGatedServer,
  type TestClient,
  type TestServer,
  updateFrame,
  waitFor,
} from "@tandem/testkit";
import * as encoding from "lib0/encoding";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { InboundWindow, MESSAGE_OVERHEAD_BYTES } from "../src/limits/inbound-window.ts";
import { frameHead } from "../src/protocol/frame-head.ts";

/**
 * What a socket's updates may cost before the server has acknowledged them is bounded
 * (limits/inbound-window.ts): past --max-inflight-bytes the server stops reading the socket,
 * and TCP holds the client back, instead of queueing whatever it sends. Before, a client (or
 * writers together) sending faster than the server stores had its updates queued in memory
 * without bound.
 */

const KiB = 1024;
const MAX_INFLIGHT = 64 * KiB;
const UPDATES = 100;
const VALUE_BYTES = 8 * KiB;
const SOCKET_TIMEOUT_MS = 400;

describe("a socket whose updates wait to be acknowledged", () => {
  let server: TestServer;
  let gated: GatedStore;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    ({ server, gated } = await startGatedServer({
      maxInflightBytes: MAX_INFLIGHT,
      socketTimeout: SOCKET_TIMEOUT_MS,
    }));
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await server?.dispose();
  });

  it("is not read past the limit, stays connected, and loses nothing once the store catches up", async () => {
    const writer = connectClient(server.url, "held");
    const reader = connectClient(server.url, "held");
    clients.push(writer, reader);
    await Promise.all([writer.stored(), reader.stored()]);
    const seen = () => reader.doc.getMap("values").size;

    gated.hold();
    // 800 KiB of updates while none can be acknowledged: twelve times the limit.
    const values = writer.doc.getMap<string>("values");
    for (let i = 0; i < UPDATES; i++) values.set(`k${i}`, String(i % 10).repeat(VALUE_BYTES));
    await waitFor("the server to stop reading the writer", async () => {
      return (await limitHits(server, "inflight_bytes")) >= 1;
    });
    // Everything it read is applied, relayed and waiting at the store; nothing more is read.
    await waitFor("what the server read to reach the store", () => gated.waiting === seen());

    // Meanwhile the server serves everyone: the writer gets the reader's edits, and is not
    // closed as silent although its pongs go unread for several socket timeouts.
    const pausedSince = performance.now();
    for (let round = 0; performance.now() - pausedSince < 3 * SOCKET_TIMEOUT_MS; round++) {
      reader.doc.getText("note").insert(0, "r");
      await waitFor("the writer to get the reader's edit", () => {
        return writer.doc.getText("note").length === round + 1;
      });
    }
    // What was read is bounded by the limit, the chunk TCP had delivered, and one update.
    const cost = VALUE_BYTES + 64 + MESSAGE_OVERHEAD_BYTES;
    expect(seen()).toBeLessThanOrEqual(Math.ceil((MAX_INFLIGHT + 64 * KiB) / cost) + 1);
    expect(writer.closes).toEqual([]);

    gated.release();
    await writer.stored();
    await waitFor("the reader to have every value", () => seen() === UPDATES);
    expect(writer.closes).toEqual([]);
    const stored = new Y.Doc();
    Y.applyUpdate(stored, (await server.store.read("held")) as Uint8Array);
    expect(stored.getMap("values").toJSON()).toEqual(values.toJSON());
  });
});

describe("InboundWindow", () => {
  const status = (address: string) => {
    const frame = encoding.createEncoder();
    encoding.writeVarString(frame, address);
    encoding.writeVarUint(frame, 8); // SyncStatus
    encoding.writeVarUint(frame, 1);
    return encoding.toUint8Array(frame);
  };
  const closing = (address: string) => {
    const frame = encoding.createEncoder();
    encoding.writeVarString(frame, address);
    encoding.writeVarUint(frame, 7); // CLOSE
    encoding.writeVarString(frame, "closed");
    return encoding.toUint8Array(frame);
  };
  const update = (address: string, bytes: number) => updateFrame(address, new Uint8Array(bytes));
  const flowLog = () => {
    const log: string[] = [];
    return { log, flow: { pause: () => log.push("pause"), resume: () => log.push("resume") } };
  };

  it("pauses past the limit, resumes at half, answers per address in order", () => {
    const { log, flow } = flowLog();
    const window = new InboundWindow(10_000, flow);
    const receive = (address: string, bytes: number) => {
      const frame = update(address, bytes);
      window.received(frameHead(frame), frame.length);
    };
    receive("a", 4000);
    receive("b", 4000);
    expect(log).toEqual([]);
    receive("a", 4000);
    expect(log).toEqual(["pause"]);
    // A presence message, or a SyncStatus for an address with nothing unanswered, changes nothing.
    window.sent(frameHead(status("c")));
    window.sent(frameHead(status("b")));
    expect(window.paused).toBe(true);
    window.sent(frameHead(status("a")));
    expect(log).toEqual(["pause", "resume"]);
    window.sent(frameHead(status("a")));
    expect(window.unansweredBytes).toBe(0);
  });

  it("reads again for good once the server closes the socket", () => {
    const { log, flow } = flowLog();
    const window = new InboundWindow(10_000, flow);
    const big = update("a", 20_000);
    window.received(frameHead(big), big.length);
    window.stop();
    window.received(frameHead(big), big.length);
    expect(log).toEqual(["pause", "resume"]);
  });

  it("forgets what a closed document connection will never answer", () => {
    const { log, flow } = flowLog();
    const window = new InboundWindow(10_000, flow);
    for (let i = 0; i < 3; i++) {
      const frame = update("a", 5000);
      window.received(frameHead(frame), frame.length);
    }
    expect(log).toEqual(["pause"]);
    window.sent(frameHead(closing("a")));
    expect(log).toEqual(["pause", "resume"]);
    expect(window.unansweredBytes).toBe(0);
  });
});
