import WebSocket from "ws";
import { type ClientOptions, createClient, type TandemClient } from "../src/index.ts";

/** Quick retries, so that tests about reconnecting wait for conditions, not for backoff. */
export const FAST_RECONNECT = { minDelayMs: 20, maxDelayMs: 200, connectTimeoutMs: 5_000 };

/**
 * Clients for one test file: real SDK clients over real WebSockets (ws), without the offline
 * cache unless a test asks for it, all closed by closeAll() in afterEach.
 */
export function clientPool() {
  const clients: TandemClient[] = [];
  return {
    create(url: string, options: Partial<ClientOptions> = {}): TandemClient {
      const client = createClient({
        url,
        WebSocketPolyfill: WebSocket,
        offline: false,
        reconnect: FAST_RECONNECT,
        ...options,
      });
      clients.push(client);
      return client;
    },
    async closeAll(): Promise<void> {
      await Promise.all(clients.splice(0).map((client) => client.close()));
    },
  };
}

/** Records every value an event delivers, in order. */
export function record<T>(on: (listener: (value: T) => void) => unknown): T[] {
  const values: T[] = [];
  on((value) => values.push(value));
  return values;
}

/** Drops consecutive repeats: [a, a, b, a] becomes [a, b, a]. */
export function transitions<T>(values: readonly T[]): T[] {
  return values.filter((value, i) => i === 0 || value !== values[i - 1]);
}
