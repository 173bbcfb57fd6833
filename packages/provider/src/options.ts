import { colorFor } from "./color.ts";
import { TandemError } from "./errors.ts";

/**
 * Every option the SDK accepts, its default, and its validation. Options are checked once, when
 * they enter the SDK, and a mistake is reported with the option's name and what it accepts,
 * rather than surfacing later as a socket that never connects.
 */

/** A token, or a function the SDK calls for a fresh one on every connect and token refresh. */
export type TokenOption = string | (() => string | Promise<string>);

/** A WebSocket class with the browser's API, such as the `ws` package's WebSocket in Node.js. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => object;

export interface ReconnectOptions {
  /** Ceiling of the first retry delay after a lost connection, in ms (default 500). */
  minDelayMs?: number;
  /** Retry delays double up to this, in ms (default 30000). */
  maxDelayMs?: number;
  /** Growth of the delay per failed attempt (default 2). */
  factor?: number;
  /** Give up on a connection attempt that has not opened after this many ms (default 10000). */
  connectTimeoutMs?: number;
  /**
   * Treat the connection as dead, close it and reconnect when nothing arrived from the server
   * for this many ms (default 30000): a network that died without closing the socket, a
   * server that hangs. A quiet but healthy link is probed well before (see socket.ts).
   */
  silenceTimeoutMs?: number;
}

export interface PresenceOptions {
  /** `setTyping(true)` turns itself off after this many ms without another call (default 2000). */
  typingTimeoutMs?: number;
  /** At most one cursor update per this many ms is sent; the latest one wins (default 100). */
  cursorThrottleMs?: number;
}

export interface ClientOptions {
  /**
   * The Tandem server, `ws://` or `wss://`; or several instances of one cluster, tried in turn:
   * the client stays on a URL while it works and moves to the next when it fails (for setups
   * without a load balancer).
   */
  url: string | readonly string[];
  token?: TokenOption;
  /** Cache documents in IndexedDB where there is one (default true). */
  offline?: boolean;
  /** Required where there is no global WebSocket (Node.js 20): pass the `ws` package's class. */
  WebSocketPolyfill?: WebSocketConstructor;
  reconnect?: ReconnectOptions;
  presence?: PresenceOptions;
}

export interface UserInput {
  /** Stable id of the person (not of the tab): several tabs of one user are one peer. */
  id: string;
  name: string;
  /** Any CSS colour; derived from the id when left out. */
  color?: string;
}

export interface User {
  id: string;
  name: string;
  color: string;
}

export interface OpenOptions {
  /** Who is editing; without it the document works but this client shows up in nobody's peers. */
  user?: UserInput;
}

export interface ResolvedClientOptions {
  /** At least one. */
  urls: readonly string[];
  token: TokenOption;
  offline: boolean;
  WebSocket: WebSocketConstructor;
  reconnect: Required<ReconnectOptions>;
  presence: Required<PresenceOptions>;
}

export const DEFAULT_RECONNECT: Required<ReconnectOptions> = {
  minDelayMs: 500,
  maxDelayMs: 30_000,
  factor: 2,
  connectTimeoutMs: 10_000,
  silenceTimeoutMs: 30_000,
};

export const DEFAULT_PRESENCE: Required<PresenceOptions> = {
  typingTimeoutMs: 2_000,
  cursorThrottleMs: 100,
};

const CLIENT_KEYS = ["url", "token", "offline", "WebSocketPolyfill", "reconnect", "presence"];

export function resolveClientOptions(input: unknown): ResolvedClientOptions {
  const options = record(input, "createClient options", "an object with at least { url }");
  onlyKeys(options, CLIENT_KEYS, "createClient option");
  const reconnect = resolveReconnect(options.reconnect);
  return {
    urls: resolveUrls(options.url),
    token: resolveToken(options.token),
    offline: optionalBoolean(options.offline, "offline", true),
    WebSocket: resolveWebSocket(options.WebSocketPolyfill),
    reconnect,
    presence: resolvePresence(options.presence),
  };
}

export function resolveOpenOptions(input: unknown): { user: User | null } {
  if (input === undefined) return { user: null };
  const options = record(input, "open options", "an object such as { user }");
  onlyKeys(options, ["user"], "open option");
  return { user: options.user === undefined ? null : resolveUser(options.user) };
}

export function resolveDocumentName(name: unknown): string {
  if (typeof name !== "string" || name.length === 0 || name.includes("\0")) {
    throw invalid("document name", name, "a non-empty string without NUL characters");
  }
  return name;
}

export function resolveUser(input: unknown): User {
  const user = record(input, "user", "an object { id, name, color? }");
  onlyKeys(user, ["id", "name", "color"], "user field");
  if (typeof user.id !== "string" || user.id.trim() === "") {
    throw invalid("user.id", user.id, "a non-empty string");
  }
  if (typeof user.name !== "string" || user.name.trim() === "") {
    throw invalid("user.name", user.name, "a non-empty string");
  }
  if (user.color !== undefined && (typeof user.color !== "string" || user.color.trim() === "")) {
    throw invalid("user.color", user.color, "a CSS colour string, or leave it out");
  }
  return { id: user.id, name: user.name, color: user.color ?? colorFor(user.id) };
}

function resolveUrls(url: unknown): string[] {
  if (!Array.isArray(url)) return [resolveUrl(url)];
  if (url.length === 0) {
    throw invalid("url", url, "a ws:// or wss:// URL, or a non-empty array of them");
  }
  return url.map((one) => resolveUrl(one));
}

function resolveUrl(url: unknown): string {
  const accepted = "a ws:// or wss:// URL, or a non-empty array of them";
  if (typeof url !== "string") throw invalid("url", url, accepted);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid("url", url, accepted);
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") throw invalid("url", url, accepted);
  return url;
}

function resolveToken(token: unknown): TokenOption {
  if (token === undefined) return "";
  if (typeof token === "string" || typeof token === "function") return token as TokenOption;
  throw invalid("token", token, "a string, or a function returning a string or a promise of one");
}

function resolveWebSocket(polyfill: unknown): WebSocketConstructor {
  if (polyfill !== undefined) {
    if (typeof polyfill !== "function") {
      throw invalid("WebSocketPolyfill", polyfill, "a WebSocket class, such as the ws package's");
    }
    return polyfill as WebSocketConstructor;
  }
  const global = (globalThis as { WebSocket?: unknown }).WebSocket;
  if (typeof global !== "function") {
    throw new TandemError(
      "invalid-option",
      'option "WebSocketPolyfill" is required here: there is no global WebSocket (Node.js before 22). ' +
        'Pass one, e.g. `import WebSocket from "ws"` and { WebSocketPolyfill: WebSocket }',
    );
  }
  return global as WebSocketConstructor;
}

function resolveReconnect(input: unknown): Required<ReconnectOptions> {
  if (input === undefined) return { ...DEFAULT_RECONNECT };
  const options = record(input, "reconnect", "an object");
  onlyKeys(options, Object.keys(DEFAULT_RECONNECT), "reconnect option");
  const resolved = {
    minDelayMs: integer(
      options.minDelayMs,
      "reconnect.minDelayMs",
      1,
      600_000,
      DEFAULT_RECONNECT.minDelayMs,
    ),
    maxDelayMs: integer(
      options.maxDelayMs,
      "reconnect.maxDelayMs",
      1,
      3_600_000,
      DEFAULT_RECONNECT.maxDelayMs,
    ),
    factor: number(options.factor, "reconnect.factor", 1, 10, DEFAULT_RECONNECT.factor),
    connectTimeoutMs: integer(
      options.connectTimeoutMs,
      "reconnect.connectTimeoutMs",
      100,
      600_000,
      DEFAULT_RECONNECT.connectTimeoutMs,
    ),
    silenceTimeoutMs: integer(
      options.silenceTimeoutMs,
      "reconnect.silenceTimeoutMs",
      300,
      600_000,
      DEFAULT_RECONNECT.silenceTimeoutMs,
    ),
  };
  if (resolved.maxDelayMs < resolved.minDelayMs) {
    throw invalid(
      "reconnect.maxDelayMs",
      resolved.maxDelayMs,
      `an integer no smaller than reconnect.minDelayMs (${resolved.minDelayMs})`,
    );
  }
  return resolved;
}

function resolvePresence(input: unknown): Required<PresenceOptions> {
  if (input === undefined) return { ...DEFAULT_PRESENCE };
  const options = record(input, "presence", "an object");
  onlyKeys(options, Object.keys(DEFAULT_PRESENCE), "presence option");
  return {
    typingTimeoutMs: integer(
      options.typingTimeoutMs,
      "presence.typingTimeoutMs",
      1,
      600_000,
      DEFAULT_PRESENCE.typingTimeoutMs,
    ),
    cursorThrottleMs: integer(
      options.cursorThrottleMs,
      "presence.cursorThrottleMs",
      0,
      60_000,
      DEFAULT_PRESENCE.cursorThrottleMs,
    ),
  };
}

function record(value: unknown, name: string, accepted: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(name, value, accepted);
  }
  return value as Record<string, unknown>;
}

function onlyKeys(value: Record<string, unknown>, keys: readonly string[], what: string): void {
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) {
      throw new TandemError(
        "invalid-option",
        `unknown ${what} "${key}" (accepted: ${keys.join(", ")})`,
      );
    }
  }
}

function optionalBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw invalid(name, value, "true or false");
  return value;
}

function integer(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(name, value, `an integer from ${min} to ${max}`);
  }
  return value;
}

function number(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(name, value, `a number from ${min} to ${max}`);
  }
  return value;
}

function invalid(name: string, value: unknown, accepted: string): TandemError {
  return new TandemError(
    "invalid-option",
    `invalid ${name}: ${show(value)} (accepted: ${accepted})`,
  );
}

function show(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (value === undefined) return "undefined";
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
