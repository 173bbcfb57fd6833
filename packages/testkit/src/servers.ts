import {
  defaultConfig,
  LevelDocumentStore,
  type ServerConfig,
  type StartOptions,
  startServer,
  type TandemServer,
} from "@tandem/server";
import { GatedStore } from "./gated-store.ts";
import { tempDir } from "./temp.ts";

export interface TestServer extends TandemServer {
  readonly dataDir: string;
  /** Stops this server and starts a new one on the same port and data directory. */
  restart(options?: StartOptions): Promise<TestServer>;
  /** Stops the server (if running) and deletes its data directory (if the kit made it). */
  dispose(): Promise<void>;
}

/** A real Tandem server on 127.0.0.1, port 0, over a fresh LevelDB in a temp dir. */
export async function startTestServer(
  config: Partial<ServerConfig> = {},
  options: StartOptions = {},
): Promise<TestServer> {
  const dir = config.data ? null : await tempDir();
  const data = config.data ?? (dir as { path: string }).path;
  return wrap({ ...config, data }, options, dir?.remove);
}

/**
 * A test server over a real LevelDB whose appends can be held back (GatedStore): for showing
 * what waits for the disk. Disposing the server removes its data.
 */
export async function startGatedServer(
  config: Partial<ServerConfig> = {},
): Promise<{ server: TestServer; gated: GatedStore }> {
  const dir = await tempDir();
  const inner = await LevelDocumentStore.open({
    path: dir.path,
    fsync: false,
    compaction: { minUpdates: 500, ratio: 0.5, maxUpdates: 20_000 },
  });
  const gated = new GatedStore(inner);
  const server = await wrap({ ...config, data: dir.path }, { store: gated }, dir.remove);
  return { server, gated };
}

async function wrap(
  config: Partial<ServerConfig> & { data: string },
  options: StartOptions,
  removeData: (() => Promise<void>) | undefined,
): Promise<TestServer> {
  const server = await startServer(
    defaultConfig({ host: "127.0.0.1", port: 0, ...config }),
    options,
  );
  return {
    url: server.url,
    httpUrl: server.httpUrl,
    port: server.port,
    hocuspocus: server.hocuspocus,
    store: server.store,
    metricsUrl: server.metricsUrl,
    stop: () => server.stop(),
    dataDir: config.data,
    restart: async (restartOptions = {}) => {
      await server.stop();
      return wrap({ ...config, port: server.port }, restartOptions, removeData);
    },
    dispose: async () => {
      await server.stop();
      await removeData?.();
    },
  };
}

/** How often the server hit a limit (tandem_limit_hits_total{limit}), read from /metrics. */
export async function limitHits(server: TandemServer, limit: string): Promise<number> {
  const text = await (await fetch(server.metricsUrl as string)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`tandem_limit_hits_total{limit="${limit}"}`));
  return Number(line?.split(" ")[1] ?? 0);
}
