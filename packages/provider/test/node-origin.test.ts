import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { clientPool, serverPool } from "./helpers.ts";

/**
 * A Node.js service using the SDK against a server that lists the web origins it allows: Node
 * sends no Origin header (browsers always do), and the origin check is there to stop other web
 * pages, not programs. It must work without any trick.
 */
describe("the SDK in Node.js against --allowed-origin", () => {
  const pool = clientPool();
  const servers = serverPool();
  afterEach(async () => {
    await pool.closeAll();
    await servers.disposeAll();
  });

  it("syncs and stores", async () => {
    const server = await servers.start({ allowedOrigin: ["https://app.example.com"] });
    const notes = pool.create(server.url).open("notes");
    await notes.whenSynced();
    notes.doc.getText("t").insert(0, "from a Node.js service");
    await notes.whenStored();
    const stored = new Y.Doc();
    Y.applyUpdate(stored, (await server.store.read("notes")) as Uint8Array);
    expect(stored.getText("t").toString()).toBe("from a Node.js service");
  });
});
