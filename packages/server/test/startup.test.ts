import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { StopWaiting, waitFor } from "@tandem/testkit";
import { afterAll, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../bin/tandem.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tandem-startup-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Preloaded into the server: at exit, it prints which of the packages a single instance should
// not need were loaded (Node's module cache holds every CommonJS module, imported ones too).
const PROBE = join(dir, "loaded.cjs");
writeFileSync(
  PROBE,
  `process.on("exit", () => {
    const loaded = Object.keys(require("node:module")._cache)
      .map((file) => /node_modules\\/(ioredis|pg|pino-pretty)\\//.exec(file)?.[1])
      .filter(Boolean);
    process.stderr.write("LOADED " + JSON.stringify([...new Set(loaded)].sort()) + "\\n");
  });`,
);

interface Run {
  stdout: string;
  loaded: string[];
  status: number | null;
}

/** Starts `tandem serve` with these flags, waits until it listens, stops it with SIGTERM. */
async function serveOnce(name: string, ...flags: string[]): Promise<Run> {
  const data = join(dir, name);
  const child: ChildProcess = spawn(
    process.execPath,
    ["--require", PROBE, CLI, "serve", "--port", "0", "--data", data, ...flags],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let gone = false;
  const exited = new Promise<number | null>((resolve) =>
    // "close", not "exit": the probe's line may still be in the stderr pipe when the process exits.
    child.on("close", (code) => {
      gone = true;
      resolve(code);
    }),
  );
  try {
    await waitFor(
      "the server to listen",
      () => {
        if (gone) throw new StopWaiting(`the server exited: ${stderr}`);
        return stdout.includes("listening on");
      },
      { timeoutMs: 30_000 },
    );
  } finally {
    child.kill("SIGTERM");
  }
  const status = await exited;
  const line = /^LOADED (.*)$/m.exec(stderr);
  if (!line?.[1]) throw new Error(`no probe line from the server; stderr: ${stderr}`);
  return { stdout, loaded: JSON.parse(line[1]) as string[], status };
}

describe("start-up", () => {
  it("a single instance logging JSON loads neither the cluster engines' clients nor pino-pretty", async () => {
    const run = await serveOnce("json", "--log-format", "json");
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout.split("\n")[0] ?? "")).toMatchObject({ level: 30 });
    expect(run.loaded).toEqual([]);
  });

  it("a readable log loads pino-pretty when asked for, and reads as text", async () => {
    const run = await serveOnce("pretty", "--log-format", "pretty");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/INFO.*: listening on ws:\/\/127\.0\.0\.1:\d+/);
    expect(run.stdout).toMatch(/INFO.*: stopped/);
    expect(run.loaded).toEqual(["pino-pretty"]);
  });
});
