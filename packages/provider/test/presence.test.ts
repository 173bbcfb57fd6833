import { startTestServer, type TestServer, waitFor } from "@tandem/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { colorFor, type Peer, type TandemClient } from "../src/index.ts";
import { clientPool, record } from "./helpers.ts";

describe("presence", () => {
  const pool = clientPool();
  let server: TestServer;
  /** Short typing timeout and no cursor throttle, so each step shows at once. */
  const quick = { presence: { typingTimeoutMs: 100, cursorThrottleMs: 0 } };
  const client = (): TandemClient => pool.create(server.url, quick);

  beforeEach(async () => {
    server = await startTestServer();
  });

  afterEach(async () => {
    await pool.closeAll();
    await server.dispose();
  });

  it("peers() follows users as they join, rename, type, move and leave", async () => {
    const alice = client().open("room", { user: { id: "alice", name: "Alice", color: "#ff0000" } });
    await alice.whenSynced();
    expect(alice.peers()).toEqual([]);
    const updates = record<Peer[]>((l) => alice.on("peers", l));

    const bob = client().open("room", { user: { id: "bob", name: "Bob" } });
    await waitFor("alice to see bob", () => alice.peers().length === 1);
    expect(alice.peers()[0]).toMatchObject({
      id: "bob",
      name: "Bob",
      color: colorFor("bob"),
      typing: false,
      cursor: null,
      clientId: bob.doc.clientID,
    });
    await waitFor("bob to see alice", () => bob.peers()[0]?.color === "#ff0000");

    bob.setUser({ id: "bob", name: "Robert" });
    await waitFor("the new name", () => alice.peers()[0]?.name === "Robert");

    bob.setTyping(true);
    await waitFor("bob to be typing", () => alice.peers()[0]?.typing === true);
    // Nobody calls setTyping(false): it clears itself after the typing timeout.
    await waitFor("bob to stop typing", () => alice.peers()[0]?.typing === false);

    const before = alice.peers()[0]?.lastActive ?? 0;
    bob.setCursor({ anchor: 3, head: 5 });
    await waitFor("bob's cursor", () => alice.peers()[0]?.cursor !== null);
    expect(alice.peers()[0]?.cursor).toEqual({ anchor: 3, head: 5 });
    expect(alice.peers()[0]?.lastActive).toBeGreaterThanOrEqual(before);

    await bob.close();
    await waitFor("bob to leave", () => alice.peers().length === 0);
    // Every change above reached listeners, ending with the empty room.
    expect(updates.map((peers) => peers.map((p) => p.name))).toEqual([
      ["Bob"],
      ...updates.slice(1, -1).map(() => ["Robert"]),
      [],
    ]);
    expect(updates.some((peers) => peers[0]?.typing === true)).toBe(true);
  });

  it("lists each user once, whatever the number of tabs, and never the local user", async () => {
    const alice = client().open("tabs", { user: { id: "alice", name: "Alice" } });
    const aliceTab2 = client().open("tabs", { user: { id: "alice", name: "Alice" } });
    const bob = client().open("tabs", { user: { id: "bob", name: "Bob" } });
    const bobTab2 = client().open("tabs", { user: { id: "bob", name: "Bob" } });
    const everyone = [alice, aliceTab2, bob, bobTab2];
    await waitFor("every tab to see every other", () =>
      everyone.every((tab) => tab.awareness.getStates().size === 4),
    );
    expect(alice.peers().map((p) => p.id)).toEqual(["bob"]);
    expect(aliceTab2.peers().map((p) => p.id)).toEqual(["bob"]);
    expect(bob.peers().map((p) => p.id)).toEqual(["alice"]);

    // The entry comes from the tab used last.
    bobTab2.setCursor({ anchor: 1, head: 1 });
    await waitFor(
      "alice to follow bob's second tab",
      () => alice.peers()[0]?.clientId === bobTab2.doc.clientID,
    );
    expect(alice.peers()).toHaveLength(1);

    // One tab of bob leaves: bob is still there.
    await bobTab2.close();
    await waitFor(
      "bob's other tab to be the entry",
      () => alice.peers()[0]?.clientId === bob.doc.clientID,
    );
    expect(alice.peers().map((p) => p.id)).toEqual(["bob"]);
  });

  it("throttles cursor updates: the first at once, the last always, none in between", async () => {
    const sender = pool
      .create(server.url, { presence: { cursorThrottleMs: 200 } })
      .open("cursor", { user: { id: "fast", name: "Fast Typist" } });
    const watcher = client().open("cursor", { user: { id: "w", name: "Watcher" } });
    await Promise.all([sender.whenSynced(), watcher.whenSynced()]);

    const published: unknown[] = [];
    sender.awareness.on("change", () => {
      published.push(sender.awareness.getLocalState()?.cursor);
    });
    for (let i = 0; i < 50; i++) sender.setCursor({ anchor: i, head: i });
    expect(published).toEqual([{ anchor: 0, head: 0 }]);

    await waitFor("the trailing update", () => published.length === 2);
    expect(published[1]).toEqual({ anchor: 49, head: 49 });
    await waitFor("the watcher to see the last position", () => {
      const cursor = watcher.peers()[0]?.cursor as { anchor: number } | undefined;
      return cursor?.anchor === 49;
    });
  });

  it("explains what is missing when presence is used without a user", async () => {
    const doc = client().open("anonymous");
    expect(() => doc.setCursor({ anchor: 0, head: 0 })).toThrow(/needs a user/);
    expect(() => doc.setTyping(true)).toThrow(/needs a user/);
    expect(() => doc.setUser({ id: "", name: "Nobody" })).toThrow(
      /invalid user\.id: "" \(accepted: a non-empty string\)/,
    );
    doc.setUser({ id: "late", name: "Late Arrival" });
    doc.setTyping(true);
    expect(doc.awareness.getLocalState()).toMatchObject({
      user: { id: "late", name: "Late Arrival", color: colorFor("late") },
      typing: true,
      cursor: null,
    });
  });

  it("keeps what editor bindings put in the awareness state", async () => {
    const doc = client().open("editor", { user: { id: "ed", name: "Ed" } });
    // y-codemirror and y-prosemirror publish the selection as `cursor`, and their own fields.
    doc.awareness.setLocalStateField("cursor", { anchor: "rel-a", head: "rel-b" });
    doc.awareness.setLocalStateField("selectionColor", "#00ff0033");
    doc.setTyping(true);
    doc.setUser({ id: "ed", name: "Edward" });
    expect(doc.awareness.getLocalState()).toMatchObject({
      user: { id: "ed", name: "Edward" },
      typing: true,
      cursor: { anchor: "rel-a", head: "rel-b" },
      selectionColor: "#00ff0033",
    });
  });
});
