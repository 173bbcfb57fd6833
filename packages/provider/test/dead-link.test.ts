import {
  type FaultProxy,
  insertToken,
  NO_TOKEN_PROBLEMS,
  readFrame,
  seededRandom,
  startFaultProxy,
  startTestServer,
  type TestServer,
  tokenProblems,
  waitFor,
} from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { DocumentStatus, TandemDocument } from "../src/index.ts";
import { clientPool, FAST_RECONNECT, record, transitions } from "./helpers.ts";

/** Hocuspocus's QueryAwareness message type: what the SDK probes a quiet link with. */
const QUERY_AWARENESS = 3;

/**
 * The SDK's side of a dead network: a link through which nothing arrives for
 * `reconnect.silenceTimeoutMs` is given up and replaced, while a link that is merely quiet is
 * probed and kept. Through testkit's fault proxy, which can blackhole a link (nothing passes,
 * nothing is closed) as a pulled cable or a sleeping laptop would.
 */
describe("a dead link to the server", () => {
  const pool = clientPool();
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    await pool.closeAll();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const random = seededRandom();
  const silence = { ...FAST_RECONNECT, silenceTimeoutMs: 600 };

  const serve = async (socketTimeout = 30_000): Promise<TestServer> => {
    const server = await startTestServer({ socketTimeout });
    cleanups.push(() => server.dispose());
    return server;
  };
  const link = async (server: TestServer): Promise<FaultProxy> => {
    const proxy = await startFaultProxy(server.port);
    cleanups.push(() => proxy.close());
    return proxy;
  };

  it("keeps a quiet healthy link: it is probed, not replaced", async () => {
    const server = await serve();
    const proxy = await link(server);
    let probes = 0;
    class Counting extends WebSocket {
      override send(data: Uint8Array, ...rest: unknown[]): void {
        if (data.length > 1 && readFrame(data).type === QUERY_AWARENESS) probes++;
        (super.send as (...args: unknown[]) => void)(data, ...rest);
      }
    }
    // Alone on the document, no presence set: after the sync nothing comes from the server but
    // the echo of the provider's presence renewal, every 15 s.
    // A silence timeout of 3 s: the probe goes out after 1.8 s of quiet, and its answer has
    // 1.2 s to come back even on a busy machine.
    const doc = pool
      .create(proxy.url, {
        reconnect: { ...FAST_RECONNECT, silenceTimeoutMs: 3_000 },
        WebSocketPolyfill: Counting,
      })
      .open("quiet");
    await doc.whenSynced();
    const statuses = record<DocumentStatus>((l) => doc.on("status", l));

    // Three probes take at least 3 × 1.8 s: nearly twice the silence timeout, all quiet.
    await waitFor("three probes", () => probes >= 3);
    expect(transitions(statuses)).toEqual([]);
    expect(doc.status).toBe("connected");
    expect(proxy.accepted).toBe(1);
  });

  it("replaces a blackholed link; edits from both sides converge and presence returns", async () => {
    // The server finds the dead socket too (as it would, later, with its default 30 s).
    const server = await serve(1_000);
    const proxy = await link(server);
    const a = pool.create(proxy.url, { reconnect: silence }).open("cut", { user: user("a") });
    const b = pool.create(server.url).open("cut", { user: user("b") });
    await Promise.all([a.whenSynced(), b.whenSynced()]);
    await waitFor("b to see a", () => b.peers().some((p) => p.id === "a"));
    const typed: string[] = [];
    const type = (doc: TandemDocument, who: string, count: number) => {
      for (let i = 0; i < count; i++) {
        const token = `<${who}${typed.length}>`;
        insertToken(doc.doc.getText("t"), token, random);
        typed.push(token);
      }
    };
    type(a, "a", 5);
    type(b, "b", 5);
    await Promise.all([a.whenStored(), b.whenStored()]);

    proxy.blackhole();
    type(a, "a", 10);
    type(b, "b", 10);
    // Nothing arrives: the SDK gives the socket up on its own (no close ever came).
    await waitFor("a to notice its link is dead", () => a.status !== "connected");
    expect(a.stored).toBe(false);
    await waitFor("the server to drop a's connection", () => connections(server, "cut") === 1);
    await waitFor("a to leave b's presence", () => !b.peers().some((p) => p.id === "a"));
    await b.whenStored();

    proxy.heal();
    await Promise.all([a.whenStored(), b.whenStored()]);
    await waitFor("both to hold every token", () =>
      [a, b].every((d) => tokenProblems(d.doc.getText("t").toString(), typed).missing.length === 0),
    );
    const text = a.doc.getText("t").toString();
    expect(b.doc.getText("t").toString()).toBe(text);
    expect(tokenProblems(text, typed)).toEqual(NO_TOKEN_PROBLEMS);
    // a republished its presence with a fresh clock, so b sees it at once, not at its renewal.
    await waitFor("b to see a again", () => b.peers().some((p) => p.id === "a"));
    expect(proxy.accepted).toBeGreaterThanOrEqual(2);

    // And it is all on disk: a fresh reader after a restart.
    await pool.closeAll();
    const restarted = await server.restart();
    cleanups.push(() => restarted.dispose());
    const reader = pool.create(restarted.url).open("cut");
    await reader.whenSynced();
    expect(reader.doc.getText("t").toString()).toBe(text);
  });
});

const user = (id: string) => ({ id, name: id.toUpperCase() });

function connections(server: TestServer, name: string): number {
  return server.hocuspocus.documents.get(name)?.getConnectionsCount() ?? 0;
}
