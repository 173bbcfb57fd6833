import type { Extension, onLoadDocumentPayload } from "@hocuspocus/server";
import {
  connectClient,
  startTestServer,
  type TestClient,
  type TestServer,
  textOfUpdate,
  waitFor,
} from "@tandem/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { withoutUpdateEvents } from "../src/store/merge.ts";

/**
 * An embedder's extension that listens for a document's updates from before Tandem loads it (a
 * priority above Durability's 1,000 runs its onLoadDocument first): what the listener is told.
 */
class UpdateListener implements Extension {
  extensionName = "test-update-listener";
  priority = 2_000;
  /** The text each update inserts. */
  updates: string[] = [];

  async onLoadDocument({ document }: onLoadDocumentPayload): Promise<void> {
    document.on("update", (update: Uint8Array) => this.updates.push(insertedText(update)));
  }
}

function insertedText(update: Uint8Array): string {
  return Y.decodeUpdate(update)
    .structs.map((s) =>
      s instanceof Y.Item && s.content instanceof Y.ContentString ? s.content.str : "",
    )
    .join("");
}

describe("loading a stored document (store/merge.ts)", () => {
  let server: TestServer;
  const listener = new UpdateListener();
  const clients: TestClient[] = [];

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await server?.dispose();
  });

  it("fires no update event for what the store already holds; later edits reach listeners and peers", async () => {
    const writer = connectClient(server.url, "loaded");
    clients.push(writer);
    await writer.synced();
    writer.doc.getText("t").insert(0, "stored before the restart");
    await writer.stored();
    writer.destroy();

    server = await server.restart({ extensions: [listener] });
    const [a, b] = [connectClient(server.url, "loaded"), connectClient(server.url, "loaded")];
    clients.push(a, b);
    await Promise.all([a.synced(), b.synced()]);
    expect(a.doc.getText("t").toString()).toBe("stored before the restart");
    expect(b.doc.getText("t").toString()).toBe("stored before the restart");
    // The load went by without the listener: it holds nothing new.
    expect(listener.updates).toEqual([]);

    // Hocuspocus's own listener (which sends updates to peers) and the embedder's are back.
    a.doc.getText("t").insert(0, "> ");
    await a.stored();
    await waitFor("the peer gets the edit", () =>
      b.doc.getText("t").toString() === "> stored before the restart" ? true : undefined,
    );
    expect(listener.updates).toEqual(["> "]);
    expect(textOfUpdate(await server.store.read("loaded"), "t")).toBe(
      "> stored before the restart",
    );
  });

  it("withoutUpdateEvents puts every listener back in its order, also when the change throws", () => {
    const doc = new Y.Doc();
    const calls: string[] = [];
    doc.on("update", () => calls.push("first"));
    doc.on("updateV2", () => calls.push("v2"));
    doc.on("update", () => calls.push("second"));

    withoutUpdateEvents(doc, () => doc.getText("t").insert(0, "quiet"));
    expect(calls).toEqual([]);
    expect(() =>
      withoutUpdateEvents(doc, () => {
        doc.getText("t").insert(0, "still quiet ");
        throw new Error("the change failed");
      }),
    ).toThrow("the change failed");
    expect(calls).toEqual([]);

    doc.getText("t").insert(0, "heard ");
    expect(calls).toEqual(["first", "second", "v2"]);
    expect(doc.getText("t").toString()).toBe("heard still quiet quiet");
  });
});
