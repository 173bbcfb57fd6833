import { createServer } from "node:net";
import { waitFor } from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { clientPool, serverPool } from "./helpers.ts";

/**
 * `url` as a list: the instances of one cluster, for setups without a load balancer. Here the
 * "instances" are independent servers, which makes it visible which one holds the edits.
 */

/** A URL on which nothing listens: a port that was free a moment ago. */
async function deadUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `ws://127.0.0.1:${port}`;
}

async function storedText(server: { store: { read(n: string): Promise<Uint8Array | null> } }) {
  const doc = new Y.Doc();
  const update = await server.store.read("notes");
  if (update) Y.applyUpdate(doc, update);
  return doc.getText("t").toString();
}

describe("several URLs", () => {
  const pool = clientPool();
  const servers = serverPool();

  afterEach(async () => {
    await pool.closeAll();
    await servers.disposeAll();
  });

  it("moves on to the next URL when the first one is down", async () => {
    const live = await servers.start();
    // A backoff far longer than the test's timeout: only moving on at once can pass.
    const client = pool.create("", {
      url: [await deadUrl(), live.url],
      reconnect: { minDelayMs: 60_000, maxDelayMs: 60_000, connectTimeoutMs: 5_000 },
    });
    expect(client.urls).toHaveLength(2);
    const notes = client.open("notes");
    await notes.whenSynced();
    notes.doc.getText("t").insert(0, "on the second URL");
    await notes.whenStored();
    expect(await storedText(live)).toBe("on the second URL");
  });

  it("moves to another instance when its instance goes away, and the edits made meanwhile arrive there", async () => {
    const first = await servers.start();
    const second = await servers.start();
    const client = pool.create("", {
      url: [first.url, second.url],
      reconnect: { minDelayMs: 60_000, maxDelayMs: 60_000, connectTimeoutMs: 5_000 },
    });
    const notes = client.open("notes");
    const text = notes.doc.getText("t");
    text.insert(0, "one ");
    await notes.whenStored();
    expect(await storedText(first)).toBe("one ");

    await first.stop();
    text.insert(text.length, "two");
    await waitFor("the client to reach the second instance", () => notes.status === "connected");
    // Stored means every change is on the disk of the instance that acknowledged it: "one " on
    // the first. These two instances share no storage (a real deployment's do), so the second
    // gets "one " only from the client's sync, which `stored` does not wait for.
    await notes.whenStored();
    await waitFor("the second instance to store every edit", async () => {
      return (await storedText(second)) === "one two";
    });
  });

  it("refuses an empty list with a clear error", () => {
    expect(() => pool.create("", { url: [] })).toThrow(/url.*non-empty array/);
    expect(() => pool.create("", { url: ["ws://ok", "http://not-ws"] })).toThrow(/url/);
  });
});
