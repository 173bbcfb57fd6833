import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { waitFor } from "@tandem/testkit";

/**
 * tsx's loader (a dev dependency of the workspace root), so a TypeScript script runs as
 * `node --import <tsx> script.ts`: one process, whose exit is the script's own.
 */
function tsxLoader(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm")).href;
}

export interface Script {
  child: ChildProcess;
  /** Every line written to stdout so far. */
  lines: string[];
  stderr(): string;
  /** When the last stdout line arrived (ms since the epoch). */
  lastLineAt(): number;
  /** The exit code (or the signal that ended it) and time once the process has exited. */
  exited(): { code: number | null; signal: NodeJS.Signals | null; at: number } | undefined;
  waitForLine(line: string, timeoutMs?: number): Promise<void>;
  /** Kills the process if it is still running (for cleanup after a failure). */
  kill(): void;
}

/**
 * Runs a TypeScript file with Node.js and tsx, collecting its output. @tandem/* packages resolve
 * to their sources, as everywhere in the workspace (the "@tandem/source" export condition).
 */
export function runScript(path: string, args: readonly string[], cwd?: string): Script {
  const argv = ["--conditions=@tandem/source", "--import", tsxLoader(), path, ...args];
  const child = spawn(process.execPath, argv, {
    stdio: ["ignore", "pipe", "pipe"],
    ...(cwd ? { cwd } : {}),
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines: string[] = [];
  let lastLineAt = 0;
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    lines.push(line);
    lastLineAt = Date.now();
  });
  let exited: { code: number | null; signal: NodeJS.Signals | null; at: number } | undefined;
  child.once("exit", (code, signal) => {
    exited = { code, signal, at: Date.now() };
  });
  return {
    child,
    lines,
    stderr: () => stderr,
    lastLineAt: () => lastLineAt,
    exited: () => exited,
    waitForLine: (line, timeoutMs = 20_000) =>
      waitFor(
        `the line ${JSON.stringify(line)}`,
        () => {
          if (lines.includes(line)) return true;
          if (exited) throw new Error(`the script exited (${exited.code}); stderr: ${stderr}`);
          return false;
        },
        { timeoutMs },
      ).then(() => {}),
    kill: () => {
      if (!exited) child.kill("SIGKILL");
    },
  };
}
