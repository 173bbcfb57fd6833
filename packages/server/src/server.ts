import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { type Extension, Hocuspocus } from "@hocuspocus/server";
import type { ServerConfig } from "./config.ts";
import { Durability } from "./extensions/durability.ts";
import { guardHooks } from "./extensions/guard-hooks.ts";
import { handleHttp, healthRoutes, type Route } from "./http/routes.ts";
import { type Logger, silentLogger } from "./logger.ts";
import type { DocumentStore } from "./store/document-store.ts";
import { LevelDocumentStore } from "./store/leveldb-store.ts";
import { WebSocketGateway } from "./websocket-gateway.ts";

export interface StartOptions {
  logger?: Logger;
  /** Use this store instead of opening LevelDB under config.data (the server closes it). */
  store?: DocumentStore;
  /** More Hocuspocus extensions, after Tandem's own. */
  extensions?: readonly Extension[];
  /** More HTTP routes, tried before the 404. */
  routes?: readonly Route[];
}

export interface TandemServer {
  /** ws://host:port, with the real port when port 0 was asked. */
  readonly url: string;
  readonly httpUrl: string;
  readonly port: number;
  readonly hocuspocus: Hocuspocus;
  readonly store: DocumentStore;
  /** Stops accepting, closes every socket (clients reconnect), finishes writes, closes the store. */
  stop(): Promise<void>;
}

export async function openStore(config: ServerConfig, logger: Logger): Promise<DocumentStore> {
  const log = logger.child({ component: "store" });
  return LevelDocumentStore.open({
    path: resolve(config.data),
    fsync: config.fsync,
    compaction: { maxUpdates: config.compactAfterUpdates, maxBytes: config.compactAfterBytes },
    events: {
      compactionStarted: (name) => log.debug({ document: name }, "compaction started"),
      compacted: (result, ms) =>
        log.debug({ ...result, ms: Math.round(ms) }, "compaction finished"),
      compactionFailed: (name, err) => log.error({ err, document: name }, "compaction failed"),
      loadFailedEntries: (name, failed) =>
        log.error({ document: name, failed }, "skipped stored updates that fail to apply"),
    },
  });
}

/** Starts a Tandem server as configured and resolves once it accepts connections. */
export async function startServer(
  config: ServerConfig,
  options: StartOptions = {},
): Promise<TandemServer> {
  const logger = options.logger ?? silentLogger();
  const store = options.store ?? (await openStore(config, logger));
  let stopping: Promise<void> | null = null;

  const extensions = [new Durability(store, logger), ...(options.extensions ?? [])].map((e) =>
    guardHooks(e, logger),
  );
  const hocuspocus = new Hocuspocus({
    name: "tandem",
    quiet: true,
    extensions,
    // Tandem stores every update as it arrives and has no onStoreDocument hook, so Hocuspocus's
    // debounced store only decides when a document may unload: right after its last client.
    unloadImmediately: true,
  });

  const gateway = new WebSocketGateway(hocuspocus, logger, {
    maxMessageSize: config.maxMessageSize,
  });
  const http: HttpServer = createServer(
    handleHttp([
      healthRoutes({ ready: () => stopping === null && store.isOpen }),
      ...(options.routes ?? []),
    ]),
  );
  http.on("upgrade", gateway.handleUpgrade);

  try {
    await new Promise<void>((resolveListen, rejectListen) => {
      http.once("error", rejectListen);
      http.listen(config.port, config.host, () => {
        http.off("error", rejectListen);
        resolveListen();
      });
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  const { port } = http.address() as AddressInfo;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;

  const stop = async (): Promise<void> => {
    const closed = new Promise<void>((r) => http.close(() => r()));
    http.closeIdleConnections();
    await gateway.closeAll(Math.max(100, config.shutdownTimeout / 4));
    await documentsUnloaded(hocuspocus, config.shutdownTimeout / 2);
    await store.close();
    http.closeAllConnections();
    await closed;
  };

  return {
    url: `ws://${host}:${port}`,
    httpUrl: `http://${host}:${port}`,
    port,
    hocuspocus,
    store,
    stop: () => {
      stopping ??= stop();
      return stopping;
    },
  };
}

/**
 * Hocuspocus unloads a document after its last connection closed and that connection's queued
 * messages were handled; once every document is gone, no more appends can start.
 */
async function documentsUnloaded(hocuspocus: Hocuspocus, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (hocuspocus.getDocumentsCount() > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
}
