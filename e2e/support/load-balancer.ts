import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  freePort,
  type PostgresEngine,
  type RedisEngine,
  type SpawnedServer,
  spawnServer,
  startPostgres,
  startRedis,
  tempDir,
  waitFor,
} from "@tandem/testkit";
import type { Site } from "./fixtures.ts";
import { EDITOR_DIST } from "./server.ts";

/**
 * Tandem as a cluster behind a real load balancer: Redis and PostgreSQL (the testkit's engines),
 * three `tandem serve` instances in cluster mode serving the built editor, and Debian's nginx in
 * front with the site configuration the README shows (docs/nginx/tandem.conf): round-robin, no
 * sticky sessions. Everything runs on free ports of 127.0.0.1 in temp directories; nginx writes
 * nothing outside its own.
 */

export const NGINX = process.env.NGINX_PATH ?? "/usr/sbin/nginx";
export const SITE_CONFIG = fileURLToPath(new URL("../../docs/nginx/tandem.conf", import.meta.url));
/** The ports the README's configuration names, replaced by the instances' real ones. */
const SITE_PORTS = [1234, 1235, 1236];
/** The cookie each person's browser sends, so nginx's access log names whose socket it was. */
export const PERSON_COOKIE = "tandem_person";

/** One `tandem serve` in cluster mode; after a kill it starts again on the same port. */
export class Instance {
  private current: SpawnedServer | null = null;
  private port = 0;
  private readonly history: string[] = [];

  constructor(
    readonly name: string,
    private readonly args: readonly string[],
  ) {}

  /** host:port, as nginx's $upstream_addr names it. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.current !== null;
  }

  async start(): Promise<void> {
    if (this.current) throw new Error(`${this.name} is already running`);
    this.current = await spawnServer(["--port", String(this.port), ...this.args]);
    this.port = this.current.port;
  }

  /** SIGKILL: the instance crashes; its sockets drop at once. */
  async kill(): Promise<void> {
    const spawned = this.current;
    if (!spawned) return;
    this.current = null;
    spawned.kill("SIGKILL");
    await spawned.exited;
    this.history.push(...lines(spawned), `---- ${this.name} killed ----`);
  }

  /**
   * TCP connections established to this instance right now. nginx opens a fresh upstream
   * connection per request and closes it with the response, so what stays open are sockets.
   */
  openConnections(): number {
    if (!this.current) return 0;
    const port = this.port.toString(16).toUpperCase().padStart(4, "0");
    return readFileSync("/proc/net/tcp", "utf8")
      .split("\n")
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter(([, local, , state]) => local?.endsWith(`:${port}`) && state === "01").length;
  }

  logs(): string {
    const current = this.current ? lines(this.current) : [];
    return [...this.history, ...current].map((line) => `[${this.name}] ${line}`).join("\n");
  }
}

function lines(spawned: SpawnedServer): string[] {
  const stderr = spawned.stderr().trim();
  const logs = spawned.logs.map((line) => JSON.stringify(line));
  return stderr ? [...logs, `stderr: ${stderr}`] : logs;
}

/** One line of nginx's access log, in the format `tandem_e2e` below. */
export interface AccessEntry {
  /** The tandem_person cookie ("-" without one). */
  person: string;
  status: number;
  /** A WebSocket upgrade, as opposed to a page, a script, /healthz... */
  socket: boolean;
  /** Every upstream nginx tried, in order ($upstream_addr: "a:1, b:2" after a retry). */
  upstreams: string[];
}

const LOG_FORMAT =
  "person=$cookie_tandem_person status=$status upgrade=$http_upgrade " +
  'upstream="$upstream_addr" request="$request"';

/** nginx in the foreground, as a child process in its own process group. */
export class Nginx {
  private constructor(
    private readonly child: ChildProcess,
    private readonly prefix: { path: string; remove(): Promise<void> },
    private readonly output: () => string,
    private readonly exited: Promise<void>,
  ) {}

  static async start(port: number, instances: readonly Instance[]): Promise<Nginx> {
    if (!existsSync(NGINX))
      throw new Error(`nginx is not installed (${NGINX}): apt-get install nginx`);
    const prefix = await tempDir("tandem-nginx-");
    const dir = prefix.path;
    mkdirSync(join(dir, "temp"));
    writeFileSync(join(dir, "tandem.conf"), siteConfig(port, instances));
    const root = process.getuid?.() === 0;
    if (root) {
      // As root, the master starts its workers as `nobody`: they must reach the temp dirs
      // (created by the master and given to that user).
      chmodSync(dir, 0o755);
    }
    const group = root ? execFileSync("id", ["-gn", "nobody"], { encoding: "utf8" }).trim() : "";
    writeFileSync(
      join(dir, "nginx.conf"),
      [
        root ? `user nobody ${group};` : "",
        "worker_processes 2;",
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log notice;`,
        "events { worker_connections 512; }",
        "http {",
        // Debian's build puts these under /var/lib/nginx: keep everything in the prefix.
        ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(
          (kind) => `  ${kind}_temp_path ${dir}/temp/${kind};`,
        ),
        `  log_format tandem_e2e '${LOG_FORMAT}';`,
        `  access_log ${dir}/access.log tandem_e2e;`,
        `  include ${dir}/tandem.conf;`,
        "}",
        "",
      ].join("\n"),
    );
    // -e: errors before the configuration is read go to the prefix too, not to /var/log.
    const child = spawn(
      NGINX,
      ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log"), "-g", "daemon off;"],
      { stdio: ["ignore", "pipe", "pipe"], detached: true },
    );
    let output = "";
    const keep = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    let hasExited = false;
    const exited = new Promise<void>((resolve) => {
      child.once("exit", () => {
        hasExited = true;
        resolve();
      });
    });
    running.add(child);
    void exited.then(() => running.delete(child));
    const nginx = new Nginx(child, prefix, () => output, exited);
    const url = `http://127.0.0.1:${port}/healthz`;
    try {
      await waitFor(
        `nginx to answer ${url}`,
        async () => {
          if (hasExited) throw new Error(`nginx exited: ${nginx.logs()}`);
          return (await fetch(url)).ok;
        },
        { timeoutMs: 20_000, intervalMs: 50 },
      );
    } catch (error) {
      await nginx.stop();
      throw error;
    }
    return nginx;
  }

  accessLog(): AccessEntry[] {
    const path = join(this.prefix.path, "access.log");
    if (!existsSync(path)) return [];
    return readFileSync(path, "utf8")
      .split("\n")
      .flatMap((line) => {
        const match = /^person=(\S+) status=(\d+) upgrade=(\S+) upstream="([^"]*)"/.exec(line);
        if (!match) return [];
        const [, person = "", status = "", upgrade = "", upstream = ""] = match;
        return [
          {
            person,
            status: Number(status),
            socket: upgrade.toLowerCase() === "websocket",
            upstreams: upstream.split(/,\s*/).filter((address) => address && address !== "-"),
          },
        ];
      });
  }

  /** WebSockets of one person (by cookie) that nginx has finished with, in order. */
  socketsOf(person: string): AccessEntry[] {
    return this.accessLog().filter((entry) => entry.socket && entry.person === person);
  }

  logs(): string {
    const read = (file: string) => {
      const path = join(this.prefix.path, file);
      return existsSync(path) ? readFileSync(path, "utf8") : "";
    };
    return [
      `[nginx] output: ${this.output()}`,
      `[nginx] error.log:\n${read("error.log")}`,
      `[nginx] access.log:\n${read("access.log")}`,
    ].join("\n");
  }

  /** Fast shutdown (SIGTERM to the process group: master and workers), then the prefix goes. */
  async stop(): Promise<void> {
    const pid = this.child.pid;
    if (pid !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
      try {
        process.kill(-pid, "SIGTERM");
      } catch {
        // Already gone.
      }
      await this.exited;
    }
    await this.prefix.remove();
  }
}

/** nginx processes still running when the test process exits go with it. */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
});

/** docs/nginx/tandem.conf with this run's ports. */
export function siteConfig(port: number, instances: readonly Instance[]): string {
  const site = readFileSync(SITE_CONFIG, "utf8");
  let replaced = 0;
  const config = site
    .replace(/^(\s*)listen 80;/m, (_, indent: string) => {
      replaced++;
      return `${indent}listen 127.0.0.1:${port};`;
    })
    .replace(/127\.0\.0\.1:(\d+)/g, (text, sitePort: string) => {
      const instance = instances[SITE_PORTS.indexOf(Number(sitePort))];
      if (!instance) return text;
      replaced++;
      return instance.address;
    });
  // listen, and each instance in both upstreams.
  const expected = 1 + 2 * SITE_PORTS.length;
  if (replaced !== expected) {
    throw new Error(
      `${SITE_CONFIG}: expected "listen 80;" and each of ${SITE_PORTS.join(", ")} in two upstreams (${replaced} of ${expected} found)`,
    );
  }
  return config;
}

/** Redis, PostgreSQL, three instances and nginx: start once per test file. */
export class BalancedCluster implements Site {
  private constructor(
    readonly redis: RedisEngine,
    readonly postgres: PostgresEngine,
    readonly instances: readonly Instance[],
    readonly nginx: Nginx,
    readonly url: string,
  ) {}

  static async start(): Promise<BalancedCluster> {
    const [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
    const stopEngines = () => Promise.all([redis.stop(), postgres.stop()]);
    const instances: Instance[] = [];
    try {
      const postgresUrl = await postgres.createDatabase("tandem_e2e");
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const args = [
        "--redis-url",
        redis.url,
        "--postgres-url",
        postgresUrl,
        "--static-dir",
        EDITOR_DIST,
        // The browser's origin is nginx's, not the instance's own.
        "--allowed-origin",
        url,
        "--trusted-proxy",
        "127.0.0.1",
      ];
      instances.push(
        ...["instance-1", "instance-2", "instance-3"].map((n) => new Instance(n, args)),
      );
      await Promise.all(instances.map((instance) => instance.start()));
      const nginx = await Nginx.start(port, instances);
      return new BalancedCluster(redis, postgres, instances, nginx, url);
    } catch (error) {
      await Promise.all(instances.map((instance) => instance.kill()));
      await stopEngines();
      throw error;
    }
  }

  documentUrl(name: string, params: Record<string, string> = {}): string {
    const url = new URL(`/d/${encodeURIComponent(name)}`, this.url);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    return url.href;
  }

  /** The instance an address names. */
  instanceAt(address: string): Instance {
    const instance = this.instances.find((i) => i.address === address);
    if (!instance) throw new Error(`no instance at ${address}`);
    return instance;
  }

  /** Open connections per instance, e.g. { "instance-1": 1, "instance-2": 1, "instance-3": 0 }. */
  openConnections(): Record<string, number> {
    return Object.fromEntries(this.instances.map((i) => [i.name, i.openConnections()]));
  }

  logs(): string {
    return [...this.instances.map((i) => i.logs()), this.nginx.logs()].join("\n");
  }

  async stop(): Promise<void> {
    await this.nginx.stop();
    await Promise.all(this.instances.map((instance) => instance.kill()));
    await Promise.all([this.redis.stop(), this.postgres.stop()]);
  }
}
