import { readFileSync } from "node:fs";
import { createServer, type Server as HttpServer } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { type Extension, Hocuspocus } from "@hocuspocus/server";
import { decodeJwt } from "jose";
import { createTokenVerifier } from "./auth/tokens.ts";
import { ConfigError, checkConfig, type ServerConfig } from "./config.ts";
import { ApplyOnce } from "./extensions/apply-once.ts";
import { Authentication } from "./extensions/authentication.ts";
import { AwarenessQuery } from "./extensions/awareness-query.ts";
import { ConnectionRegistry } from "./extensions/connection-registry.ts";
import { DocumentGuid } from "./extensions/document-guid.ts";
import { DocumentLimits } from "./extensions/document-limits.ts";
import { DocumentSizeLimit } from "./extensions/document-size-limit.ts";
import { Durability } from "./extensions/durability.ts";
import { FairTurns } from "./extensions/fair-turns.ts";
import { guardHooks } from "./extensions/guard-hooks.ts";
import { MetricsHooks } from "./extensions/metrics.ts";
import { PresenceGuard } from "./extensions/presence-guard.ts";
import { RemotePresence } from "./extensions/remote-presence.ts";
import { RemoteUpdates } from "./extensions/remote-updates.ts";
import { UpdateGuard } from "./extensions/update-guard.ts";
import { authorOf } from "./history/authors.ts";
import { VersionRecorder } from "./history/recorder.ts";
import { Restorer } from "./history/restore.ts";
import { parseRetention } from "./history/retention.ts";
import { adminApi } from "./http/admin/index.ts";
import { handleHttp, healthRoutes, metricsRoute, type Route } from "./http/routes.ts";
import { staticFiles } from "./http/static-files.ts";
import { versionsApi } from "./http/versions/index.ts";
import { LoadGate } from "./limits/load-gate.ts";
import { type Logger, silentLogger } from "./logger.ts";
import { MAX_TIMEOUT_MS } from "./long-timeout.ts";
import { Metrics } from "./metrics/registry.ts";
import type { CompactionResult, DocumentStore } from "./store/document-store.ts";
import { LevelDocumentStore } from "./store/leveldb-store.ts";
import { openClusterStore } from "./store/open-cluster.ts";
import { WebSocketGateway } from "./websocket-gateway.ts";

export interface StartOptions {
  logger?: Logger;
  /** Use this store instead of opening LevelDB under config.data (the server closes it). */
  store?: DocumentStore;
  /**
   * More Hocuspocus extensions, after Tandem's own. A beforeSync payload is valid during the
   * hook: copy it to keep it, since the bytes are then blanked (extensions/apply-once.ts). A
   * hook's `request` is not a fetch Request: its `url` is the request target as the client sent
   * it (`/?token=…`, as Node's IncomingMessage.url) unless that needs the absolute form, so read
   * the query from `requestParameters` (or resolve the URL against a base). Loading a stored
   * document fires no `update` event on it (store/merge.ts): watch changes from afterLoadDocument
   * on, or with onChange.
   */
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
  /** Where Prometheus scrapes (http://host:port/metrics); null with --no-metrics. */
  readonly metricsUrl: string | null;
  /** Stops accepting, closes every socket (clients reconnect), finishes writes, closes the store. */
  stop(): Promise<void>;
}

/**
 * The one place that picks the storage backend: Redis Streams + PostgreSQL when both URLs are
 * set (several instances share documents), else LevelDB under --data. Nothing else in the server
 * knows which one it got.
 */
export async function openStore(
  config: ServerConfig,
  logger: Logger,
  metrics: Metrics | null = null,
): Promise<DocumentStore> {
  const log = logger.child({ component: "store" });
  const compaction = {
    minUpdates: config.compactAfterUpdates,
    ratio: config.compactionRatio,
    maxUpdates: config.maxLogUpdates,
    quietMs: config.compactWhenQuiet,
  };
  const events = {
    compactionStarted: (name: string) => log.debug({ document: name }, "compaction started"),
    compacted: (result: CompactionResult, ms: number) => {
      metrics?.compacted(result, ms);
      log.debug({ ...result, ms: Math.round(ms) }, "compaction finished");
    },
    compactionFailed: (name: string, err: unknown) => {
      metrics?.compactionFailed();
      log.error({ err, document: name }, "compaction failed");
    },
    loadFailedEntries: (name: string, failed: number) =>
      log.error({ document: name, failed }, "skipped stored updates that fail to apply"),
    // Append latency and batch sizes (both stores report them).
    ...(metrics
      ? {
          appended: (ms: number) => metrics.appended(ms),
          batchWritten: (writes: number, bytes: number, ms: number) =>
            metrics.batchWritten(writes, bytes, ms),
        }
      : {}),
  };
  if (config.redisUrl !== "") {
    return openClusterStore({
      redisUrl: config.redisUrl,
      postgresUrl: config.postgresUrl,
      fsync: config.fsync,
      compaction,
      events: {
        ...events,
        statusChanged: (status) =>
          status.ready
            ? log.info("Redis and PostgreSQL reachable again")
            : log.error({ reason: status.reason }, "store not ready"),
        readFailed: (err) => log.warn({ err }, "reading document streams failed; retrying"),
        appendsHeld: (err) =>
          log.error(
            { err },
            "Redis did not take an append: acknowledgements are held and appends retried until it does",
          ),
        appendsResumed: (heldMs, attempts) =>
          log.warn(
            { heldMs: Math.round(heldMs), attempts },
            "Redis takes appends again: held appends stored, acknowledgements resume",
          ),
      },
    });
  }
  return LevelDocumentStore.open({
    path: resolve(config.data),
    fsync: config.fsync,
    compaction,
    events: {
      ...events,
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
  const metrics = config.metrics ? new Metrics() : null;
  const store = options.store ?? (await openStore(config, logger, metrics));
  let stopping: Promise<void> | null = null;

  const registry = new ConnectionRegistry();
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
    metrics,
  });
  // Each update is stored with its author: the token's user, else the presence identity.
  const loads = new LoadGate(config.maxConcurrentLoads, config.loadPatience);
  const durability = new Durability(store, logger, metrics, { authorOf, loads });
  // Version history, when on and the store keeps it: automatic versions and restore.
  const versions = config.versions ? (store.versions ?? null) : null;
  const recorder = versions
    ? new VersionRecorder({
        store,
        versions,
        idleMs: config.versionIdle,
        intervalMs: config.versionInterval,
        retention: parseRetention(config.versionRetention),
        logger: logger.child({ component: "history" }),
      })
    : null;
  const applyOnce = new ApplyOnce();
  const extensions: Extension[] = [
    new FairTurns(),
    ...(metrics
      ? [new MetricsHooks({ metrics, updateArrived: (c) => durability.updateArrived(c) })]
      : []),
    new Authentication({
      verifier,
      tokenGraceMs: config.tokenGrace,
      maxTokenLifetimeMs: config.maxTokenLifetime,
      logger,
      metrics,
    }),
    new PresenceGuard({
      showViewers: config.showViewers,
      maxClientsPerMessage: config.maxAwarenessClientsPerMessage,
      maxClientsPerConnection: config.maxAwarenessClientsPerConnection,
      logger,
      metrics,
    }),
    new DocumentSizeLimit(store, config.maxDocumentSize, logger, metrics),
    new UpdateGuard({
      ...updateLimits,
      maxPendingBytes: config.maxPendingBytes,
      logger,
      metrics,
      applied: (update) => applyOnce.appliedBefore(update),
    }),
    durability,
    new RemoteUpdates(store, logger),
    new RemotePresence(store),
    ...(recorder ? [recorder] : []),
    new AwarenessQuery(),
    new DocumentGuid(),
    registry,
    ...(options.extensions ?? []),
    // Last, with the lowest priority: counts only documents every other extension accepted.
    documentLimits,
    // After every beforeSync (its priority is lower still): see apply-once.ts.
    applyOnce,
  ];
  const hocuspocus = new Hocuspocus({
    name: "tandem",
    quiet: true,
    extensions: extensions.map((e) => guardHooks(e, logger)),
    // Tandem stores every update as it arrives and has no onStoreDocument hook, so Hocuspocus's
    // debounced store only decides when a document may unload: right after its last client.
    unloadImmediately: true,
    // Hocuspocus 4 merges the updates a document receives in one turn (Y.mergeUpdates) into one
    // message per peer, flushing early once `flushMaxBytes` are pending. The merge's cost grows
    // with the square of the count: 5,000 one-character updates (one socket's --message-burst)
    // took 0.5 s on the event loop, 20,000 from four sockets 12 s. 4 KiB holds ~200 of them,
    // merged in under 2 ms; a burst becomes many small merges, linear in its size. A turn of
    // ordinary typing is far below it and still goes out as one message.
    flushMaxBytes: 4096,
    maxUnauthenticatedQueueSize: config.preAuthMaxBytes,
    maxUnauthenticatedQueueMessages: config.preAuthMaxMessages,
    maxPendingDocuments: config.preAuthMaxDocuments,
    // Hocuspocus closes a socket that sent no message for `timeout`, but cannot see WebSocket
    // pongs, so it would close live clients that merely have nothing to say. The gateway's
    // SocketLiveness (--socket-timeout) counts pongs too and does this job: Hocuspocus's check
    // is turned off (the longest interval a timer keeps).
    timeout: MAX_TIMEOUT_MS,
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
    socketTimeoutMs: config.socketTimeout,
    updateLimits,
    maxBufferedBytes: config.maxBufferedBytes,
    maxInflightBytes: config.maxInflightBytes,
    documentLimits,
    metrics,
  });
  metrics?.observe({
    sockets: () => gateway.openSockets,
    authenticatedSockets: () => authenticatedSockets(hocuspocus),
    documentConnections: () => documentConnections(hocuspocus),
    documents: () => hocuspocus.getDocumentsCount(),
    loadsWaiting: () => loads.queued,
    storeReady: () => store.status.ready,
  });
  // /metrics on the main port, or on a port of its own (--metrics-port) that need not be public.
  const metricsOnMainPort = metrics !== null && config.metricsPort === 0;

  const live = { hocuspocus, store, maxDocumentSize: config.maxDocumentSize };
  const handler = handleHttp([
    healthRoutes({
      ready: () =>
        stopping === null ? store.status : { ready: false, reason: "the server is shutting down" },
    }),
    ...(metrics && metricsOnMainPort ? [metricsRoute(metrics)] : []),
    // Before the admin API, which answers every other /api/ path.
    versionsApi({
      config,
      verifier,
      live,
      history: versions
        ? {
            versions,
            restorer: new Restorer(live, versions, logger.child({ component: "history" })),
          }
        : null,
      logger,
    }),
    adminApi({ config, verifier, hocuspocus, store, registry, updateLimits, logger }),
    ...(options.routes ?? []),
    ...(config.staticDir ? [staticFiles(config.staticDir)] : []),
  ]);
  const http: HttpServer = tls ? createTlsServer(tls, handler) : createServer(handler);
  http.on("upgrade", gateway.handleUpgrade);

  const metricsHttp =
    metrics && !metricsOnMainPort ? createServer(handleHttp([metricsRoute(metrics)])) : null;

  try {
    await listen(http, config.port, config.host);
    if (metricsHttp) {
      await listen(metricsHttp, config.metricsPort, config.metricsHost || config.host).catch(
        async (error: unknown) => {
          await new Promise((r) => http.close(r));
          throw error;
        },
      );
    }
  } catch (error) {
    await store.close();
    throw error;
  }
  const { port } = http.address() as AddressInfo;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const secure = tls ? "s" : "";
  let metricsUrl: string | null = null;
  if (metricsHttp) {
    const at = metricsHttp.address() as AddressInfo;
    const metricsHost = config.metricsHost || config.host;
    metricsUrl = `http://${metricsHost.includes(":") ? `[${metricsHost}]` : metricsHost}:${at.port}/metrics`;
  } else if (metrics) {
    metricsUrl = `http${secure}://${host}:${port}/metrics`;
  }

  const stop = async (): Promise<void> => {
    const closed = new Promise<void>((r) => http.close(() => r()));
    const metricsClosed = new Promise<void>((r) =>
      metricsHttp ? metricsHttp.close(() => r()) : r(),
    );
    metricsHttp?.closeAllConnections();
    http.closeIdleConnections();
    await gateway.closeAll(Math.max(100, config.shutdownTimeout / 4));
    await documentsUnloaded(hocuspocus, config.shutdownTimeout / 2);
    // Versions pending for documents still open, and recordings under way, before the store
    // goes; a store that cannot write holds them until it closes (then they fail, logged).
    const recordingMs = store.status.ready ? config.shutdownTimeout / 4 : 0;
    if (recorder && !(await recorder.close(recordingMs))) {
      logger.warn("versions still being recorded at shutdown: the store cannot write them");
    }
    await store.close();
    await recorder?.close(config.shutdownTimeout / 4);
    http.closeAllConnections();
    await closed;
    await metricsClosed;
  };

  return {
    url: `ws${secure}://${host}:${port}`,
    httpUrl: `http${secure}://${host}:${port}`,
    port,
    hocuspocus,
    store,
    metricsUrl,
    stop: () => {
      stopping ??= stop();
      return stopping;
    },
  };
}

function listen(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolveListen, rejectListen) => {
    server.once("error", rejectListen);
    server.listen(port, host, () => {
      server.off("error", rejectListen);
      resolveListen();
    });
  });
}

/** Sockets with at least one open document connection (each was authenticated). */
function authenticatedSockets(hocuspocus: Hocuspocus): number {
  const sockets = new Set<string>();
  for (const document of hocuspocus.documents.values()) {
    for (const connection of document.getConnections()) sockets.add(connection.socketId);
  }
  return sockets.size;
}

function documentConnections(hocuspocus: Hocuspocus): number {
  let count = 0;
  for (const document of hocuspocus.documents.values()) count += document.getConnectionsCount();
  return count;
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
