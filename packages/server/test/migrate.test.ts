import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  connectClient,
  type PostgresEngine,
  type RedisEngine,
  startPostgres,
  startRedis,
  startTestServer,
  type TestServer,
  tempDir,
  waitFor,
} from "@tandem/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as Y from "yjs";

/**
 * `tandem migrate`, run as the real CLI, between a real LevelDB server's data directory and a
 * real Redis + PostgreSQL cluster store: what a fresh client then reads must be identical.
 */

const CLI = fileURLToPath(new URL("../bin/tandem.mjs", import.meta.url));

/** Runs the CLI without blocking this process (a server of the test may be serving meanwhile). */
function tandem(
  ...args: string[]
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once("error", reject);
    child.once("close", (status) => resolveRun({ status, stdout, stderr }));
  });
}

let redis: RedisEngine;
let postgres: PostgresEngine;
let databases = 0;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.stop(), postgres?.stop()]);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  redis.cli("FLUSHALL");
});

const dir = async () => {
  const made = await tempDir();
  cleanups.push(made.remove);
  return made.path;
};

/** A real server; stop() may be called by the test, the rest happens after it. */
async function server(config: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const started = await startTestServer(config);
  let stopped: Promise<void> | null = null;
  const stop = () => {
    stopped ??= started.dispose();
    return stopped;
  };
  cleanups.push(stop);
  return { ...started, stop };
}

/** A cluster store of its own: a fresh PostgreSQL database (Redis is flushed after each test). */
async function cluster(): Promise<string[]> {
  databases++;
  const postgresUrl = await postgres.createDatabase(`migrate_${databases}`);
  return ["--redis", redis.url, "--postgres", postgresUrl];
}
const from = (store: string[]) => store.map((a) => a.replace(/^--/, "--from-"));
const to = (store: string[]) => store.map((a) => a.replace(/^--/, "--to-"));
const urls = (store: string[]) => ({
  redisUrl: store[1] as string,
  postgresUrl: store[3] as string,
});

/** Everything a client can see of a document, in a form toEqual compares. */
function content(doc: Y.Doc) {
  return {
    body: doc.getText("body").toDelta(),
    meta: Object.entries(doc.getMap("meta").toJSON()).sort(),
    items: doc.getArray("items").toJSON(),
    stateVector: [...Y.decodeStateVector(Y.encodeStateVector(doc))].sort(),
  };
}

/** Edits a few documents through a real server: formatting, deletions, two writers on one. */
async function writeDocuments(url: string): Promise<Map<string, ReturnType<typeof content>>> {
  const written = new Map<string, ReturnType<typeof content>>();
  const names = ["notes", "plan/2027", "émoji 🎉"];
  for (const [i, name] of names.entries()) {
    const a = connectClient(url, name);
    const b = connectClient(url, name);
    try {
      await Promise.all([a.synced(), b.synced()]);
      const body = a.doc.getText("body");
      body.insert(0, `Document ${i}: hello world`);
      body.format(0, 8, { bold: true });
      body.delete(12, 6);
      a.doc.getMap("meta").set("title", name);
      b.doc.getArray("items").push([i, "two", { three: 3 }]);
      b.doc.getMap("meta").set("owner", `user-${i}`);
      for (let k = 0; k < 50; k++) b.doc.getText("body").insert(0, String(k % 10));
      await Promise.all([a.stored(), b.stored()]);
      await waitSame(a.doc, b.doc);
      written.set(name, content(a.doc));
    } finally {
      a.destroy();
      b.destroy();
    }
  }
  return written;
}

async function waitSame(a: Y.Doc, b: Y.Doc): Promise<void> {
  await waitFor("both clients to hold the same document", () => {
    return JSON.stringify(content(a)) === JSON.stringify(content(b));
  });
}

/** What a client that never saw the documents reads from `url`. */
async function readAll(url: string, names: Iterable<string>) {
  const read = new Map<string, ReturnType<typeof content>>();
  for (const name of names) {
    const client = connectClient(url, name);
    try {
      await client.synced();
      read.set(name, content(client.doc));
    } finally {
      client.destroy();
    }
  }
  return read;
}

describe("tandem migrate", () => {
  it("moves a LevelDB server's documents into the cluster store and back, content identical", async () => {
    const data = await dir();
    const single = await server({ data });
    const written = await writeDocuments(single.url);
    await single.stop();

    const store = await cluster();
    const there = await tandem("migrate", "--from-data", data, ...to(store));
    expect(there.stderr).toBe("");
    expect(there.status).toBe(0);
    for (const name of written.keys()) {
      expect(there.stdout).toContain(`copied   ${JSON.stringify(name)}`);
    }
    expect(there.stdout).toMatch(/^3 documents copied from .* to Redis redis:\/\/.*$/m);

    const instance = await server(urls(store));
    expect(await readAll(instance.url, written.keys())).toEqual(written);
    await instance.stop();

    const back = await dir();
    const returned = await tandem("migrate", ...from(store), "--to-data", back);
    expect(returned.status).toBe(0);
    expect(returned.stdout).toMatch(/^3 documents copied from Redis .* to .*$/m);

    const again = await server({ data: back });
    expect(await readAll(again.url, written.keys())).toEqual(written);
  }, 60_000);

  it("refuses a target that holds documents unless --merge, and merging keeps every edit", async () => {
    const data = await dir();
    const single = await server({ data });
    const written = await writeDocuments(single.url);
    await single.stop();
    const store = await cluster();
    expect((await tandem("migrate", "--from-data", data, ...to(store))).status).toBe(0);

    // The cluster's copy is edited meanwhile; the directory is migrated into it again.
    const instance = await server(urls(store));
    const editor = connectClient(instance.url, "notes");
    await editor.synced();
    editor.doc.getText("body").insert(0, "cluster edit ");
    await editor.stored();
    const edited = content(editor.doc);
    editor.destroy();
    await instance.stop();

    const refused = await tandem("migrate", "--from-data", data, ...to(store));
    expect(refused.status).toBe(2);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(
      /^tandem: the target .* already holds 3 documents: .*--merge.*\n$/,
    );

    const intoDir = await tandem("migrate", ...from(store), "--to-data", data);
    expect(intoDir.status).toBe(2);
    expect(intoDir.stderr).toMatch(/already holds 3 documents/);

    const merged = await tandem("migrate", "--from-data", data, ...to(store), "--merge");
    expect(merged.status).toBe(0);
    expect(merged.stdout).toMatch(
      /^copied {3}"notes" \(\d+ bytes, merged into the existing document\)$/m,
    );

    const after = await server(urls(store));
    const read = await readAll(after.url, written.keys());
    expect(read.get("notes")).toEqual(edited);
    expect(read.get("plan/2027")).toEqual(written.get("plan/2027"));
  }, 60_000);

  it("refuses a data directory a running server holds, with one line and exit 1", async () => {
    const data = await dir();
    await server({ data });
    const run = await tandem("migrate", "--from-data", data, ...to(await cluster()));
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(
      `tandem: --from-data ${data} is in use by a running server (LevelDB's LOCK is held): stop it first\n`,
    );
  });

  it("exits 2 with one line on bad usage", async () => {
    const data = await dir();
    const cases: [string[], RegExp][] = [
      [["--from-data", data], /^tandem: missing the target: --to-data DIR, or --to-redis URL/],
      [["--to-data", data], /^tandem: missing the source: --from-data DIR/],
      [
        ["--from-data", data, "--to-data", data],
        /^tandem: the source and the target are the same store\n$/,
      ],
      [
        ["--from-data", data, "--to-redis", redis.url],
        /^tandem: --to-redis and --to-postgres go together/,
      ],
      [
        ["--from-data", data, "--to-redis", "http://x", "--to-postgres", "postgres://x"],
        /^tandem: invalid --to-redis: "http:\/\/x"/,
      ],
      [["--from-data", `${data}/missing`, "--to-data", data], /does not exist\n$/],
      [
        ["--from-data", data, "--to-data", `${data}-2`, "--bogus"],
        /^tandem: Unknown option '--bogus'/,
      ],
    ];
    const runs = await Promise.all(cases.map(([args]) => tandem("migrate", ...args)));
    for (const [i, [args, message]] of cases.entries()) {
      const run = runs[i] as Awaited<ReturnType<typeof tandem>>;
      expect(run.status, args.join(" ")).toBe(2);
      expect(run.stdout).toBe("");
      expect(run.stderr.split("\n")).toHaveLength(2); // one line, then the final newline
      expect(run.stderr).toMatch(message);
    }
    const help = await tandem("migrate", "--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: tandem migrate/);
    // Eight CLI starts, seven at once, each seconds of CPU from the TypeScript sources.
  }, 180_000);
});
