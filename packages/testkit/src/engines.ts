import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdirSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { join } from "node:path";
import { tempDir } from "./temp.ts";
import { waitFor } from "./wait.ts";

/**
 * Real Redis and PostgreSQL servers for tests, each in its own temp directory on a free port of
 * 127.0.0.1, never the machine's own services. Start them once per test file (beforeAll): a
 * PostgreSQL cluster takes a second or two to create.
 *
 * Both can be killed with SIGKILL and started again on the same data, as a crash would leave it.
 */

export const REDIS_SERVER = process.env.TANDEM_REDIS_SERVER ?? "/usr/bin/redis-server";
export const POSTGRES_BIN = process.env.TANDEM_POSTGRES_BIN ?? "/usr/lib/postgresql/15/bin";
/** PostgreSQL refuses to run as root: tests run it as this system user, created when missing. */
export const POSTGRES_USER = "tandem-pg";

export interface Engine {
  /** A URL a client connects with. */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly running: boolean;
  /** The engine's main process (its process group leader), null while it is not running. */
  readonly pid: number | null;
  /** SIGKILL, as a crash: whatever the engine had not written is gone. */
  kill(): Promise<void>;
  /** Stops the engine as its operator would (Redis SIGTERM, PostgreSQL fast shutdown), keeping its data. */
  halt(): Promise<void>;
  /** Starts the engine again on the same port and data. */
  restart(): Promise<void>;
  /** Stops the engine (gracefully if it runs) and deletes its directory. */
  stop(): Promise<void>;
}

export interface RedisEngine extends Engine {
  /** Runs one command with redis-cli and returns its output (trimmed). */
  cli(...args: string[]): string;
}

export interface RedisOptions {
  /**
   * appendfsync: no (the default here: Redis writes its AOF before every reply, so a SIGKILL of
   * Redis loses nothing acknowledged), always, or everysec (Redis's own default, which Tandem
   * refuses: see scripts/redis-aof-crash.sh).
   */
  appendfsync?: "everysec" | "always" | "no";
  /** appendonly (yes unless a test wants to see Tandem refuse it). */
  appendonly?: boolean;
  maxmemoryPolicy?: string;
}

/** A port nobody listens on right now (the kernel picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.connect(port, "127.0.0.1");
  });
}

/** A child process with what it printed, and a promise of its exit. */
interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<void>;
  hasExited: () => boolean;
}

function run(command: string, args: string[], options: { uid?: number; gid?: number } = {}) {
  const child = spawn(command, args, {
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so a SIGKILL reaches every process the engine forked.
    detached: true,
    ...options,
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      resolve();
    });
  });
  const running: Running = {
    child,
    output: () => output,
    exited: exitPromise,
    hasExited: () => exited,
  };
  alive.add(running);
  void exitPromise.then(() => alive.delete(running));
  return running;
}

/** Engines still running when the test process exits are killed with it. */
const alive = new Set<Running>();
process.once("exit", () => {
  for (const r of alive) signalGroup(r, "SIGKILL");
});

/** kill, halt, restart and stop of an engine process, the same for every engine. */
function lifecycle(engine: {
  current: () => Running | null;
  forget: () => void;
  start: () => Promise<void>;
  remove: () => Promise<void>;
  /** The engine's own graceful shutdown. */
  stopSignal: NodeJS.Signals;
}): Pick<Engine, "kill" | "halt" | "restart" | "stop"> {
  const end = async (signal: NodeJS.Signals) => {
    const r = engine.current();
    if (r && !r.hasExited()) {
      signalGroup(r, signal);
      await r.exited;
    }
  };
  return {
    kill: async () => {
      if (!engine.current()) return;
      await end("SIGKILL");
      engine.forget();
    },
    halt: async () => {
      if (!engine.current()) return;
      await end(engine.stopSignal);
      engine.forget();
    },
    restart: async () => {
      await end(engine.stopSignal);
      await engine.start();
    },
    stop: async () => {
      await end(engine.stopSignal);
      engine.forget();
      await engine.remove();
    },
  };
}

function signalGroup(running: Running, signal: NodeJS.Signals): void {
  const pid = running.child.pid;
  if (pid === undefined || running.hasExited()) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

async function untilListening(
  name: string,
  running: Running,
  port: number,
  ready: () => Promise<boolean> = () => canConnect(port),
): Promise<void> {
  await waitFor(
    `${name} to accept connections on port ${port}`,
    async () => {
      if (running.hasExited()) throw new Error(`${name} exited: ${running.output().slice(-2000)}`);
      return ready();
    },
    { timeoutMs: 30_000, intervalMs: 25 },
  );
}

/** PostgreSQL accepts TCP connections before it accepts queries ("starting up"): ask it. */
function postgresAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const check = spawn(join(POSTGRES_BIN, "pg_isready"), ["-h", "127.0.0.1", "-p", String(port)], {
      stdio: "ignore",
    });
    check.once("error", () => resolve(false));
    check.once("exit", (code) => resolve(code === 0));
  });
}

/** A real redis-server with an append-only file, as Tandem's cluster mode requires. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisEngine> {
  const dir = await tempDir("tandem-redis-");
  const port = await freePort();
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir.path,
    "--appendonly",
    options.appendonly === false ? "no" : "yes",
    "--appendfsync",
    options.appendfsync ?? "no",
    "--maxmemory-policy",
    options.maxmemoryPolicy ?? "noeviction",
    "--save",
    "",
    "--daemonize",
    "no",
    "--logfile",
    "",
  ];
  let running: Running | null = null;
  const start = async () => {
    running = run(REDIS_SERVER, args);
    await untilListening("redis-server", running, port);
  };
  await start();
  const current = () => running as Running | null;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir: dir.path,
    get running() {
      const r = current();
      return r !== null && !r.hasExited();
    },
    get pid() {
      const r = current();
      return r === null || r.hasExited() ? null : (r.child.pid ?? null);
    },
    cli: (...command) =>
      execFileSync("redis-cli", ["-p", String(port), ...command], { encoding: "utf8" }).trim(),
    ...lifecycle({
      current,
      forget: () => {
        running = null;
      },
      start,
      remove: dir.remove,
      stopSignal: "SIGTERM",
    }),
  };
}

export interface PostgresEngine extends Engine {
  /** Creates a database and returns its URL. */
  createDatabase(name: string): Promise<string>;
}

/** The uid and gid to run PostgreSQL as: our own when not root, else POSTGRES_USER's. */
function postgresIdentity(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const lookup = () => {
    try {
      const uid = Number(
        execFileSync("id", ["-u", POSTGRES_USER], { encoding: "utf8", stdio: "pipe" }),
      );
      const gid = Number(
        execFileSync("id", ["-g", POSTGRES_USER], { encoding: "utf8", stdio: "pipe" }),
      );
      return { uid, gid };
    } catch {
      return null;
    }
  };
  const found = lookup();
  if (found) return found;
  try {
    execFileSync(
      "useradd",
      ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", POSTGRES_USER],
      {
        stdio: "ignore",
      },
    );
  } catch {
    // Another test file may have created it at the same moment.
  }
  const created = lookup();
  if (!created) throw new Error(`could not create the system user ${POSTGRES_USER} for PostgreSQL`);
  return created;
}

/** A real PostgreSQL 15 cluster, superuser `postgres`, trust authentication on 127.0.0.1. */
export async function startPostgres(): Promise<PostgresEngine> {
  const identity = postgresIdentity();
  const dir = await tempDir("tandem-pg-");
  const data = join(dir.path, "data");
  const sockets = join(dir.path, "sockets");
  mkdirSync(data, { mode: 0o700 });
  mkdirSync(sockets);
  if (identity) {
    chownSync(dir.path, identity.uid, identity.gid);
    chownSync(data, identity.uid, identity.gid);
    chownSync(sockets, identity.uid, identity.gid);
  }
  const asUser = identity ?? {};
  if (!existsSync(join(POSTGRES_BIN, "initdb"))) {
    throw new Error(
      `PostgreSQL 15 is not installed (${POSTGRES_BIN}/initdb): apt-get install postgresql`,
    );
  }
  execFileSync(
    join(POSTGRES_BIN, "initdb"),
    ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"],
    { stdio: "pipe", ...asUser },
  );
  const port = await freePort();
  const args = [
    "-D",
    data,
    "-p",
    String(port),
    "-h",
    "127.0.0.1",
    "-k",
    sockets,
    "-c",
    "shared_buffers=16MB",
    "-c",
    "max_connections=100",
  ];
  let running: Running | null = null;
  const start = async () => {
    // After a SIGKILL the postmaster's shared memory may still be held for a moment: retry.
    await waitFor(
      "PostgreSQL to start",
      async () => {
        const attempt = run(join(POSTGRES_BIN, "postgres"), args, asUser);
        try {
          await untilListening("postgres", attempt, port, () => postgresAccepts(port));
          running = attempt;
          return true;
        } catch (error) {
          signalGroup(attempt, "SIGKILL");
          throw error;
        }
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  };
  await start();
  const current = () => running as Running | null;
  const base = `postgres://postgres@127.0.0.1:${port}`;
  const psql = (sql: string) =>
    execFileSync(
      join(POSTGRES_BIN, "psql"),
      ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-c", sql],
      { stdio: "pipe" },
    );
  return {
    url: `${base}/postgres`,
    port,
    dir: dir.path,
    get running() {
      const r = current();
      return r !== null && !r.hasExited();
    },
    get pid() {
      const r = current();
      return r === null || r.hasExited() ? null : (r.child.pid ?? null);
    },
    createDatabase: async (name) => {
      psql(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      return `${base}/${encodeURIComponent(name)}`;
    },
    // SIGINT: PostgreSQL's fast shutdown (disconnects clients, no waiting for them).
    ...lifecycle({
      current,
      forget: () => {
        running = null;
      },
      start,
      remove: dir.remove,
      stopSignal: "SIGINT",
    }),
  };
}
