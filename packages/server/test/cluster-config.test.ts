import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  type PostgresEngine,
  type RedisEngine,
  startPostgres,
  startRedis,
  startTestServer,
} from "@tandem/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Cluster settings the CLI refuses, with exit code 2 and one line saying what to change: one URL
 * without the other, Redis settings under which acknowledged edits could be lost, and a
 * PostgreSQL role that may not create the temporary table large documents are written through.
 */

const CLI = fileURLToPath(new URL("../bin/tandem.mjs", import.meta.url));

function serve(...args: string[]) {
  const run = spawnSync(process.execPath, [CLI, "serve", "--port", "0", ...args], {
    encoding: "utf8",
    timeout: 30_000,
  });
  return { status: run.status, stderr: run.stderr, lines: run.stderr.trim().split("\n") };
}

describe("cluster configuration", () => {
  let postgres: PostgresEngine;
  let safe: RedisEngine;
  let noAof: RedisEngine;
  let evicting: RedisEngine;
  let everysec: RedisEngine;
  let postgresUrl: string;
  beforeAll(async () => {
    [postgres, safe, noAof, evicting, everysec] = await Promise.all([
      startPostgres(),
      startRedis(),
      startRedis({ appendonly: false }),
      startRedis({ maxmemoryPolicy: "allkeys-lru" }),
      startRedis({ appendfsync: "everysec" }),
    ]);
    postgresUrl = await postgres.createDatabase("config");
  });
  afterAll(async () => {
    await Promise.all([postgres, safe, noAof, evicting, everysec].map((engine) => engine?.stop()));
  });

  it("refuses one of --redis-url and --postgres-url without the other", () => {
    const together =
      "tandem: --redis-url and --postgres-url go together: give both (several instances share documents) or neither (one instance on --data)";
    for (const args of [
      ["--redis-url", "redis://127.0.0.1:6379"],
      ["--postgres-url", "postgres://127.0.0.1/tandem"],
    ]) {
      const run = serve(...args);
      expect(run.status).toBe(2);
      expect(run.lines).toEqual([together]);
    }
  });

  it("refuses a PostgreSQL role that may not create temporary tables (large documents are written through one)", async () => {
    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    try {
      await admin.query("CREATE ROLE tandem_no_temp LOGIN");
      await admin.query("CREATE DATABASE no_temp OWNER tandem_no_temp");
      await admin.query("REVOKE TEMPORARY ON DATABASE no_temp FROM PUBLIC, tandem_no_temp");
    } finally {
      await admin.end();
    }
    const url = new URL(postgresUrl);
    url.username = "tandem_no_temp";
    url.pathname = "/no_temp";
    const run = serve("--redis-url", safe.url, "--postgres-url", url.href);
    expect(run.status).toBe(2);
    expect(run.lines).toEqual([
      `tandem: PostgreSQL at ${url.href} does not let this role create temporary tables, which Tandem uses to write large documents in slices: GRANT TEMPORARY ON DATABASE <database> TO <role>`,
    ]);
  });

  it("refuses Redis without an append-only file", () => {
    const run = serve("--redis-url", noAof.url, "--postgres-url", postgresUrl);
    expect(run.status).toBe(2);
    expect(run.lines).toEqual([
      `tandem: Redis at ${noAof.url} runs without an append-only file, so a Redis restart would lose acknowledged edits: set "appendonly yes" in its redis.conf (or CONFIG SET appendonly yes, then CONFIG REWRITE)`,
    ]);
  });

  it("refuses Redis that may evict keys", () => {
    const run = serve("--redis-url", evicting.url, "--postgres-url", postgresUrl);
    expect(run.status).toBe(2);
    expect(run.lines).toEqual([
      `tandem: Redis at ${evicting.url} has maxmemory-policy allkeys-lru, so it may evict a document's log when memory runs short: set "maxmemory-policy noeviction" in its redis.conf`,
    ]);
  });

  it("refuses Redis with appendfsync everysec, which can reply before writing its AOF", () => {
    const run = serve("--redis-url", everysec.url, "--postgres-url", postgresUrl);
    expect(run.status).toBe(2);
    expect(run.lines).toEqual([
      `tandem: Redis at ${everysec.url} has appendfsync everysec, which may reply before writing its append-only file, so a crash of Redis could lose acknowledged edits: set "appendfsync always" (survives a power loss too) or "appendfsync no" in its redis.conf`,
    ]);
  });

  it("with --fsync, refuses Redis that does not fsync every write", () => {
    for (const redis of [safe, everysec]) {
      const run = serve("--redis-url", redis.url, "--postgres-url", postgresUrl, "--fsync");
      expect(run.status).toBe(2);
      const policy = redis === safe ? "no" : "everysec";
      expect(run.lines).toEqual([
        `tandem: --fsync promises that acknowledged edits survive a power loss, but Redis at ${redis.url} has appendfsync ${policy}: set "appendfsync always" in its redis.conf, or leave out --fsync`,
      ]);
    }
  });

  it("with --fsync, starts on Redis with appendfsync always", async () => {
    const always = await startRedis({ appendfsync: "always" });
    try {
      const server = await startTestServer({ redisUrl: always.url, postgresUrl, fsync: true });
      await server.dispose();
    } finally {
      await always.stop();
    }
  });
});
