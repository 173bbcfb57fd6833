export { CloseCode } from "@tandem/protocol";
export { type MintOptions, mintToken, parseDuration } from "./auth/mint.ts";
export { type Access, accessFor } from "./auth/permissions.ts";
export { createTokenVerifier, type TokenClaims, TokenError } from "./auth/tokens.ts";
export {
  ConfigError,
  defaultConfig,
  envOf,
  flagOf,
  resolveConfig,
  SETTINGS,
  type ServerConfig,
} from "./config.ts";
export { routeConsoleToLogger } from "./console-to-logger.ts";
export { REMOTE_ORIGIN } from "./extensions/remote-updates.ts";
export {
  DEFAULT_RETENTION,
  expiredVersions,
  parseRetention,
  RetentionError,
  type RetentionPolicy,
} from "./history/retention.ts";
export { createLogger, type Logger, silentLogger } from "./logger.ts";
export { openStore, type StartOptions, startServer, type TandemServer } from "./server.ts";
export { type CompactionPolicy, shouldCompact } from "./store/compaction-policy.ts";
export type {
  Author,
  CompactionResult,
  DocumentInfo,
  DocumentStore,
  PresenceChannel,
  PresenceHandlers,
  RecordVersion,
  RemoteUpdates,
  StoredDocument,
  StoreStatus,
  VersionInfo,
  VersionKind,
  VersionStore,
} from "./store/document-store.ts";
export { LevelDocumentStore, type LevelStoreOptions } from "./store/leveldb-store.ts";
export { UnsafeEngineError } from "./store/redis-postgres/engine-checks.ts";
export {
  type ClusterStoreOptions,
  RedisPostgresStore,
} from "./store/redis-postgres/redis-postgres-store.ts";
