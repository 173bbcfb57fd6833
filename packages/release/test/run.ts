import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * The environment of a user's shell, not of this test run: none of pnpm's npm_* settings, no
 * NODE_OPTIONS (the workspace's "@tandem/source" condition must not leak into an app that
 * installed the packages), none of vitest's or Tandem's variables.
 */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|NODE_OPTIONS$|NODE_ENV$|VITEST|TANDEM_|FORCE_COLOR$|TEST$)/i.test(key))
      continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

export interface Ran {
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; rejects with its output if it fails or takes longer than timeoutMs. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? userEnv(),
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        killSignal: "SIGKILL",
      },
      (error, stdout, stderr) => {
        if (error) {
          const what = `${command} ${args.join(" ")} (in ${options.cwd})`;
          reject(
            new Error(`${what} failed: ${error.message}\nstdout:\n${stdout}\nstderr:\n${stderr}`),
          );
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

export interface Running {
  child: ChildProcess;
  /** Every line it wrote, stdout and stderr. */
  lines: string[];
  exited(): number | string | undefined;
  waitForLine<T>(
    what: string,
    match: (line: string) => T | undefined,
    timeoutMs: number,
  ): Promise<T>;
  /** Signals the process group (the command and everything it started); resolves once it exited. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
}

/** Starts a long-running command in its own process group. */
export function start(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Running {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? userEnv(),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream as NodeJS.ReadableStream }).on("line", (line) =>
      lines.push(line),
    );
  }
  let exit: number | string | undefined;
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => {
      exit = code ?? signal ?? -1;
      resolve(exit);
    });
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    if (exit !== undefined || child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  return {
    child,
    lines,
    exited: () => exit,
    waitForLine: async (what, match, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        for (const line of lines) {
          const found = match(line);
          if (found !== undefined) return found;
        }
        const output = `output:\n${lines.join("\n")}`;
        if (exit !== undefined)
          throw new Error(`${command} exited (${exit}) before ${what}; ${output}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; ${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    stop: async (signal = "SIGTERM", timeoutMs = 20_000) => {
      signalGroup(signal);
      const timer = setTimeout(() => signalGroup("SIGKILL"), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
