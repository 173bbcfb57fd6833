import type { IdleSocket } from "../adapters/index.ts";
import { readRss } from "../servers.ts";
import type { Target } from "../target.ts";
import { now, type Progress, pool, sleep, throttle, until } from "../util.ts";
import { connectClients, destroyAll, round1 } from "./common.ts";
import { defineScenario } from "./types.ts";

/** Sockets opening at once: enough to be quick, few enough not to overflow the accept backlog. */
const CONCURRENCY = 64;

/**
 * Memory per document and per connection, from the server's RSS (/proc/PID/status) before and
 * after, each phase on a fresh server when the bench started it:
 *   1. `docs` documents, one real client each (connect, sync, write a short paragraph);
 *   2. `idle` idle connections on one document;
 *   3. `idle` idle connections spread over `idleDocs` documents.
 * Idle connections are bare sockets that did the sync handshake (see ProtocolAdapter.openIdle).
 */
export const manyDocs = defineScenario({
  name: "many-docs",
  title: "many documents: open documents and idle connections, server RSS",
  params: {
    docs: { default: 1000, tiny: 20, help: "documents, one client each" },
    idle: { default: 10_000, tiny: 50, help: "idle connections per idle phase" },
    idleDocs: { default: 1000, tiny: 10, help: "documents the spread idle phase uses" },
  },
  metrics: [
    { key: "docs_sync_ms", label: "all documents synced", unit: "ms", better: "lower" },
    { key: "rss_per_doc_kb", label: "RSS / open document", unit: "KiB", better: "lower" },
    { key: "idle_one_doc_kb", label: "RSS / idle conn (1 doc)", unit: "KiB", better: "lower" },
    { key: "idle_spread_kb", label: "RSS / idle conn (spread)", unit: "KiB", better: "lower" },
    { key: "idle_open_ms", label: "open idle conns (spread)", unit: "ms", better: "lower" },
    { key: "idle_failed", label: "idle conns that failed", unit: "", better: "lower" },
  ],
  async run({ target, params, docPrefix, progress }) {
    const metrics: Record<string, number | null> = {};
    const notes: string[] = [];
    if (target.pid === null) notes.push("no server pid: RSS figures need a local server");

    // 1. Documents with one client each.
    await target.fresh();
    const rss0 = await settledRss(target);
    const t0 = now();
    const clients = await connectClients(target, params.docs, (i) => `${docPrefix}doc-${i}`, {
      awareness: false,
      concurrency: CONCURRENCY,
      timeoutMs: 60_000,
    });
    metrics.docs_sync_ms = Math.round(now() - t0);
    progress(`many-docs ${target.label}: ${params.docs} documents synced`);
    try {
      for (const [i, client] of clients.entries()) {
        client.doc
          .getText("text")
          .insert(0, `Document ${i}: ${"lorem ipsum dolor sit amet ".repeat(3)}`);
      }
      await until(() => clients.every((c) => c.unacked === 0), 30_000, 20);
      const rss1 = await settledRss(target);
      metrics.rss_per_doc_kb = perKiB(rss0, rss1, params.docs);
    } finally {
      destroyAll(clients);
    }

    // 2. and 3. Idle connections, on one document and spread over many.
    const one = await idlePhase(target, params.idle, () => `${docPrefix}idle-one`, progress);
    metrics.idle_one_doc_kb = one.perConnKiB;
    const spread = await idlePhase(
      target,
      params.idle,
      (i) => `${docPrefix}idle-${i % params.idleDocs}`,
      progress,
    );
    metrics.idle_spread_kb = spread.perConnKiB;
    metrics.idle_open_ms = spread.openMs;
    metrics.idle_failed = one.failed + spread.failed;
    return {
      metrics,
      checks: { all_connected: one.failed + spread.failed === 0 },
      notes,
    };
  },
});

async function idlePhase(
  target: Target,
  count: number,
  docName: (index: number) => string,
  progress: Progress,
): Promise<{ perConnKiB: number | null; openMs: number; failed: number }> {
  await target.fresh();
  const rss0 = await settledRss(target);
  const sockets: IdleSocket[] = [];
  let failed = 0;
  const report = throttle(2000, () =>
    progress(`many-docs ${target.label}: ${sockets.length}/${count} idle connections`),
  );
  const t0 = now();
  try {
    await pool(count, CONCURRENCY, async (i) => {
      try {
        sockets.push(await target.adapter.openIdle(target.url, docName(i), 30_000));
      } catch {
        failed++;
      }
      report();
    });
    const openMs = Math.round(now() - t0);
    const rss1 = await settledRss(target);
    return { perConnKiB: perKiB(rss0, rss1, sockets.length), openMs, failed };
  } finally {
    for (const socket of sockets) socket.close();
  }
}

/** RSS after a short quiet spell, so work triggered by the last connection has finished. */
async function settledRss(target: Target): Promise<number | null> {
  await sleep(500);
  return target.pid === null ? null : readRss(target.pid);
}

const perKiB = (before: number | null, after: number | null, count: number): number | null =>
  before === null || after === null || count === 0 ? null : round1((after - before) / count / 1024);
