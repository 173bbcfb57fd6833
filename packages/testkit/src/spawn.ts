import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { StopWaiting, waitFor } from "./wait.ts";

const CLI = fileURLToPath(new URL("../../server/bin/tandem.mjs", import.meta.url));

export type LogLine = Record<string, unknown> & { level: number; msg: string };

export interface SpawnedServer {
  child: ChildProcess;
  /** ws://127.0.0.1:PORT from the "listening" log line. */
  url: string;
  port: number;
  /** Every JSON log line so far. */
  logs: LogLine[];
  /** What the process wrote to stderr. */
  stderr(): string;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  waitForLog(what: string, match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  kill(signal?: NodeJS.Signals): void;
}

/** Runs `tandem serve` as a child process with JSON logs and waits until it listens. */
export async function spawnServer(
  args: readonly string[],
  env: Record<string, string> = {},
  /** maxOpenFiles: the open-file limit (RLIMIT_NOFILE), applied once the server listens. */
  options: { maxOpenFiles?: number } = {},
): Promise<SpawnedServer> {
  const argv = [process.execPath, CLI, "serve", "--log-format", "json", ...args];
  const child = spawn(argv[0] as string, argv.slice(1), {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: LogLine[] = [];
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    try {
      logs.push(JSON.parse(line) as LogLine);
    } catch {
      stderr += `${line}\n`;
    }
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? -1));
  });
  // "close", not "exit": by then every line the server wrote has been read, so a line it wrote
  // just before exiting is still found.
  let hasExited = false;
  child.once("close", () => {
    hasExited = true;
  });
  const waitForLog: SpawnedServer["waitForLog"] = (what, match, timeoutMs = 20_000) =>
    waitFor(
      what,
      () => {
        const found = logs.find(match);
        if (!found && hasExited) throw new StopWaiting(`the server exited; stderr: ${stderr}`);
        return found;
      },
      { timeoutMs },
    );
  // Starting from the TypeScript sources (tsx) costs seconds of CPU before the server listens:
  // 10-17 s on a busy 2-core machine. A server that exits instead fails the wait at once.
  const listening = await waitForLog(
    "the server to listen",
    (l) => typeof l.url === "string",
    45_000,
  ).catch((error: unknown) => {
    // A server that never listened is no one's to stop: do not leave it running.
    child.kill("SIGKILL");
    throw error;
  });
  if (options.maxOpenFiles !== undefined) {
    // Lowered once the server listens (prlimit, util-linux, on its pid): loading the sources
    // through tsx opens many module files at once and, under a low limit from the start, failed
    // with EMFILE before the server ran at all. What is tested is a running server.
    const limit = `--nofile=${options.maxOpenFiles}:${options.maxOpenFiles}`;
    execFileSync("prlimit", ["--pid", String(child.pid), limit]);
  }
  const url = listening.url as string;
  return {
    child,
    url,
    port: Number(new URL(url).port),
    logs,
    stderr: () => stderr,
    exited,
    waitForLog,
    kill: (signal = "SIGTERM") => {
      child.kill(signal);
    },
  };
}

/** Runs a `tandem` command (check, repair, import, …) to its end: exit status and output. */
export function runCli(...args: string[]): {
  status: number | null;
  stdout: string;
  stderr: string;
} {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}
