import * as Y from "yjs";
import { type LightClient, openLight } from "../adapters/light.ts";
import { type PhaseFigures, Probe } from "../probe/probe.ts";
import type { Target } from "../target.ts";
import { now, type Progress, pool, sleep, throttle } from "../util.ts";
import { round1 } from "./common.ts";
import { cut, textPool } from "./edits.ts";
import { defineScenario, type MetricSpec } from "./types.ts";
import { Wakeup } from "./wakeup.ts";

/** Updates the large document's writer keeps in flight (unacknowledged, or not yet relayed). */
const WINDOW = 64;
/** Each update of the large document: this many inserts at random places, of this many chars. */
const INSERTS_PER_UPDATE = 10;
const INSERT_CHARS = 1000;
/** Each small document is written in this many updates (a log of entries, as editing makes). */
const UPDATES_PER_DOC = 20;
/** Small documents written or opened at once. */
const CONCURRENCY = 64;
/** Quiet time between writing the small documents and restarting the server. */
const SETTLE_MS = 1000;

const PHASES = [
  ["idle", "idle server"],
  ["write", "writing the large document"],
  ["compact", "large document quiet, then unloaded"],
  ["load", "documents loading cold"],
] as const;

const phaseMetrics: MetricSpec[] = PHASES.flatMap(([phase, what]) => [
  { key: `${phase}_p50_ms`, label: `${what}: p50`, unit: "ms", better: "lower" as const },
  { key: `${phase}_p99_ms`, label: `${what}: p99`, unit: "ms", better: "lower" as const },
  { key: `${phase}_max_ms`, label: `${what}: max`, unit: "ms", better: "lower" as const },
]);

/**
 * Whether the server stays responsive while it does heavy work, measured from outside: a probe in
 * a process of its own (probe/probe.ts) asks for a small document of its own every `probeMs` and
 * times each answer (SyncStep1 -> SyncStep2; the same round trip in both protocols, and one that
 * touches no disk), while
 *   write:   one client writes a `docMb` MB document in 10 KB updates of 10 inserts of 1,000
 *            characters at random places each (about 20,000 items for 10 MB: an edited document,
 *            not one long string), as fast as allowed;
 *   compact: the writer stays connected `quietS` seconds without writing (Tandem compacts a
 *            document after 5 s without updates), then leaves (compaction or store on unload) and
 *            the probe goes on for `unloadS` seconds;
 *   load:    `docs` small documents (`docKb` KB each, written in 20 updates) are written, the
 *            server restarts gracefully, and all of them are opened at once (64 at a time) by
 *            light clients that wait until they hold the whole document.
 * Every phase reports the probe's round trip p50/p99/max. The write, compaction and load times
 * are reported too, so a server that is responsive because it did less work shows.
 */
export const stalls = defineScenario({
  name: "stalls",
  title:
    "stalls: a probe's round trips while a large document is written, compacted, and many load",
  params: {
    docMb: { default: 10, tiny: 1, help: "size of the large document (MB of text)" },
    quietS: {
      default: 8,
      tiny: 1,
      help: "seconds the large document's writer stays idle before it leaves",
    },
    unloadS: { default: 5, tiny: 1, help: "seconds probed after the writer left" },
    docs: { default: 1000, tiny: 20, help: "small documents loaded cold after the restart" },
    docKb: { default: 10, tiny: 2, help: "size of each small document (KB of text)" },
    idleS: { default: 2, tiny: 1, help: "seconds probed on the idle server first" },
    probeMs: { default: 5, tiny: 5, help: "ms between the probe's requests" },
  },
  metrics: [
    ...phaseMetrics,
    { key: "write_s", label: "large document written", unit: "s", better: "lower" },
    { key: "load_ms", label: "small documents all loaded", unit: "ms", better: "lower" },
    { key: "docs_loaded", label: "small documents loaded whole", unit: "", better: "higher" },
  ],
  async run({ target, params, docPrefix, progress }) {
    const notes: string[] = [];
    const metrics: Record<string, number | null> = {};
    const probe = await Probe.start(
      target.protocol,
      target.url,
      `${docPrefix}probe`,
      params.probeMs,
    );
    let figures: Record<string, PhaseFigures> = {};
    let written = false;
    let loaded = 0;
    /** Sockets closed before their first sync and opened again (see openLight). */
    const reopened = { count: 0 };
    try {
      probe.phase("idle");
      await sleep(params.idleS * 1000);

      probe.phase("write");
      const t0 = now();
      const large = await writeLargeDocument(
        target,
        `${docPrefix}large`,
        params.docMb * 1024 * 1024,
        progress,
      );
      metrics.write_s = round1((now() - t0) / 1000);
      written = large.complete;

      probe.phase("compact");
      progress(`stalls ${target.label}: written, ${params.quietS} s quiet, then unload`);
      await sleep(params.quietS * 1000);
      large.close();
      await sleep(params.unloadS * 1000);

      probe.phase("create");
      progress(`stalls ${target.label}: writing ${params.docs} small documents`);
      const docs = await writeSmallDocuments(target, `${docPrefix}small-`, params, reopened);
      // A moment for stores still in flight: the y-websocket server stores the updates of a
      // document whose LevelDB read has not finished once it has, and a graceful stop before
      // that loses them (not what this scenario measures).
      await sleep(SETTLE_MS);
      if (target.managed) {
        probe.disconnect();
        await target.restart("graceful");
        await probe.connect(target.url);
      } else {
        notes.push("not restarted (the bench did not start this server): loads may be warm");
      }
      if (target.persistent === false) {
        notes.push("documents live in memory only: the load phase opens empty documents");
      }

      probe.phase("load");
      progress(`stalls ${target.label}: restarted, opening ${params.docs} documents`);
      const t1 = now();
      loaded = await loadSmallDocuments(
        target,
        `${docPrefix}small-`,
        docs,
        target.persistent,
        reopened,
      );
      metrics.load_ms = Math.round(now() - t1);
      metrics.docs_loaded = loaded;
      probe.phase("end");
      figures = await probe.stop();
    } finally {
      probe.kill();
    }
    for (const [phase] of PHASES) {
      const f = figures[phase];
      metrics[`${phase}_p50_ms`] = round1(f?.p50 ?? null);
      metrics[`${phase}_p99_ms`] = round1(f?.p99 ?? null);
      metrics[`${phase}_max_ms`] = round1(f?.max ?? null);
      if (!f || f.samples === 0) notes.push(`${phase}: no probe round trip finished`);
    }
    if (reopened.count > 0) {
      notes.push(`${reopened.count} sockets were closed before their first sync and reopened`);
    }
    return {
      metrics,
      checks: {
        large_document_written: written,
        documents_restored_if_persistent: target.persistent === false || loaded === params.docs,
      },
      notes,
    };
  },
});

/**
 * Writes a document of about `bytes` characters from a light client holding the only copy that
 * matters (it is the only writer, so its own Y.Doc is the whole document), keeping WINDOW updates
 * in flight: unacknowledged, or for y-websocket not yet relayed to a second light client.
 */
async function writeLargeDocument(
  target: Target,
  name: string,
  bytes: number,
  progress: Progress,
): Promise<{ complete: boolean; close(): void }> {
  const wake = new Wakeup();
  let relayed = 0;
  const writer = await openLight(target.protocol, target.url, name, { onAck: wake.notify });
  const observer =
    target.protocol === "hocuspocus"
      ? null
      : await openLight(target.protocol, target.url, name, {
          onUpdate: () => {
            relayed++;
            wake.notify();
          },
        });
  const close = () => {
    writer.close();
    observer?.close();
  };
  try {
    const applied = () => (observer ? relayed : writer.acked);
    const doc = new Y.Doc();
    const text = doc.getText("text");
    let update: Uint8Array | null = null;
    doc.on("update", (u: Uint8Array) => {
      update = u;
    });
    const words = textPool(64 * 1024);
    const perUpdate = INSERTS_PER_UPDATE * INSERT_CHARS;
    const updates = Math.ceil(bytes / perUpdate);
    const report = throttle(2000, () =>
      progress(`stalls ${target.label}: ${applied()}/${updates} updates of the large document`),
    );
    while (writer.sent < updates) {
      while (writer.sent < updates && writer.sent - applied() < WINDOW) {
        doc.transact(() => {
          for (let i = 0; i < INSERTS_PER_UPDATE; i++) {
            text.insert(Math.floor(Math.random() * (text.length + 1)), cut(words, INSERT_CHARS));
          }
        });
        writer.send(update as unknown as Uint8Array);
      }
      report();
      if (!(await wake.until(() => writer.sent - applied() < WINDOW, 60_000))) {
        throw new Error(`${target.label} applied nothing for 60 s`);
      }
    }
    const complete = await wake.until(() => applied() >= updates, 60_000);
    doc.destroy();
    return { complete, close };
  } catch (error) {
    close();
    throw error;
  }
}

/** Who wrote a small document and the clock its last insert ended at: "whole" means reaching it. */
interface Written {
  clientID: number;
  clock: number;
}

async function writeSmallDocuments(
  target: Target,
  prefix: string,
  params: { docs: number; docKb: number },
  reopened: { count: number },
): Promise<Written[]> {
  const written: Written[] = [];
  const words = textPool(64 * 1024);
  const chars = Math.max(1, Math.round((params.docKb * 1024) / UPDATES_PER_DOC));
  await pool(params.docs, CONCURRENCY, async (i) => {
    const client = await openLight(target.protocol, target.url, `${prefix}${i}`);
    reopened.count += client.reopened;
    try {
      const doc = new Y.Doc();
      const text = doc.getText("text");
      doc.on("update", (update: Uint8Array) => client.send(update));
      for (let u = 0; u < UPDATES_PER_DOC; u++) text.insert(text.length, cut(words, chars));
      await client.settled();
      written[i] = { clientID: doc.clientID, clock: Y.getState(doc.store, doc.clientID) };
    } finally {
      client.close();
    }
  });
  return written;
}

/**
 * Opens every small document at once (CONCURRENCY at a time) and waits until each light client
 * holds the whole document: the y-websocket server answers the first sync before its LevelDB
 * load finishes and sends the content after it, so what counts is the clock reached in the
 * answer and the updates after it. Returns how many arrived whole.
 */
async function loadSmallDocuments(
  target: Target,
  prefix: string,
  docs: readonly Written[],
  persistent: boolean | null,
  reopened: { count: number },
): Promise<number> {
  const clients: LightClient[] = [];
  let whole = 0;
  try {
    await pool(docs.length, CONCURRENCY, async (i) => {
      const expected = docs[i] as Written;
      const wake = new Wakeup();
      let reached = 0;
      const track = (update: Uint8Array) => {
        const to = Y.parseUpdateMeta(update).to.get(expected.clientID) ?? 0;
        if (to > reached) reached = to;
        wake.notify();
      };
      const client = await openLight(target.protocol, target.url, `${prefix}${i}`, {
        onStep2: track,
        onUpdate: track,
      });
      clients.push(client);
      reopened.count += client.reopened;
      const timeoutMs = persistent === false ? 0 : 30_000;
      if (await wake.until(() => reached >= expected.clock, timeoutMs)) whole++;
    });
  } finally {
    for (const client of clients) client.close();
  }
  return whole;
}
