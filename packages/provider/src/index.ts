export { createClient, type TandemClient } from "./client.ts";
export { colorFor } from "./color.ts";
export type { DocumentEvents, DocumentStatus, TandemDocument } from "./document.ts";
export { TandemError, type TandemErrorCode } from "./errors.ts";
export type {
  ClientOptions,
  OpenOptions,
  PresenceOptions,
  ReconnectOptions,
  TokenOption,
  User,
  UserInput,
  WebSocketConstructor,
} from "./options.ts";
export type { Peer, PresenceState } from "./presence.ts";
