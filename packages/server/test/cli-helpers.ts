import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../bin/tandem.mjs", import.meta.url));

/** Runs the real `tandem` CLI in a child process without blocking this one (a server may run here). */
export function tandem(
  ...args: string[]
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: "utf8" }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ status, stdout, stderr });
    });
  });
}

/** Collects what a maintenance command run in-process prints. */
export function lines(): { out: (line: string) => void; text: () => string } {
  const printed: string[] = [];
  return { out: (line) => printed.push(line), text: () => printed.join("\n") };
}
