import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, defaultConfig, resolveConfig } from "@tandem/server";
import { tempDir } from "@tandem/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../bin/tandem.mjs", import.meta.url));

describe("configuration", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    dir = await tempDir();
  });
  afterAll(() => dir.remove());

  const file = (name: string, body: unknown) => {
    const path = join(dir.path, name);
    writeFileSync(path, typeof body === "string" ? body : JSON.stringify(body));
    return path;
  };

  it("has a default for every setting", () => {
    expect(resolveConfig({ argv: [], env: {} })).toEqual(defaultConfig());
    expect(defaultConfig()).toMatchObject({ host: "127.0.0.1", port: 1234, data: "./data" });
  });

  it("takes flag over environment over config file over default", () => {
    const config = file("precedence.json", {
      port: 3000,
      host: "0.0.0.0",
      allowAnonymous: true,
      logLevel: "warn",
    });
    const env = { TANDEM_CONFIG: config, TANDEM_PORT: "4000", TANDEM_HOST: "::1" };
    expect(resolveConfig({ argv: ["--port", "5000"], env })).toMatchObject({
      port: 5000,
      host: "::1",
      logLevel: "warn",
      data: "./data",
    });
    expect(resolveConfig({ argv: [], env })).toMatchObject({ port: 4000 });
    expect(resolveConfig({ argv: ["--port=0"], env: {} })).toMatchObject({ port: 0 });
    expect(resolveConfig({ argv: ["--config", config], env: {} })).toMatchObject({ port: 3000 });
  });

  it("reads switches and booleans in every form", () => {
    expect(resolveConfig({ argv: ["--fsync"], env: {} }).fsync).toBe(true);
    expect(resolveConfig({ argv: ["--fsync=false"], env: {} }).fsync).toBe(false);
    expect(resolveConfig({ argv: ["--no-fsync"], env: { TANDEM_FSYNC: "1" } }).fsync).toBe(false);
    expect(resolveConfig({ argv: [], env: { TANDEM_FSYNC: "yes" } }).fsync).toBe(true);
    const config = file("fsync.json", { fsync: true });
    expect(resolveConfig({ argv: ["--config", config], env: {} }).fsync).toBe(true);
  });

  it.each([
    [["--port", "abc"], {}, 'invalid --port: "abc" (accepted: an integer from 0 to 65535)'],
    [["--port="], {}, 'invalid --port: "" (accepted: an integer from 0 to 65535)'],
    [
      [],
      { TANDEM_PORT: "70000" },
      'invalid TANDEM_PORT: "70000" (accepted: an integer from 0 to 65535)',
    ],
    [["--log-level", "loud"], {}, "accepted: trace, debug, info, warn, error, fatal, silent"],
    [["--compact-after-updates", "0"], {}, "invalid --compact-after-updates"],
    [["--fsync=maybe"], {}, 'invalid --fsync: "maybe" (accepted: true or false)'],
    [["--bogus"], {}, 'unknown option "--bogus" (accepted: --config, --host, --port'],
    [["--port"], {}, "missing value for --port"],
  ])("refuses %j %j", (argv, env, message) => {
    expect(() => resolveConfig({ argv, env })).toThrow(ConfigError);
    expect(() => resolveConfig({ argv, env })).toThrow(message);
  });

  it("reads list settings from repeated flags, comma-separated variables and arrays", () => {
    const argv = ["--allowed-origin", "https://a.example", "--allowed-origin=https://b.example"];
    expect(resolveConfig({ argv, env: {} }).allowedOrigin).toEqual([
      "https://a.example",
      "https://b.example",
    ]);
    const env = { TANDEM_TRUSTED_PROXY: "10.0.0.1, 10.0.0.2" };
    expect(resolveConfig({ argv: [], env }).trustedProxy).toEqual(["10.0.0.1", "10.0.0.2"]);
    const config = file("lists.json", { allowedOrigin: ["https://c.example"] });
    expect(resolveConfig({ argv: ["--config", config], env: {} }).allowedOrigin).toEqual([
      "https://c.example",
    ]);
  });

  it("refuses to serve other addresses without authentication unless told to", () => {
    expect(() => resolveConfig({ argv: ["--host", "0.0.0.0"], env: {} })).toThrow(
      "refusing to serve 0.0.0.0 without authentication",
    );
    expect(resolveConfig({ argv: ["--host", "0.0.0.0", "--allow-anonymous"], env: {} }).host).toBe(
      "0.0.0.0",
    );
    const secret = "s".repeat(32);
    expect(
      resolveConfig({
        argv: ["--host", "0.0.0.0", "--auth", "jwt", "--jwt-secret", secret],
        env: {},
      }).auth,
    ).toBe("jwt");
    for (const host of ["localhost", "127.0.0.2", "::1"]) {
      expect(resolveConfig({ argv: ["--host", host], env: {} }).auth).toBe("none");
    }
  });

  it("checks settings that go together", () => {
    expect(() => resolveConfig({ argv: ["--auth", "jwt"], env: {} })).toThrow(
      "--auth jwt needs exactly one of --jwt-secret, --jwt-public-key, --jwks-file (0 given)",
    );
    expect(() =>
      resolveConfig({
        argv: ["--auth", "jwt", "--jwt-secret", "s".repeat(32), "--jwks-file", "keys.json"],
        env: {},
      }),
    ).toThrow("(2 given)");
    expect(() => resolveConfig({ argv: ["--jwt-secret", "short"], env: {} })).toThrow(
      "accepted: a string of at least 32 characters, or empty",
    );
    expect(() => resolveConfig({ argv: ["--tls-cert", "cert.pem"], env: {} })).toThrow(
      "--tls-cert and --tls-key go together",
    );
    const together =
      "--redis-url and --postgres-url go together: give both (several instances share documents) or neither (one instance on --data)";
    expect(() =>
      resolveConfig({ argv: ["--redis-url", "redis://127.0.0.1:6379"], env: {} }),
    ).toThrow(together);
    expect(() =>
      resolveConfig({ argv: [], env: { TANDEM_POSTGRES_URL: "postgres://db.example/tandem" } }),
    ).toThrow(together);
    expect(
      resolveConfig({
        argv: ["--redis-url", "redis://127.0.0.1:6379"],
        env: { TANDEM_POSTGRES_URL: "postgresql://db.example/tandem" },
      }),
    ).toMatchObject({
      redisUrl: "redis://127.0.0.1:6379",
      postgresUrl: "postgresql://db.example/tandem",
    });
    expect(() => resolveConfig({ argv: ["--redis-url", "localhost:6379"], env: {} })).toThrow(
      'invalid --redis-url: "localhost:6379" (accepted: a redis:// or rediss:// URL, or empty)',
    );
  });

  it("the CLI refuses unreadable key files with exit code 2", () => {
    const run = spawnSync(
      process.execPath,
      [CLI, "serve", "--auth", "jwt", "--jwt-public-key", join(dir.path, "nope.pem")],
      { encoding: "utf8" },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^tandem: cannot read --jwt-public-key .*nope\.pem/);
  });

  it("refuses bad config files, naming the key", () => {
    const bad = file("bad.json", { port: "eighty" });
    expect(() => resolveConfig({ argv: ["--config", bad], env: {} })).toThrow(
      'invalid "port" in the config file: "eighty" (accepted: an integer from 0 to 65535)',
    );
    const unknown = file("unknown.json", { prot: 1 });
    expect(() => resolveConfig({ argv: ["--config", unknown], env: {} })).toThrow(
      'unknown setting "prot" in config file',
    );
    const notJson = file("broken.json", "{ port: ");
    expect(() => resolveConfig({ argv: ["--config", notJson], env: {} })).toThrow(
      /is not valid JSON/,
    );
    expect(() =>
      resolveConfig({ argv: ["--config", join(dir.path, "missing.json")], env: {} }),
    ).toThrow(/cannot read config file/);
  });

  it("the CLI exits with code 2 and one line naming the setting", () => {
    const run = spawnSync(process.execPath, [CLI, "serve", "--port", "abc"], {
      encoding: "utf8",
      env: { ...process.env, TANDEM_CONFIG: "" },
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      'tandem: invalid --port: "abc" (accepted: an integer from 0 to 65535)\n',
    );
    const badEnv = spawnSync(process.execPath, [CLI, "serve"], {
      encoding: "utf8",
      env: { ...process.env, TANDEM_LOG_LEVEL: "loud" },
    });
    expect(badEnv.status).toBe(2);
    expect(badEnv.stderr.trim().split("\n")).toHaveLength(1);
    expect(badEnv.stderr).toMatch(/TANDEM_LOG_LEVEL/);
  });

  it("the CLI explains itself", () => {
    const help = spawnSync(process.execPath, [CLI, "serve", "--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    for (const flag of ["--port", "--data", "--fsync", "TANDEM_COMPACT_AFTER_UPDATES"]) {
      expect(help.stdout).toContain(flag);
    }
    const unknown = spawnSync(process.execPath, [CLI, "launch"], { encoding: "utf8" });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "launch"/);
  });
});
