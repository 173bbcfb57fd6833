import {
  defaultConfig,
  type ServerConfig,
  type StartOptions,
  startServer,
  type TandemServer,
} from "@tandem/server";
import { tempDir } from "./temp.ts";

export interface TestServer extends TandemServer {
  readonly dataDir: string;
  /** Stops the server (if running) and deletes its data directory. */
  dispose(): Promise<void>;
}

/** A real Tandem server on 127.0.0.1, port 0, over a fresh LevelDB in a temp dir. */
export async function startTestServer(
  config: Partial<ServerConfig> = {},
  options: StartOptions = {},
): Promise<TestServer> {
  const dir = config.data ? null : await tempDir();
  const data = config.data ?? (dir as { path: string }).path;
  const server = await startServer(
    defaultConfig({ host: "127.0.0.1", port: 0, ...config, data }),
    options,
  );
  return Object.assign(Object.create(server) as TandemServer, {
    url: server.url,
    httpUrl: server.httpUrl,
    port: server.port,
    hocuspocus: server.hocuspocus,
    store: server.store,
    stop: () => server.stop(),
    dataDir: data,
    dispose: async () => {
      await server.stop();
      await dir?.remove();
    },
  });
}
