export { CloseCode } from "@tandem/protocol";
export {
  ConfigError,
  defaultConfig,
  envOf,
  flagOf,
  resolveConfig,
  SETTINGS,
  type ServerConfig,
} from "./config.ts";
export { createLogger, type Logger, silentLogger } from "./logger.ts";
export { openStore, type StartOptions, startServer, type TandemServer } from "./server.ts";
export type {
  CompactionResult,
  DocumentInfo,
  DocumentStore,
  StoredDocument,
} from "./store/document-store.ts";
export { LevelDocumentStore, type LevelStoreOptions } from "./store/leveldb-store.ts";
