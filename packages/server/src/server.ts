import { readFileSync } from "node:fs";
import { createServer, type Server as HttpServer } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { type Extension, Hocuspocus } from "@hocuspocus/server";
import { decodeJwt } from "jose";
import { createTokenVerifier } from "./auth/tokens.ts";
import { ConfigError, checkConfig, type ServerConfig } from "./config.ts";
import { AuthenticatedSockets } from "./extensions/authenticated-sockets.ts";
import { Authentication } from "./extensions/authentication.ts";
import { DocumentLimits } from "./extensions/document-limits.ts";
import { DocumentSizeLimit } from "./extensions/document-size-limit.ts";
import { Durability } from "./extensions/durability.ts";
import { guardHooks } from "./extensions/guard-hooks.ts";
import { PresenceGuard } from "./extensions/presence-guard.ts";
import { UpdateGuard } from "./extensions/update-guard.ts";
import { handleHttp, healthRoutes, type Route } from "./http/routes.ts";
import { staticFiles } from "./http/static-files.ts";
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
    compaction: {
      minUpdates: config.compactAfterUpdates,
      ratio: config.compactionRatio,
      maxUpdates: config.maxLogUpdates,
      quietMs: config.compactWhenQuiet,
    },
    events: {
      compactionStarted: (name) => log.debug({ document: name }, "compaction started"),
      compacted: (result, ms) =>
        log.debug({ ...result, ms: Math.round(ms) }, "compaction finished"),
      compactionFailed: (name, err) => log.error({ err, document: name }, "compaction failed"),
      loadFailedEntries: (name, failed) =>
        log.error({ document: name, failed }, "skipped stored updates that fail to apply"),
      storage: {
        failed: (err) =>
          log.error(
            { err },
            "a write to the data directory failed: acknowledgements are held and writes retried until it takes writes again",
          ),
        retrying: (err, retryInMs) =>
          log.debug({ err, retryInMs }, "the data directory still refuses writes"),
        recovered: (downMs, attempts) =>
          log.warn(
            { downMs: Math.round(downMs), attempts },
            "the data directory takes writes again: held writes stored, acknowledgements resume",
          ),
      },
    },
  });
}

/** Starts a Tandem server as configured and resolves once it accepts connections. */
export async function startServer(
  config: ServerConfig,
  options: StartOptions = {},
): Promise<TandemServer> {
  const logger = options.logger ?? silentLogger();
  checkConfig(config);
  // Read keys and certificates before anything opens, so a bad file is a config error.
  const verifier = config.auth === "jwt" ? createTokenVerifier(config) : null;
  const tls = config.tlsCert ? readTls(config) : null;
  const store = options.store ?? (await openStore(config, logger));
  let stopping: Promise<void> | null = null;

  const authenticated = new AuthenticatedSockets();
  const updateLimits = {
    allowSubdocuments: config.allowSubdocuments,
    maxNestingDepth: config.maxNestingDepth,
    maxChangedTypes: config.maxChangedTypes,
  };
  const documentLimits = new DocumentLimits({
    perSocket: config.maxSocketDocuments,
    perUser: config.maxUserDocuments,
    userOf: verifier ? userOfVerifiedToken : () => null,
    logger,
  });
  const extensions: Extension[] = [
    new Authentication({
      verifier,
      tokenGraceMs: config.tokenGrace,
      maxTokenLifetimeMs: config.maxTokenLifetime,
      logger,
    }),
    new PresenceGuard({
      showViewers: config.showViewers,
      maxClientsPerMessage: config.maxAwarenessClientsPerMessage,
      maxClientsPerConnection: config.maxAwarenessClientsPerConnection,
      logger,
    }),
    new DocumentSizeLimit(store, config.maxDocumentSize, logger),
    new UpdateGuard({ ...updateLimits, maxPendingBytes: config.maxPendingBytes, logger }),
    new Durability(store, logger),
    authenticated,
    ...(options.extensions ?? []),
    // Last, with the lowest priority: counts only documents every other extension accepted.
    documentLimits,
  ];
  const hocuspocus = new Hocuspocus({
    name: "tandem",
    quiet: true,
    extensions: extensions.map((e) => guardHooks(e, logger)),
    // Tandem stores every update as it arrives and has no onStoreDocument hook, so Hocuspocus's
    // debounced store only decides when a document may unload: right after its last client.
    unloadImmediately: true,
    maxUnauthenticatedQueueSize: config.preAuthMaxBytes,
    maxUnauthenticatedQueueMessages: config.preAuthMaxMessages,
    maxPendingDocuments: config.preAuthMaxDocuments,
  });
  const gateway = new WebSocketGateway(hocuspocus, logger, {
    maxMessageSize: config.maxMessageSize,
    allowedOrigins: config.allowedOrigin,
    // Without tokens, a socket is all it takes to read and write: only the server's own pages
    // (and programs, which send no Origin) may open one, unless origins are listed.
    sameOriginOnly: config.auth === "none",
    port: () => (http.address() as AddressInfo | null)?.port ?? config.port,
    maxDocumentNameBytes: config.maxDocumentNameLength,
    trustedProxies: config.trustedProxy,
    maxConnectionsPerIp: config.maxConnectionsPerIp,
    connectionsPerMinute: config.connectionsPerMinute,
    messageRate: config.messageRate,
    messageBurst: config.messageBurst,
    authTimeoutMs: config.authTimeout,
    authenticated,
    updateLimits,
    maxBufferedBytes: config.maxBufferedBytes,
    documentLimits,
  });

  const handler = handleHttp([
    healthRoutes({
      ready: () =>
        stopping === null ? store.status : { ready: false, reason: "the server is shutting down" },
    }),
    ...(options.routes ?? []),
    ...(config.staticDir ? [staticFiles(config.staticDir)] : []),
  ]);
  const http: HttpServer = tls ? createTlsServer(tls, handler) : createServer(handler);
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
  const secure = tls ? "s" : "";

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
    url: `ws${secure}://${host}:${port}`,
    httpUrl: `http${secure}://${host}:${port}`,
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
 * The user of a token the Authentication extension has already verified (DocumentLimits runs
 * after it), so reading its `sub` without verifying again is safe.
 */
function userOfVerifiedToken(token: string): string | null {
  try {
    return decodeJwt(token).sub ?? null;
  } catch {
    return null;
  }
}

function readTls(config: ServerConfig): { cert: Buffer; key: Buffer } {
  const read = (flag: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new ConfigError(`cannot read ${flag} ${path}: ${(error as Error).message}`);
    }
  };
  return { cert: read("--tls-cert", config.tlsCert), key: read("--tls-key", config.tlsKey) };
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
