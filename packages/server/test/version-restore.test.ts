import {
  connectClient,
  startTestServer,
  type TestClient,
  type TestServer,
  waitFor,
} from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import {
  apiClient,
  markdownOf,
  paragraphText,
  type VersionJSON,
  write,
} from "./versions-helpers.ts";

const HOUR = 3_600_000;

let server: TestServer;
const clients: TestClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await server?.dispose();
});

const api = apiClient(() => server.httpUrl);

async function connect(name: string) {
  const client = connectClient(server.url, name);
  clients.push(client);
  await client.synced();
  return client;
}

describe("restoring a version", () => {
  it("converges every client to the version plus what B types meanwhile, and can be undone", async () => {
    server = await startTestServer({ versionIdle: HOUR, versionInterval: HOUR });
    const a = await connect("story");
    const b = await connect("story");
    write(a.doc, "Title v1\n\nNotes");
    await a.stored();
    const v1 = await api.name("story", "v1");
    write(a.doc, "Title v2, rewritten\n\nNotes\n\nAn added paragraph");
    await a.stored();
    await waitFor("B to see v2", () => markdownOf(b.doc) === markdownOf(a.doc));

    // B types digits at the end of "Notes" all through the restore, and a while after it.
    let typed = "";
    const type = () => {
      const digit = String(typed.length % 10);
      const notes = paragraphText(b.doc, 1);
      notes.insert(notes.length, digit);
      typed += digit;
    };
    const typing = setInterval(type, 5);
    let typedAfter = 0;
    let answer: Awaited<ReturnType<typeof api.restore>>;
    try {
      await waitFor("B to have typed a little", () => typed.length >= 5);
      answer = await api.restore("story", v1.id);
      expect(answer.restored).toEqual(v1);
      expect(answer.before).toMatchObject({ kind: "restore", label: "Before restoring v1" });
      const atAnswer = typed.length;
      await waitFor("B to type more after the restore", () => typed.length >= atAnswer + 5);
      typedAfter = typed.length - atAnswer;
    } finally {
      clearInterval(typing);
    }
    await b.stored();
    await waitFor("A and B to converge", () => markdownOf(a.doc) === markdownOf(b.doc));
    // The version's content, with the digits B typed that the restore did not see yet: what the
    // server had already is restored away, everything B typed later stays (a suffix of it all).
    const [title, notes, ...rest] = markdownOf(a.doc).split("\n\n");
    expect(title).toBe("Title v1");
    expect(rest).toEqual([]);
    expect(notes?.startsWith("Notes")).toBe(true);
    const kept = (notes as string).slice("Notes".length);
    expect(typed.endsWith(kept)).toBe(true);
    expect(kept.length).toBeGreaterThanOrEqual(typedAfter);
    // Neither client reconnected: they converged over their open connections.
    expect(a.closes).toEqual([]);
    expect(b.closes).toEqual([]);

    // The state right before the restore is a version; restoring it undoes the restore.
    const { versions } = await api.list("story");
    const before = versions.find((v) => v.id === answer.before.id) as VersionJSON;
    expect(before).toEqual(answer.before);
    const beforeText = await api.preview("story", before.id, "markdown");
    expect(beforeText.startsWith("Title v2, rewritten\n\nNotes")).toBe(true);
    expect(beforeText.endsWith("An added paragraph")).toBe(true);
    const undo = await api.restore("story", before.id);
    expect(undo.before.label).toBe(`Before restoring ${before.label}`);
    const expected = await api.preview("story", before.id, "markdown");
    await waitFor("A to show the state before the restore", () => markdownOf(a.doc) === expected);
    await waitFor("B to show the state before the restore", () => markdownOf(b.doc) === expected);
  });

  it("a restore is durable: it survives a restart, and so do its versions", async () => {
    server = await startTestServer({ versionIdle: HOUR, versionInterval: HOUR });
    const a = await connect("durable");
    write(a.doc, "Original");
    await a.stored();
    const original = await api.name("durable", "Original");
    write(a.doc, "Replaced");
    await a.stored();
    await api.restore("durable", original.id);
    await waitFor("A to show the restored text", () => markdownOf(a.doc) === "Original");
    a.destroy();
    server = await server.restart();
    const fresh = await connect("durable");
    expect(markdownOf(fresh.doc)).toBe("Original");
    const { versions } = await api.list("durable");
    const restoreVersion = versions.find((v) => v.kind === "restore") as VersionJSON;
    expect(restoreVersion.label).toBe("Before restoring Original");
    expect(await api.preview("durable", restoreVersion.id, "text")).toBe("Replaced");
    expect(versions.some((v) => v.id === original.id)).toBe(true);
  });

  it("restores a document nobody has open, and changes nothing when it already is the version", async () => {
    server = await startTestServer({ versionIdle: HOUR, versionInterval: HOUR });
    const a = await connect("closed");
    write(a.doc, "Kept as is");
    await a.stored();
    const version = await api.name("closed", "Same");
    a.destroy();
    await waitFor("the document to unload", () => !server.hocuspocus.documents.has("closed"));
    const answer = await api.restore("closed", version.id);
    expect(answer.before.kind).toBe("restore");
    const reader = await connect("closed");
    expect(markdownOf(reader.doc)).toBe("Kept as is");
  });
});
