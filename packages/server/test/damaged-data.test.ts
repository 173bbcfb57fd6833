import { openSync, readdirSync, readSync, statSync, truncateSync, writeSync } from "node:fs";
import { join } from "node:path";
import { LevelDocumentStore } from "@tandem/server";
import {
  cleanupScope,
  connectClient,
  runCli,
  spawnServer,
  startTestServer,
  type TestClient,
  type TestServer,
} from "@tandem/testkit";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";

/**
 * Damaged data: a stored update that no longer decodes, a garbled LevelDB table, a truncated
 * LevelDB log. The server serves every whole document and refuses a damaged one with a clear
 * reason rather than serving it half; `tandem check` finds the damage, `tandem repair` salvages
 * what can be read into a new data directory.
 */

const compaction = { minUpdates: 1_000_000, ratio: 0, maxUpdates: 1_000_000 };

const tandem = runCli;

/** Updates that write `text` into a document's Y.Text, a few characters at a time. */
function typing(text: string): Uint8Array[] {
  const doc = new Y.Doc();
  const updates: Uint8Array[] = [];
  doc.on("update", (u: Uint8Array) => updates.push(u));
  for (let i = 0; i < text.length; i += 4) {
    doc.getText("t").insert(i, text.slice(i, i + 4));
  }
  return updates;
}

const textOf = (client: TestClient) => client.doc.getText("t").toString();

/** What a client sees: the text, or the reason the server refused the document. */
async function open(url: string, name: string): Promise<{ text?: string; refused?: string }> {
  const client = connectClient(url, name);
  try {
    const outcome = await Promise.race([
      client.synced().then(() => ({ text: textOf(client) })),
      new Promise<{ refused: string }>((resolve) => {
        client.provider.on("authenticationFailed", ({ reason }: { reason: string }) =>
          resolve({ refused: reason }),
        );
      }),
    ]);
    return outcome;
  } finally {
    client.destroy();
  }
}

describe("damaged data", () => {
  const scope = cleanupScope();
  const dir = scope.dir;
  let server: TestServer | null = null;
  afterEach(async () => {
    await server?.dispose();
    server = null;
    await scope.cleanup();
  });

  it("refuses a document with an update that no longer decodes, serves the others, and check and repair handle it", async () => {
    const data = await dir();
    const store = await LevelDocumentStore.open({ path: data, fsync: false, compaction });
    for (const u of typing("healthy text")) await store.append("healthy", u);
    for (const u of typing("the readable part")) await store.append("damaged", u);
    // A stored entry damaged outside Tandem: it does not decode.
    await store.append("damaged", Uint8Array.of(0xff, 0xfe, 0xfd, 0xfc, 0x01, 0x02));
    await store.close();

    const lines: { msg: string; document?: string }[] = [];
    const logger = pino(
      { level: "info" },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    );
    server = await startTestServer({ data }, { logger });
    expect(await open(server.url, "healthy")).toEqual({ text: "healthy text" });
    expect(await open(server.url, "damaged")).toEqual({ refused: "document-damaged" });
    expect(lines.some((l) => l.document === "damaged" && /damaged document/.test(l.msg))).toBe(
      true,
    );
    // The server carries on: the healthy document still takes edits.
    const writer = connectClient(server.url, "healthy");
    await writer.synced();
    writer.doc.getText("t").insert(0, ">");
    await writer.stored();
    writer.destroy();
    await server.stop();
    server = null;

    const check = tandem("check", "--data", data);
    expect(check.status).toBe(1);
    expect(check.stdout).toMatch(/^ok {7}"healthy"/m);
    expect(check.stdout).toMatch(/^DAMAGED {2}"damaged": 1 log entries do not decode or apply/m);

    const salvaged = join(await dir(), "salvaged");
    const repair = tandem("repair", "--data", data, "--out", salvaged);
    expect(repair.status).toBe(1);
    expect(repair.stdout).toMatch(/PARTIAL {2}"damaged"/);
    expect(tandem("check", "--data", salvaged).status).toBe(0);
    server = await startTestServer({ data: salvaged });
    expect(await open(server.url, "damaged")).toEqual({ text: "the readable part" });
    expect(await open(server.url, "healthy")).toEqual({ text: ">healthy text" });
  });

  it("serves every document of a garbled LevelDB table whole or refuses it, never half; repair salvages the rest", async () => {
    const data = await dir();
    const texts = new Map<string, string>();
    const store = await LevelDocumentStore.open({ path: data, fsync: false, compaction });
    for (let i = 0; i < 120; i++) {
      const name = `doc-${String(i).padStart(3, "0")}`;
      const text = `${name} ${"lorem ipsum dolor sit amet ".repeat(8)}`;
      texts.set(name, text);
      for (const u of typing(text)) await store.append(name, u);
    }
    await store.close();
    // Reopening turns LevelDB's log into a table file; then garble the middle of its data.
    await (await LevelDocumentStore.open({ path: data, fsync: false, compaction })).close();
    const table = readdirSync(data).find((f) => f.endsWith(".ldb")) as string;
    expect(table).toBeDefined();
    const path = join(data, table);
    const fd = openSync(path, "r+");
    const size = statSync(path).size;
    writeSync(fd, Buffer.alloc(600, 0xa5), 0, 600, Math.floor(size / 3));
    const check = Buffer.alloc(4);
    readSync(fd, check, 0, 4, Math.floor(size / 3));
    expect(check.every((b) => b === 0xa5)).toBe(true);

    server = await startTestServer({ data });
    const whole: string[] = [];
    const refused: string[] = [];
    for (const [name, text] of texts) {
      const seen = await open(server.url, name);
      if (seen.refused !== undefined) {
        expect(seen.refused).toBe("document-damaged");
        refused.push(name);
      } else {
        // Never half a document: exactly what was written.
        expect(seen.text, name).toBe(text);
        whole.push(name);
      }
    }
    expect(refused.length).toBeGreaterThan(0);
    expect(whole.length).toBeGreaterThan(0);
    await server.stop();
    server = null;

    const report = tandem("check", "--data", data);
    expect(report.status).toBe(1);
    for (const name of whole) expect(report.stdout).toContain(`ok       "${name}"`);

    const salvaged = join(await dir(), "salvaged");
    tandem("repair", "--data", data, "--out", salvaged);
    expect(tandem("check", "--data", salvaged).status).toBe(0);
    server = await startTestServer({ data: salvaged });
    for (const name of whole)
      expect(await open(server.url, name)).toEqual({ text: texts.get(name) });
  });

  it("opens a data directory whose LevelDB log was cut off mid-record, without repair, every document whole", async () => {
    const data = await dir();
    const child = await spawnServer(["--port", "0", "--data", data]);
    const writers = Array.from({ length: 4 }, (_, i) => connectClient(child.url, `doc-${i}`));
    for (const w of writers) {
      await w.synced();
      for (let i = 0; i < 50; i++) w.doc.getText("t").insert(0, `${i},`);
      await w.stored();
    }
    child.kill("SIGKILL");
    await child.exited;
    for (const w of writers) w.destroy();
    const log = readdirSync(data).find((f) => f.endsWith(".log")) as string;
    const logPath = join(data, log);
    truncateSync(logPath, Math.floor(statSync(logPath).size * 0.6));

    expect(tandem("check", "--data", data).status).toBe(0);
    server = await startTestServer({ data });
    for (let i = 0; i < 4; i++) {
      const seen = await open(server.url, `doc-${i}`);
      expect(seen.refused).toBeUndefined();
    }
  });
});
