import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ClientOptions,
  createClient,
  type TandemClient,
  type TandemDocument,
} from "@tandem/provider";
import { defaultConfig, startServer, type TandemServer } from "@tandem/server";
import { waitFor } from "@testing-library/react";
import WebSocket from "ws";

/**
 * A real Tandem server on 127.0.0.1, port 0, over a fresh LevelDB in a temp dir.
 *
 * Not @tandem/testkit's startTestServer: importing the testkit fails in a DOM environment, where
 * Vite rewrites its `new URL("../../server/bin/tandem.mjs", import.meta.url)` (spawn.ts) into an
 * http:// URL that fileURLToPath rejects. This is the same few lines, over the same server.
 */
export async function startRealServer(): Promise<TandemServer & { dispose(): Promise<void> }> {
  const data = await mkdtemp(join(tmpdir(), "tandem-react-test-"));
  const server = await startServer(defaultConfig({ host: "127.0.0.1", port: 0, data }));
  return Object.assign(server, {
    dispose: async () => {
      await server.stop();
      await rm(data, { recursive: true, force: true });
    },
  });
}

/**
 * createClient() options for tests: the ws package's WebSocket, as in the SDK's own tests
 * (Node.js 20 has none), no offline cache (jsdom has no IndexedDB), and quick retries.
 */
export function clientOptions(url: string): ClientOptions {
  return {
    url,
    WebSocketPolyfill: WebSocket,
    offline: false,
    reconnect: { minDelayMs: 20, maxDelayMs: 200, connectTimeoutMs: 5_000 },
  };
}

/** Clients a test creates itself, all closed by closeAll() in afterEach. */
export function clientPool() {
  const clients: TandemClient[] = [];
  return {
    create(url: string): TandemClient {
      const client = createClient(clientOptions(url));
      clients.push(client);
      return client;
    },
    async closeAll(): Promise<void> {
      await Promise.all(clients.splice(0).map((client) => client.close()));
    },
  };
}

/** Every handle a client's open() returned, in order: how many the hooks really opened. */
export function recordOpens(client: TandemClient): TandemDocument[] {
  const opened: TandemDocument[] = [];
  const open = client.open.bind(client);
  client.open = (name, options) => {
    const handle = open(name, options);
    opened.push(handle);
    return handle;
  };
  return opened;
}

/** How many clients the server has in one document right now (0 once it is unloaded). */
export function connectionsTo(server: TandemServer, name: string): number {
  return server.hocuspocus.documents.get(name)?.getConnectionsCount() ?? 0;
}

/** Testing Library's waitFor, with room for real network round trips. */
export function eventually<T>(check: () => T): Promise<T> {
  return waitFor(check, { timeout: 15_000 });
}
