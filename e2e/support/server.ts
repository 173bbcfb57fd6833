import { fileURLToPath } from "node:url";
import { type SpawnedServer, spawnServer, tempDir } from "@tandem/testkit";

export const EDITOR_DIST = fileURLToPath(new URL("../../apps/editor/dist", import.meta.url));

export interface ServerOptions {
  /** Extra `tandem serve` flags, e.g. ["--auth", "jwt"]. */
  args?: string[];
  env?: Record<string, string>;
}

/**
 * A real Tandem server for one test: `tandem serve` as a child process on a free port, with a
 * fresh data directory, serving the built editor on the same port. It can be stopped and
 * started again on the same port and data, as an operator would restart it.
 */
export class TestServer {
  private current: SpawnedServer | null = null;
  /**
   * A start under way when the test ends (it timed out during a restart) is waited for, so that
   * dispose() stops that server too instead of leaving it running after the test.
   */
  private starting: Promise<SpawnedServer> | null = null;

  private port = 0;
  /** Every log line of every run, for the report of a failed test. */
  readonly history: string[] = [];

  private constructor(
    private readonly data: { path: string; remove(): Promise<void> },
    private readonly options: ServerOptions,
  ) {}

  static async start(options: ServerOptions = {}): Promise<TestServer> {
    const server = new TestServer(await tempDir("tandem-e2e-"), options);
    await server.start();
    return server;
  }

  /** http://127.0.0.1:PORT: the editor's origin (and the WebSocket's). */
  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.current !== null;
  }

  /** The address of a document, with query parameters such as { user: "Alice" }. */
  documentUrl(name: string, params: Record<string, string> = {}): string {
    const url = new URL(`/d/${encodeURIComponent(name)}`, this.httpUrl);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    return url.href;
  }

  /** Starts the server; after a stop, on the same port and data directory. */
  async start(): Promise<void> {
    if (this.current || this.starting) throw new Error("the server is already running");
    this.starting = this.spawn();
    try {
      this.current = await this.starting;
      this.port = this.current.port;
    } finally {
      this.starting = null;
    }
  }

  private spawn(): Promise<SpawnedServer> {
    return spawnServer(
      [
        "--port",
        String(this.port),
        "--data",
        this.data.path,
        "--static-dir",
        EDITOR_DIST,
        ...(this.options.args ?? []),
      ],
      this.options.env,
    );
  }

  /** Stops the server (SIGTERM: a graceful shutdown; SIGKILL: a crash) and waits for the exit. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (this.starting) await this.starting.catch(() => {});
    const spawned = this.current;
    if (!spawned) return;
    this.current = null;
    spawned.kill(signal);
    const code = await spawned.exited;
    this.keepLogs(spawned);
    if (signal === "SIGTERM" && code !== 0) {
      throw new Error(`the server exited with ${code} after SIGTERM; stderr: ${spawned.stderr()}`);
    }
  }

  async restart(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    await this.stop(signal);
    await this.start();
  }

  /** Stops the server and deletes its data. */
  async dispose(): Promise<void> {
    await this.stop("SIGKILL").catch(() => {});
    await this.data.remove();
  }

  /** The logs of every run so far, the current one included. */
  logs(): string {
    const current = this.current ? this.lines(this.current) : [];
    return [...this.history, ...current].join("\n");
  }

  private keepLogs(spawned: SpawnedServer): void {
    this.history.push(...this.lines(spawned), "---- server stopped ----");
  }

  private lines(spawned: SpawnedServer): string[] {
    const lines = spawned.logs.map((line) => JSON.stringify(line));
    const stderr = spawned.stderr().trim();
    return stderr ? [...lines, `stderr: ${stderr}`] : lines;
  }
}
