import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Protocol } from "./adapters/index.ts";
import { sleep } from "./util.ts";

/** The servers `--compare` runs side by side. Tandem is always the first. */
export type ServerKind = "tandem" | "hocuspocus" | "hocuspocus-sqlite" | "y-websocket";
export const SERVER_KINDS: readonly ServerKind[] = [
  "tandem",
  "hocuspocus",
  "hocuspocus-sqlite",
  "y-websocket",
];

export interface ServerSpec {
  kind: ServerKind;
  /** Column heading in the tables. */
  label: string;
  protocol: Protocol;
  /** Whether a restart keeps the documents (the in-memory Hocuspocus does not). */
  persistent: boolean;
  description: string;
}

export const SERVER_SPECS: Record<ServerKind, ServerSpec> = {
  tandem: {
    kind: "tandem",
    label: "tandem",
    protocol: "hocuspocus",
    persistent: true,
    description: "Tandem (packages/server CLI), LevelDB append-only store, defaults",
  },
  hocuspocus: {
    kind: "hocuspocus",
    label: "hocuspocus",
    protocol: "hocuspocus",
    persistent: false,
    description: "@hocuspocus/server, no extensions (documents in memory)",
  },
  "hocuspocus-sqlite": {
    kind: "hocuspocus-sqlite",
    label: "hp+sqlite",
    protocol: "hocuspocus",
    persistent: true,
    description: "@hocuspocus/server + @hocuspocus/extension-sqlite (file DB, default debounce)",
  },
  "y-websocket": {
    kind: "y-websocket",
    label: "y-websocket",
    protocol: "y-websocket",
    persistent: true,
    description: "@y/websocket-server with its y-leveldb persistence (YPERSISTENCE)",
  },
};

const TANDEM_BIN = fileURLToPath(new URL("../../server/bin/tandem.mjs", import.meta.url));
const BUILD_PACKAGE = fileURLToPath(new URL("../../../scripts/build-package.mjs", import.meta.url));
const SERVER_DIR = fileURLToPath(new URL("../../server", import.meta.url));

/** Builds the server's dist/ (and the packages it depends on) when older than the sources. */
export function buildServer(progress: (message: string) => void): void {
  progress("building @tandem/server's dist/ if stale (scripts/build-package.mjs --if-stale)");
  execFileSync(process.execPath, [BUILD_PACKAGE, "--if-stale", SERVER_DIR], {
    stdio: ["ignore", 2, 2],
  });
}
const LAUNCHER = fileURLToPath(new URL("../bin/launch-server.mjs", import.meta.url));

/**
 * Tandem's per-address and per-socket abuse limits, switched off for the bench: every client of
 * the load generator comes from 127.0.0.1 and sends far faster than any person types, which is
 * the point of a load test. The baselines have no such limits.
 */
const TANDEM_LIMITS_OFF: readonly string[] = [
  "--message-rate",
  "0",
  "--max-connections-per-ip",
  "0",
  "--connections-per-minute",
  "0",
];

export interface LaunchOptions {
  /** Flags for the server's node process, e.g. ["--cpu-prof", "--cpu-prof-dir=DIR"]. */
  nodeFlags?: readonly string[];
  /** Extra `tandem serve` flags, e.g. ["--fsync"]. */
  tandemArgs?: readonly string[];
  /** Run Tandem's built dist/ (buildServer() first) rather than its sources through tsx. */
  tandemFromDist?: boolean;
}

/**
 * One server under test in its own child process on 127.0.0.1, over a fresh temp data dir. The
 * bench measures it only from outside: its clients, and /proc/PID of the child.
 */
export class ManagedServer {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private stderrTail = "";
  /** 0 until the first start; then the port it got, which every restart keeps (clients reconnect). */
  private port = 0;
  /** Warnings and errors the server logged (JSON level >= 40, or stderr), newest last. */
  readonly complaints: string[] = [];
  url = "";

  private constructor(
    readonly spec: ServerSpec,
    readonly dataDir: string,
    private readonly options: LaunchOptions,
  ) {}

  static async start(kind: ServerKind, options: LaunchOptions = {}): Promise<ManagedServer> {
    const dataDir = await mkdtemp(join(tmpdir(), `tandem-bench-${kind}-`));
    const server = new ManagedServer(SERVER_SPECS[kind], dataDir, options);
    try {
      await server.launch();
    } catch (error) {
      await rm(dataDir, { recursive: true, force: true });
      throw error;
    }
    return server;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  private command(): string[] {
    const node = [...(this.options.nodeFlags ?? [])];
    if (this.spec.kind === "tandem") {
      return [
        ...node,
        TANDEM_BIN,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        String(this.port),
        "--data",
        this.dataDir,
        "--log-format",
        "json",
        ...TANDEM_LIMITS_OFF,
        ...(this.options.tandemArgs ?? []),
      ];
    }
    return [...node, LAUNCHER, this.spec.kind];
  }

  private async launch(): Promise<void> {
    const child = spawn(process.execPath, this.command(), {
      env: {
        ...process.env,
        PORT: String(this.port),
        DATA_DIR: this.dataDir,
        NODE_ENV: "production",
        ...(this.options.tandemFromDist ? { TANDEM_RUN_DIST: "1" } : {}),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    this.stderrTail = "";
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    child.stderr?.on("data", (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-4000);
      this.complain(chunk.toString().trim());
    });
    const url = new Promise<string>((resolve, reject) => {
      // Generous: on a loaded 2-core machine, loading the sources through tsx alone can take
      // tens of seconds.
      const timer = setTimeout(
        () => reject(new Error(`${this.spec.kind} did not listen within 120 s`)),
        120_000,
      );
      // Keep reading stdout for the whole life of the process, so a full pipe never blocks it.
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        if (!line.startsWith("{")) return;
        try {
          const parsed = JSON.parse(line) as { url?: unknown; level?: unknown };
          if (typeof parsed.level === "number" && parsed.level >= 40) this.complain(line);
          if (typeof parsed.url === "string") {
            clearTimeout(timer);
            resolve(parsed.url);
          }
        } catch {
          // Not one of ours; ignore.
        }
      });
      void this.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${this.spec.kind} exited before listening: ${this.stderrTail}`));
      });
    });
    this.url = await url;
    this.port = Number(new URL(this.url).port);
  }

  private complain(text: string): void {
    if (!text) return;
    this.complaints.push(text.slice(0, 400));
    if (this.complaints.length > 20) this.complaints.shift();
  }

  /** SIGTERM and wait (bounded) for the exit; SIGKILL if it hangs. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const stopped = await Promise.race([
      this.exited.then(() => true),
      sleep(15_000).then(() => false),
    ]);
    if (!stopped) {
      child.kill("SIGKILL");
      await this.exited;
    }
  }

  /** SIGKILL: no shutdown code runs, as in a crash or power-less container kill. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGKILL");
    await this.exited;
  }

  /** Starts the server again on the same data directory (after stop() or kill()). */
  async restart(how: "graceful" | "kill"): Promise<void> {
    if (how === "kill") await this.kill();
    else await this.stop();
    await this.launch();
  }

  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

/** Resident set size of a process in bytes (VmRSS in /proc/PID/status). */
export async function readRss(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? null : Number(kb) * 1024;
  } catch {
    return null;
  }
}

/** Clock ticks per second for /proc/PID/stat (USER_HZ; 100 on every common Linux build). */
const USER_HZ = 100;

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat. */
export async function readCpuSeconds(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces; the fields after its ")" are fixed.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the line, so 12 and 13 after the name.
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return null;
  }
}

/**
 * CPU seconds of a process and every process under it (an engine such as PostgreSQL, one
 * process per connection; PostgreSQL puts each in a session of its own, so not by process
 * group): user + system time of each live one, plus the time of the root's children that
 * already exited (cutime + cstime), so a backend that ends between two readings still counts.
 */
export async function readTreeCpuSeconds(root: number): Promise<number | null> {
  const processes = new Map<number, { ppid: number; cpu: number; children: number }>();
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let line: string;
    try {
      line = await readFile(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // After the ")" that ends the name: state, ppid, ... utime (11), stime (12), cutime, cstime.
    const fields = line.slice(line.lastIndexOf(")") + 2).split(" ");
    processes.set(Number(entry), {
      ppid: Number(fields[1]),
      cpu: Number(fields[11]) + Number(fields[12]),
      children: Number(fields[13]) + Number(fields[14]),
    });
  }
  const top = processes.get(root);
  if (!top) return null;
  let total = top.cpu + top.children;
  const under = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, p] of processes) {
      if (under.has(pid) || !under.has(p.ppid)) continue;
      under.add(pid);
      total += p.cpu;
      grew = true;
    }
  }
  return total / USER_HZ;
}

/** Bytes the process caused to be written to storage (write_bytes in /proc/PID/io). */
export async function readWriteBytes(pid: number): Promise<number | null> {
  try {
    const io = await readFile(`/proc/${pid}/io`, "utf8");
    const value = /^write_bytes:\s+(\d+)/m.exec(io)?.[1];
    return value === undefined ? null : Number(value);
  } catch {
    return null;
  }
}

/** Total size of the files under a directory, in bytes. */
export async function dirSize(path: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(path, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    try {
      total += (await stat(join(entry.parentPath, entry.name))).size;
    } catch {
      // A LevelDB file may disappear during a compaction between readdir and stat.
    }
  }
  return total;
}

/** Open file descriptors of a process (entries of /proc/PID/fd). */
export async function readOpenFds(pid: number): Promise<number | null> {
  try {
    return (await readdir(`/proc/${pid}/fd`)).length;
  } catch {
    return null;
  }
}

/** Whether a process is running (and not a zombie). */
export async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/**
 * V8 heap in use, from a Tandem server's Prometheus metrics (nodejs_heap_size_used_bytes at
 * /metrics on its port); null for servers without them.
 */
export async function readHeapUsed(wsUrl: string): Promise<number | null> {
  try {
    const url = new URL("/metrics", wsUrl.replace(/^ws/, "http"));
    const response = await fetch(url, { signal: AbortSignal.timeout(15_000) });
    if (!response.ok) return null;
    const line = (await response.text())
      .split("\n")
      .find((l) => l.startsWith("nodejs_heap_size_used_bytes "));
    return line === undefined ? null : Number(line.split(" ")[1]);
  } catch {
    return null;
  }
}
