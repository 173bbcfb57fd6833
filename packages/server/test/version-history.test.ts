import { join } from "node:path";
import { type Author, LevelDocumentStore, mintToken, type VersionStore } from "@tandem/server";
import {
  cleanupScope,
  connectClient,
  runCli,
  startTestServer,
  type TestClient,
  type TestServer,
  textOfUpdate,
} from "@tandem/testkit";
import { ClassicLevel } from "classic-level";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";

/**
 * Version history around the LevelDB store: the maintenance commands on a data directory that
 * has versions (check, backup, restore), a damaged history, and the authors the server stores
 * with its clients' updates. The store contract itself is in version-store.test.ts.
 */

const compaction = { minUpdates: 1_000_000, ratio: 0, maxUpdates: 1_000_000 };
const ALICE: Author = { id: "alice", name: "Alice" };
const BOB: Author = { id: "bob", name: "Bob" };

/** Updates that append `text` to a Y.Text, one character each, as typing would. */
function typing(text: string, clientId: number, base?: Y.Doc): Uint8Array[] {
  const doc = base ?? new Y.Doc();
  doc.clientID = clientId;
  const updates: Uint8Array[] = [];
  const take = (u: Uint8Array) => updates.push(u);
  doc.on("update", take);
  const ytext = doc.getText("t");
  for (const ch of text) ytext.insert(ytext.length, ch);
  doc.off("update", take);
  return updates;
}

function versionsOf(store: { versions?: VersionStore }): VersionStore {
  if (!store.versions) throw new Error("the store has no version history");
  return store.versions;
}

describe("version history in a LevelDB data directory", () => {
  const scope = cleanupScope();
  afterEach(() => scope.cleanup());

  /** A data directory with two documents, each with versions, pending authors and a log tail. */
  async function directoryWithVersions() {
    const data = await scope.dir();
    const store = await LevelDocumentStore.open({ path: data, fsync: false, compaction });
    const versions = versionsOf(store);
    for (const name of ["doc", "other"]) {
      const writer = new Y.Doc();
      for (const u of typing("first ", 1, writer)) await store.append(name, u, ALICE);
      await versions.record(name, { kind: "named", label: "one" });
      for (const u of typing("second ", 1, writer)) await store.append(name, u, BOB);
      await versions.record(name, { kind: "auto" });
      for (const u of typing("third", 1, writer)) await store.append(name, u, ALICE);
    }
    const expected = textOfUpdate(await store.read("doc"));
    await store.close();
    return { data, expected };
  }

  it("check passes, backup and restore carry every document whole; version keys are not content", async () => {
    const { data, expected } = await directoryWithVersions();
    expect(expected).toMatch(/third$/);

    const check = runCli("check", "--data", data);
    expect(check.stdout).toMatch(/^ok {7}"doc" \(5 log entries, 2 versions, \d+ bytes\)$/m);
    expect(check.stdout).toMatch(/all whole/);
    expect(check.status).toBe(0);

    // The store's snapshot (what a backup holds) has each document once, as it is now.
    const store = await LevelDocumentStore.open({ path: data, fsync: false, compaction });
    const snapshot: { name: string; text: string }[] = [];
    for await (const { name, update } of store.snapshot()) {
      snapshot.push({ name, text: textOfUpdate(update) });
    }
    expect(snapshot).toEqual([
      { name: "doc", text: expected },
      { name: "other", text: expected },
    ]);
    await store.close();

    const file = join(await scope.dir(), "all.backup");
    expect(runCli("backup", file, "--data", data).status).toBe(0);
    const restoredDir = join(await scope.dir(), "restored");
    const restore = runCli("restore", file, "--data", restoredDir);
    expect(restore.stderr).toBe("");
    expect(restore.status).toBe(0);
    const restored = await LevelDocumentStore.open({ path: restoredDir, fsync: false, compaction });
    scope.defer(() => restored.close());
    expect(textOfUpdate(await restored.read("doc"))).toBe(expected);
    expect(textOfUpdate(await restored.read("other"))).toBe(expected);
  });

  it("a damaged version record fails that document's history only; check reports it, repair keeps the intact versions", async () => {
    const { data, expected } = await directoryWithVersions();
    let id = "";
    let intact = "";
    {
      const store = await LevelDocumentStore.open({ path: data, fsync: false, compaction });
      [intact, id] = (await versionsOf(store).list("doc")).map((v) => v.id) as [string, string];
      await store.close();
    }
    const raw = new ClassicLevel<string, Uint8Array>(data, {
      keyEncoding: "utf8",
      valueEncoding: "view",
    });
    await raw.put(`d\0doc\0v${id}`, Uint8Array.of(7, 7, 7));
    await raw.close();

    const store = await LevelDocumentStore.open({ path: data, fsync: false, compaction });
    scope.defer(() => store.close());
    const versions = versionsOf(store);
    await expect(versions.list("doc")).rejects.toMatchObject({
      name: "DamagedDocumentError",
      document: "doc",
    });
    expect((await versions.list("other")).map((v) => v.label ?? v.kind)).toEqual(["auto", "one"]);
    // The document itself is whole: it loads and reads as before.
    expect(textOfUpdate(await store.read("doc"))).toBe(expected);
    await store.close();

    const check = runCli("check", "--data", data);
    expect(check.stdout).toMatch(/^DAMAGED {2}"doc": 1 version records do not decode$/m);
    expect(check.stdout).toMatch(/^ok {7}"other" /m);
    expect(check.status).toBe(1);

    // Repair keeps every intact version, as it was, and the pending authors.
    const out = join(await scope.dir(), "repaired");
    const repair = runCli("repair", "--data", data, "--out", out);
    expect(repair.stdout).toMatch(/^kept {5}"other" with 2 versions$/m);
    expect(repair.stdout).toMatch(/^PARTIAL {2}"doc": .*1 version records do not decode/m);
    const repaired = await LevelDocumentStore.open({ path: out, fsync: false, compaction });
    scope.defer(() => repaired.close());
    const salvaged = versionsOf(repaired);
    const [kept] = await salvaged.list("doc");
    expect(kept).toMatchObject({ id: intact, kind: "auto", authors: [BOB] });
    expect(textOfUpdate((await salvaged.read("doc", intact))?.update)).toBe("first second ");
    expect((await salvaged.list("other")).map((v) => v.label ?? v.kind)).toEqual(["auto", "one"]);
    expect(await salvaged.pendingAuthors("other")).toEqual([ALICE]);
    expect(textOfUpdate(await repaired.read("other"))).toBe(expected);
    // The salvaged history covers none of the new log: the next version is recorded.
    const next = await salvaged.record("other", { kind: "auto" });
    expect(next?.authors).toEqual([ALICE]);
    expect(textOfUpdate((await salvaged.read("other", next?.id ?? ""))?.update)).toBe(expected);
  });
});

describe("authors of the updates clients send", () => {
  const SECRET = "correct horse battery staple, 32+ characters";
  let server: TestServer | null = null;
  const clients: TestClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await server?.dispose();
    server = null;
  });

  async function edit(url: string, name: string, text: string, token?: string): Promise<void> {
    const client = connectClient(url, name, token === undefined ? {} : { token });
    clients.push(client);
    await client.synced();
    const ytext = client.doc.getText("t");
    ytext.insert(ytext.length, text);
    await client.stored();
  }

  it("are the token's user under --auth jwt, stored with each update", async () => {
    server = await startTestServer({ auth: "jwt", jwtSecret: SECRET });
    const token = (sub: string) =>
      mintToken({
        secret: SECRET,
        sub,
        name: sub.toUpperCase(),
        docs: { "*": "write" },
        ttlSeconds: 300,
      });
    await edit(server.url, "doc", "hello ", await token("alice"));
    await edit(server.url, "doc", "world", await token("bob"));
    await edit(server.url, "doc", "!", await token("alice"));
    const versions = versionsOf(server.store);
    expect(await versions.pendingAuthors("doc")).toEqual([
      { id: "alice", name: "ALICE" },
      { id: "bob", name: "BOB" },
    ]);
    const version = await versions.record("doc", { kind: "auto" });
    expect(version?.authors.map((a) => a.id)).toEqual(["alice", "bob"]);
    expect(textOfUpdate((await versions.read("doc", version?.id ?? ""))?.update)).toBe(
      "hello world!",
    );
  });

  it("are unknown under --auth none (until a resolver tells them): updates are stored without", async () => {
    server = await startTestServer({ auth: "none" });
    await edit(server.url, "doc", "anonymous");
    const versions = versionsOf(server.store);
    expect(await versions.pendingAuthors("doc")).toEqual([]);
    const version = await versions.record("doc", { kind: "auto" });
    expect(version?.authors).toEqual([]);
    expect(textOfUpdate((await versions.read("doc", version?.id ?? ""))?.update)).toBe("anonymous");
  });
});
