import type { Socket } from "node:net";
import {
  connectClient,
  limitHits,
  startTestServer,
  type TestClient,
  type TestServer,
  waitFor,
} from "@tandem/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * A client that reads more slowly than its document changes falls behind, not out: once the
 * server holds more than a quarter of --max-buffered-bytes for it, the updates and presence
 * relayed to it are dropped and remembered, and when it has read what it was sent, one catch-up
 * brings it up to date (limits/catch-up.ts). Before, it was closed with 4429 and had to
 * reconnect.
 */

const KiB = 1024;
const MAX_BUFFERED = 256 * KiB;
const UPDATES = 1000;
const VALUE = "v".repeat(10_000);

/** The TCP socket under a provider's WebSocket (ws keeps it private). */
function tcpOf(client: TestClient): Socket {
  return (client.socket.webSocket as unknown as { _socket: Socket })._socket;
}

describe("a client that falls behind", () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  beforeAll(async () => {
    server = await startTestServer({ maxBufferedBytes: MAX_BUFFERED });
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await server?.dispose();
  });
  const connect = () => {
    const client = connectClient(server.url, "busy");
    clients.push(client);
    return client;
  };

  it("gets a catch-up instead of 20 MB of updates, stays connected, and ends with everything", async () => {
    const [a, b, slow] = [connect(), connect(), connect()];
    await Promise.all([a.synced(), b.synced(), slow.synced()]);
    const tcp = tcpOf(slow);
    tcp.pause();
    // 20 MB of edits in 10 KB updates while `slow` reads nothing: far more than the kernel's
    // socket buffers and eighty times --max-buffered-bytes. Presence changes too.
    for (let i = 1; i <= UPDATES; i++) {
      a.doc.getMap("m").set("a", [i, VALUE]);
      b.doc.getMap("m").set("b", [i, VALUE]);
      if (i % 100 === 0) {
        a.provider.setAwarenessField("user", { name: "Ada", i });
        b.provider.setAwarenessField("user", { name: "Grace", i });
      }
    }
    a.doc.getText("t").insert(0, "typed while someone was behind");
    b.doc.getText("t").delete(0, 0);
    await Promise.all([a.stored(), b.stored()]);
    await waitFor("the server to start dropping for the slow client", async () => {
      return (await limitHits(server, "catch_up")) >= 1;
    });
    tcp.resume();

    const expected = { a: [UPDATES, VALUE], b: [UPDATES, VALUE] };
    await waitFor("the slow client to catch up", () => {
      const map = slow.doc.getMap("m").toJSON();
      return map.a?.[0] === UPDATES && map.b?.[0] === UPDATES;
    });
    expect(slow.doc.getMap("m").toJSON()).toEqual(expected);
    expect(slow.doc.getText("t").toString()).toBe("typed while someone was behind");
    await waitFor("the slow client to see the others' latest presence", () => {
      const names = [...(slow.provider.awareness?.getStates().values() ?? [])]
        .map((state) => state.user as { name?: string; i?: number } | undefined)
        .filter((user) => user?.i === UPDATES);
      return names.length === 2;
    });
    expect(slow.closes).toEqual([]);
    expect(await limitHits(server, "send_buffer")).toBe(0);

    // Live again: the next edit arrives as usual.
    a.doc.getMap("m").set("after", true);
    await waitFor("the next edit to arrive", () => slow.doc.getMap("m").get("after") === true);
    expect(slow.closes).toEqual([]);
  });
});
