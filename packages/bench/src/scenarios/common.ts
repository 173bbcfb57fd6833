import type { BenchClient } from "../adapters/index.ts";
import type { ConnectOptions } from "../adapters/types.ts";
import type { Target } from "../target.ts";
import { mustUntil, pool, sleep } from "../util.ts";

/**
 * Connects `count` clients (client i to `docName(i)`), at most `concurrency` connecting at a
 * time so the server's accept backlog never overflows, and resolves once every one is synced.
 */
export async function connectClients(
  target: Target,
  count: number,
  docName: (index: number) => string,
  options: ConnectOptions & { concurrency?: number; timeoutMs?: number } = {},
): Promise<BenchClient[]> {
  const clients: BenchClient[] = [];
  const timeoutMs = options.timeoutMs ?? 30_000 + count * 50;
  try {
    await pool(count, options.concurrency ?? 50, async (i) => {
      const client = target.adapter.connect(target.url, docName(i), options);
      clients.push(client);
      await mustUntil(`client ${i} to sync with ${target.label}`, () => client.synced, timeoutMs);
    });
  } catch (error) {
    destroyAll(clients);
    throw error;
  }
  return clients;
}

export function destroyAll(clients: readonly BenchClient[]): void {
  for (const client of clients) client.destroy();
}

/** Yields to the event loop (I/O included), unlike a resolved promise. */
export const yieldToIo = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Waits until `deadline` (a now() value), in one bounded sleep. */
export const sleepUntil = (deadline: number): Promise<void> =>
  sleep(Math.max(0, deadline - performance.now()));

/** ms with one decimal, for metrics. */
export const round1 = (x: number | null): number | null =>
  x === null ? null : Math.round(x * 10) / 10;

/**
 * Sends `count` updates from `writer` (update i is `write(i)`), keeping at most `window` in
 * flight: not yet acknowledged, or, for a protocol without acknowledgements, not yet seen by a
 * peer (`seen()`). `tick` runs between bursts, for progress and for sampling /proc. Resolves with
 * how many were sent, which is less than `count` only if `timeoutMs` ran out.
 */
export async function sendWindowed(options: {
  writer: BenchClient;
  count: number;
  window: number;
  seen: () => number;
  write: (index: number) => void;
  tick?: () => void | Promise<void>;
  timeoutMs: number;
}): Promise<number> {
  const { writer, count, window, seen, write, tick, timeoutMs } = options;
  const deadline = performance.now() + timeoutMs;
  let sent = 0;
  const inFlight = () => (writer.acknowledges ? writer.unacked : sent - seen());
  while (sent < count && performance.now() < deadline) {
    while (sent < count && inFlight() < window) write(sent++);
    await tick?.();
    await yieldToIo();
  }
  return sent;
}

/**
 * Counts the remote updates a client's document applies. The y-websocket server relays each
 * update as its own message, so for that protocol this counts a writer's updates one by one;
 * Hocuspocus may merge broadcasts, which is why its clients use acknowledgements instead.
 */
export function countRemoteUpdates(client: BenchClient): () => number {
  let count = 0;
  client.doc.on("update", () => {
    count++;
  });
  return () => count;
}

/**
 * A note when the server dropped clients mid-scenario. A Hocuspocus client's acknowledgement
 * count stops at a disconnect (see BenchClient.acked), so figures after one are incomplete.
 */
export function disconnectNotes(clients: readonly BenchClient[]): string[] {
  const dropped = clients.reduce((sum, c) => sum + c.disconnects, 0);
  return dropped === 0 ? [] : [`the server dropped client connections ${dropped} time(s)`];
}

/** Milliseconds of server CPU (from /proc readings in seconds) per 1,000 operations. */
export const cpuPer1k = (start: number | null, end: number | null, count: number): number | null =>
  start === null || end === null || count === 0 ? null : round1(((end - start) * 1e6) / count);
