import { createReadStream, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  connectClient,
  startTestServer,
  type TestClient,
  tempDir,
  textOfUpdate,
} from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { readBackup } from "../src/backup/format.ts";
import { backupCommand, restoreCommand } from "../src/maintenance/backup.ts";
import { lines, tandem } from "./cli-helpers.ts";

const ADMIN = "admin-token-of-at-least-32-characters!!";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const dir = async () => {
  const made = await tempDir();
  cleanups.push(made.remove);
  return made.path;
};
const start = async (config: Parameters<typeof startTestServer>[0]) => {
  const server = await startTestServer(config);
  cleanups.push(() => server.stop());
  return server;
};

/** Every document of a backup file, as a map from name to update. */
async function backupContents(file: string): Promise<Map<string, Uint8Array>> {
  const documents = new Map<string, Uint8Array>();
  for await (const { name, update } of readBackup(createReadStream(file))) {
    documents.set(name, update);
  }
  return documents;
}

/** Writes marks "<writer>:<i>;" one after another, each once the previous was acknowledged. */
function startWriter(client: TestClient, id: string) {
  const acknowledged: number[] = [];
  let running = true;
  const done = (async () => {
    await client.synced();
    for (let i = 0; running; i++) {
      const text = client.doc.getText("t");
      text.insert(text.length, `${id}:${i};`);
      await client.stored();
      acknowledged.push(i);
    }
  })();
  return {
    acknowledged,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

describe("tandem backup and restore", () => {
  it("backs up a running server under write load: every update acknowledged before it started is in it, and the restored server serves the backup", async () => {
    const data = await dir();
    const server = await start({ data, adminToken: [ADMIN] });
    const clients: TestClient[] = [];
    cleanups.push(async () => {
      for (const client of clients) client.destroy();
    });
    const writers = ["a", "b", "c", "d"].map((id) => {
      const client = connectClient(server.url, `doc-${id}`);
      clients.push(client);
      return { id, ...startWriter(client, id) };
    });
    // A quiet document, and load long enough that the backup overlaps it.
    const quiet = connectClient(server.url, "quiet");
    clients.push(quiet);
    await quiet.synced();
    quiet.doc.getText("t").insert(0, "still here");
    await quiet.stored();
    while (writers.some((writer) => writer.acknowledged.length < 20)) {
      await new Promise((r) => setTimeout(r, 20));
    }

    const before = new Map(writers.map((w) => [w.id, w.acknowledged.length]));
    const file = join(await dir(), "tandem.backup");
    const backup = await tandem("backup", file, "--url", server.httpUrl, "--admin-token", ADMIN);
    const after = new Map(writers.map((w) => [w.id, w.acknowledged.length]));
    await Promise.all(writers.map((writer) => writer.stop()));
    expect(backup.stderr).toBe("");
    expect(backup.status).toBe(0);
    expect(backup.stdout).toMatch(/^5 documents backed up to /);

    const contents = await backupContents(file);
    expect([...contents.keys()]).toEqual(["doc-a", "doc-b", "doc-c", "doc-d", "quiet"]);
    expect(textOfUpdate(contents.get("quiet") as Uint8Array)).toBe("still here");
    for (const { id } of writers) {
      const marks = textOfUpdate(contents.get(`doc-${id}`) as Uint8Array)
        .split(";")
        .filter(Boolean);
      // A consistent snapshot: marks 0..k in order, nothing missing in between...
      expect(marks).toEqual(marks.map((_, i) => `${id}:${i}`));
      // ...with every mark acknowledged before the backup started.
      expect(marks.length).toBeGreaterThanOrEqual(before.get(id) as number);
      // and nothing made after it ended.
      expect(marks.length).toBeLessThanOrEqual((after.get(id) as number) + 1);
    }

    const restored = join(await dir(), "restored");
    const report = lines();
    expect(await restoreCommand([file, "--data", restored], {}, report.out)).toBe(0);
    expect(report.text()).toBe(`5 documents restored from ${file} into ${restored}`);
    const second = await start({ data: restored, adminToken: [ADMIN] });
    for (const [name, update] of contents) {
      const served = await fetch(`${second.httpUrl}/api/documents/${name}?format=yjs`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      expect(served.status).toBe(200);
      const doc = new Y.Doc();
      Y.applyUpdate(doc, new Uint8Array(await served.arrayBuffer()));
      expect(doc.getText("t").toString()).toBe(textOfUpdate(update));
      expect(Y.encodeStateVector(doc)).toEqual(Y.encodeStateVector(toDoc(update)));
    }
  });

  it("backs up a stopped data directory and restores it only into an empty one", async () => {
    const data = await dir();
    const server = await start({ data });
    const client = connectClient(server.url, "solo");
    await client.synced();
    client.doc.getText("t").insert(0, "offline backup");
    await client.stored();
    client.destroy();
    await server.stop();

    const file = join(await dir(), "stopped.backup");
    const report = lines();
    expect(await backupCommand([file, "--data", data], {}, report.out)).toBe(0);
    expect(report.text()).toMatch(/^1 documents backed up to /);
    await expect(restoreCommand([file, "--data", data], {}, lines().out)).rejects.toThrow(
      /is not empty/,
    );
    const restored = await dir();
    expect(await restoreCommand([file, "--data", restored], {}, lines().out)).toBe(0);
    const second = await start({ data: restored });
    expect(textOfUpdate(await second.store.read("solo"))).toBe("offline backup");
  });

  it("refuses a cut-off or damaged backup before writing anything, and a backup the server refuses leaves no file", async () => {
    const data = await dir();
    const server = await start({ data, adminToken: [ADMIN] });
    const client = connectClient(server.url, "doc");
    cleanups.push(async () => client.destroy());
    await client.synced();
    client.doc.getText("t").insert(0, "x".repeat(1000));
    await client.stored();
    const work = await dir();
    const file = join(work, "ok.backup");
    expect(
      await backupCommand(
        [file, "--url", server.httpUrl],
        { TANDEM_ADMIN_TOKEN: ADMIN },
        lines().out,
      ),
    ).toBe(0);
    const bytes = readFileSync(file);

    const cut = join(work, "cut.backup");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 10));
    await expect(
      restoreCommand([cut, "--data", join(work, "r1")], {}, lines().out),
    ).rejects.toThrow(/cut off/);
    const damaged = join(work, "damaged.backup");
    const flipped = Buffer.from(bytes);
    flipped[600] = (flipped[600] as number) ^ 0xff;
    writeFileSync(damaged, flipped);
    await expect(
      restoreCommand([damaged, "--data", join(work, "r2")], {}, lines().out),
    ).rejects.toThrow(/checksum/);
    writeFileSync(join(work, "other.backup"), "not a backup");
    await expect(
      restoreCommand([join(work, "other.backup"), "--data", join(work, "r3")], {}, lines().out),
    ).rejects.toThrow(/not a Tandem backup/);

    const refused = join(work, "refused.backup");
    await expect(
      backupCommand(
        [refused, "--url", server.httpUrl, "--admin-token", `${ADMIN}?`],
        {},
        lines().out,
      ),
    ).rejects.toThrow(/answered 401/);
    expect(() => readFileSync(refused)).toThrow();
    expect(() => readFileSync(`${refused}.partial`)).toThrow();
  });
});

function toDoc(update: Uint8Array): Y.Doc {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, update);
  return doc;
}
