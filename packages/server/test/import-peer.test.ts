import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { HocuspocusProvider, HocuspocusProviderWebsocket } from "@hocuspocus/provider";
import {
  cleanupScope,
  connectClient,
  runCli,
  startTestServer,
  type TestServer,
  waitFor,
} from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";

/**
 * Migration from the other Yjs servers: the inputs are made by the real peer servers (the
 * bench's launchers: the reference y-websocket server with y-leveldb, and Hocuspocus with
 * @hocuspocus/extension-sqlite), written to by their own clients and stopped gracefully; then
 * `tandem import --from …` and a Tandem server serves the same content.
 */

const SERVERS = fileURLToPath(new URL("../../bench/src/servers/", import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm")).href;

interface Peer {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

async function startPeer(script: string, dataDir: string): Promise<Peer> {
  const child = spawn(process.execPath, ["--import", TSX, join(SERVERS, script)], {
    env: { ...process.env, PORT: "0", DATA_DIR: dataDir },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      try {
        const announced = JSON.parse(line) as { url?: string };
        if (announced.url) resolve(announced.url);
      } catch {
        // not the announcement
      }
    });
    child.once("exit", (code) => reject(new Error(`${script} exited (${code})`)));
  });
  return {
    child,
    url,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** What the documents hold: a text and a map key, as an app would write them. */
function write(doc: Y.Doc, name: string): void {
  doc.getText("t").insert(0, `text of ${name}`);
  doc.getMap("m").set("owner", name);
}

const tandem = runCli;

describe("tandem import --from", () => {
  const scope = cleanupScope();
  const dir = scope.dir;
  let server: TestServer | null = null;
  afterEach(async () => {
    await server?.dispose();
    server = null;
    await scope.cleanup();
  });

  const expectServed = async (names: string[]) => {
    for (const name of names) {
      const reader = connectClient((server as TestServer).url, name);
      await reader.synced();
      expect(reader.doc.getText("t").toString()).toBe(`text of ${name}`);
      expect(reader.doc.getMap("m").get("owner")).toBe(name);
      reader.destroy();
    }
  };

  it("y-leveldb: the y-websocket server's documents", async () => {
    const peerData = await dir();
    const peer = await startPeer("y-websocket.ts", peerData);
    scope.defer(() => peer.stop());
    const names = ["alpha", "beta", "notes/2026"];
    for (const name of names) {
      const doc = new Y.Doc();
      const provider = new WebsocketProvider(peer.url, name, doc, {
        WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
        disableBc: true,
      });
      await waitFor(`${name} to sync with the y-websocket server`, () => provider.synced);
      write(doc, name);
      // y-websocket has no acknowledgement: wait until the server echoes nothing new, i.e. a
      // second client sees the content.
      const check = new Y.Doc();
      const checker = new WebsocketProvider(peer.url, name, check, {
        WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
        disableBc: true,
      });
      await waitFor(
        "the content to reach the server",
        () => check.getMap("m").get("owner") === name,
      );
      checker.destroy();
      provider.destroy();
    }
    await peer.stop();

    const data = join(await dir(), "tandem");
    const run = tandem("import", "--from", "y-leveldb", peerData, "--data", data);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/3 documents imported from y-leveldb/);
    server = await startTestServer({ data });
    await expectServed(names);
  });

  it("hocuspocus-sqlite: a Hocuspocus server's SQLite database", async () => {
    const peerData = await dir();
    const peer = await startPeer("hocuspocus-sqlite.ts", peerData);
    scope.defer(() => peer.stop());
    const names = ["one", "two"];
    for (const name of names) {
      const doc = new Y.Doc();
      const socket = new HocuspocusProviderWebsocket({
        url: peer.url,
        WebSocketPolyfill: WebSocket,
      });
      const provider = new HocuspocusProvider({ websocketProvider: socket, name, document: doc });
      provider.attach();
      await waitFor(`${name} to sync`, () => provider.isSynced);
      write(doc, name);
      await waitFor(`${name} acknowledged`, () => !provider.hasUnsyncedChanges);
      provider.destroy();
      socket.destroy();
    }
    // A graceful stop runs Hocuspocus's pending debounced stores into SQLite.
    await peer.stop();

    const data = join(await dir(), "tandem");
    const run = tandem(
      "import",
      "--from",
      "hocuspocus-sqlite",
      join(peerData, "db.sqlite"),
      "--data",
      data,
    );
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    server = await startTestServer({ data });
    await expectServed(names);
  });

  it("says what is wrong with bad usage", () => {
    const bad = tandem("import", "--from", "mongo", "/nowhere");
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe(
      'tandem: invalid --from: "mongo" (accepted: y-leveldb, hocuspocus-sqlite)',
    );
    const missing = tandem("import", "--from", "y-leveldb", "/nowhere/at/all");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/does not exist/);
  });
});
