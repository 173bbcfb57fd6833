import type { ServerConfig, StartOptions } from "@tandem/server";
import { startTestServer, type TestServer, tempDir } from "@tandem/testkit";
import WebSocket from "ws";
import { type ClientOptions, createClient, type TandemClient } from "../src/index.ts";

/** Quick retries, so that tests about reconnecting wait for conditions, not for backoff. */
export const FAST_RECONNECT = { minDelayMs: 20, maxDelayMs: 200, connectTimeoutMs: 5_000 };

/**
 * Clients for one test file: real SDK clients over real WebSockets (ws), without the offline
 * cache unless a test asks for it, all closed by closeAll() in afterEach.
 */
export function clientPool() {
  const clients: TandemClient[] = [];
  return {
    create(url: string, options: Partial<ClientOptions> = {}): TandemClient {
      const client = createClient({
        url,
        WebSocketPolyfill: WebSocket,
        offline: false,
        reconnect: FAST_RECONNECT,
        ...options,
      });
      clients.push(client);
      return client;
    },
    async closeAll(): Promise<void> {
      await Promise.all(clients.splice(0).map((client) => client.close()));
    },
  };
}

/** Records every value an event delivers, in order. */
export function record<T>(on: (listener: (value: T) => void) => unknown): T[] {
  const values: T[] = [];
  on((value) => values.push(value));
  return values;
}

/** Drops consecutive repeats: [a, a, b, a] becomes [a, b, a]. */
export function transitions<T>(values: readonly T[]): T[] {
  return values.filter((value, i) => i === 0 || value !== values[i - 1]);
}

/** A server that can be stopped and started again on the same port and data directory. */
export interface RestartableServer {
  readonly current: TestServer;
  readonly url: string;
  stop(): Promise<void>;
  start(options?: StartOptions): Promise<void>;
}

/**
 * Real servers for one test file, each over a temp data directory, all stopped and removed by
 * disposeAll() in afterEach.
 */
export function serverPool() {
  const servers: TestServer[] = [];
  const dirs: { remove(): Promise<void> }[] = [];
  const launch = async (config: Partial<ServerConfig>, options: StartOptions) => {
    const server = await startTestServer(config, options);
    servers.push(server);
    return server;
  };
  return {
    async start(
      config: Partial<ServerConfig> = {},
      options: StartOptions = {},
    ): Promise<TestServer> {
      if (config.data) return launch(config, options);
      const dir = await tempDir();
      dirs.push(dir);
      return launch({ ...config, data: dir.path }, options);
    },
    async restartable(
      config: Partial<ServerConfig> = {},
      options: StartOptions = {},
    ): Promise<RestartableServer> {
      let server = await this.start(config, options);
      return {
        get current() {
          return server;
        },
        get url() {
          return server.url;
        },
        stop: () => server.stop(),
        async start(next = options) {
          server = await launch({ ...config, port: server.port, data: server.dataDir }, next);
        },
      };
    },
    async disposeAll(): Promise<void> {
      for (const server of servers.splice(0)) await server.dispose();
      for (const dir of dirs.splice(0)) await dir.remove();
    },
  };
}
