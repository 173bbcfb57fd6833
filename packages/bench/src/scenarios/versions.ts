import {
  DEFAULT_RETENTION,
  expiredVersions,
  LevelDocumentStore,
  parseRetention,
  SETTINGS,
  type VersionInfo,
} from "@tandem/server";
import { tempDir } from "@tandem/testkit";
import * as Y from "yjs";
import { dirSize } from "../servers.ts";
import { generateTrace, loadTrace, type Trace, traceApplier } from "../trace.ts";
import { now } from "../util.ts";
import { round1 } from "./common.ts";
import { defineSelfHosted } from "./types.ts";

const DOCUMENT = "paper";
const AUTHOR = { id: "author", name: "Author" };
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** The simulated writing starts on a Monday, 09:00 UTC. */
const START = Date.UTC(2025, 0, 6, 9, 0, 0);

/** A small deterministic PRNG (mulberry32): the same simulated days on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * When each edit of a trace is made, on a simulated clock: one author writes in daily sessions
 * of `sessionEdits` edits starting at 09:00 UTC, typing an edit every `editMs` (± half), in
 * bursts of 200–1,000 edits; after a burst a pause, most of them short (5–40 s: thinking), one
 * in three long (2–15 min: a coffee, a meeting). Real traces' own timestamps are too close
 * together to say anything about idle times (automerge-paper's span 0.3 s).
 */
function* editTimes(edits: number, editMs: number, sessionEdits: number): Generator<number> {
  const rnd = random(7);
  let time = START;
  let day = 0;
  let inSession = 0;
  let burstLeft = 0;
  for (let i = 0; i < edits; i++) {
    if (inSession >= sessionEdits) {
      day++;
      time = START + day * DAY;
      inSession = 0;
      burstLeft = 0;
    }
    if (burstLeft === 0) {
      if (inSession > 0) {
        time += rnd() < 1 / 3 ? 2 * MINUTE + rnd() * 13 * MINUTE : 5 * SECOND + rnd() * 35 * SECOND;
      }
      burstLeft = 200 + Math.floor(rnd() * 800);
    }
    time += Math.round(editMs * (0.5 + rnd()));
    burstLeft--;
    inSession++;
    yield Math.round(time);
  }
}

interface Recorded {
  idle: number;
  interval: number;
  deleted: number;
  /** Sizes of every version recorded, kept or not. */
  bytes: number[];
}

/**
 * Version history's storage cost: an editing trace (--trace FILE, e.g. automerge-paper; else a
 * generated one) replayed into a real LevelDB store, the edits timed on a simulated clock
 * (editTimes). Automatic versions are recorded as the server's recorder would with the default
 * settings (--version-idle, --version-interval): once the document had no edit for the idle
 * time, or the interval after the first edit since the last version; then the default
 * --version-retention is applied at that simulated time. The figures: versions recorded and
 * kept, bytes per version, the versions' total beside the document's own size.
 */
export const versions = defineSelfHosted({
  name: "versions",
  title: "versions: an editing trace on a simulated clock, automatic versions, default retention",
  params: {
    traceEdits: {
      default: 100_000,
      tiny: 3_000,
      help: "edits of the generated trace (when no --trace FILE is given)",
    },
    editMs: { default: 300, tiny: 300, help: "simulated ms between edits while typing" },
    sessionEdits: {
      default: 8_000,
      tiny: 1_000,
      help: "edits per simulated daily session (one session a day)",
    },
  },
  metrics: [
    { key: "trace_edits", label: "trace edits", unit: "", better: "none" },
    { key: "simulated_days", label: "simulated writing", unit: "days", better: "none" },
    { key: "versions_recorded", label: "automatic versions recorded", unit: "", better: "none" },
    { key: "idle_versions", label: "  after --version-idle", unit: "", better: "none" },
    { key: "interval_versions", label: "  after --version-interval", unit: "", better: "none" },
    { key: "versions_deleted", label: "deleted by retention", unit: "", better: "none" },
    { key: "versions_kept", label: "versions kept", unit: "", better: "none" },
    {
      key: "bytes_per_version",
      label: "bytes per version kept (mean)",
      unit: "B",
      better: "lower",
    },
    { key: "bytes_per_version_max", label: "largest version", unit: "B", better: "lower" },
    { key: "versions_bytes", label: "versions kept, total", unit: "B", better: "lower" },
    { key: "document_bytes", label: "document (state + log)", unit: "B", better: "none" },
    {
      key: "versions_per_document",
      label: "versions total / document",
      unit: "x",
      better: "lower",
    },
    { key: "data_dir_bytes", label: "data directory on disk", unit: "B", better: "lower" },
    { key: "replay_ms", label: "replay + recording (wall clock)", unit: "ms", better: "lower" },
    {
      key: "text_match",
      label: "final text and newest version match",
      unit: "1=yes",
      better: "higher",
    },
  ],
  describes:
    "Tandem's LevelDB store opened in the bench's own process on a fresh temp directory (no server)",
  variants: () => ["LevelDB"],

  async runVariant({ params, progress, tracePath }) {
    const trace: Trace = tracePath ? await loadTrace(tracePath) : generateTrace(params.traceEdits);
    const idleMs = SETTINGS.versionIdle.default;
    const intervalMs = SETTINGS.versionInterval.default;
    const retention = parseRetention(DEFAULT_RETENTION);
    const dir = await tempDir("tandem-bench-versions-");
    const store = await LevelDocumentStore.open({
      path: dir.path,
      fsync: false,
      compaction: {
        minUpdates: SETTINGS.compactAfterUpdates.default,
        ratio: SETTINGS.compactionRatio.default,
        maxUpdates: SETTINGS.maxLogUpdates.default,
        quietMs: SETTINGS.compactWhenQuiet.default,
      },
    });
    const history = store.versions;
    if (!history) throw new Error("the LevelDB store keeps no versions");
    const recorded: Recorded = { idle: 0, interval: 0, deleted: 0, bytes: [] };
    try {
      const doc = new Y.Doc();
      const text = doc.getText("content");
      if (trace.startContent) text.insert(0, trace.startContent);
      const apply = traceApplier(trace);
      let appends: Promise<void>[] = [];
      doc.on("update", (update: Uint8Array) => {
        appends.push(store.append(DOCUMENT, update, AUTHOR));
      });
      const flush = async () => {
        await Promise.all(appends);
        appends = [];
      };
      const record = async (time: number, why: "idle" | "interval") => {
        await flush();
        await store.durable(DOCUMENT);
        const info = await history.record(DOCUMENT, { kind: "auto", time });
        if (!info) return;
        recorded[why]++;
        recorded.bytes.push(info.bytes);
        const expired = expiredVersions(await history.list(DOCUMENT), retention, time);
        if (expired.length > 0) recorded.deleted += await history.delete(DOCUMENT, expired);
      };

      const t0 = now();
      let firstChange: number | null = null;
      let lastChange = START;
      let index = 0;
      for (const time of editTimes(trace.txns.length, params.editMs, params.sessionEdits)) {
        // What the recorder would have done before this edit: the earlier of its two timers.
        while (firstChange !== null) {
          const idleDue = lastChange + idleMs;
          const intervalDue = firstChange + intervalMs;
          const due = Math.min(idleDue, intervalDue);
          if (due > time) break;
          await record(due, idleDue <= intervalDue ? "idle" : "interval");
          firstChange = null;
        }
        doc.transact(() => apply(text, index));
        firstChange ??= time;
        lastChange = time;
        index++;
        if (appends.length >= 1000) await flush();
        if (index % 20_000 === 0) progress(`versions: ${index} of ${trace.txns.length} edits`);
      }
      if (firstChange !== null) await record(lastChange + idleMs, "idle");
      const replayMs = now() - t0;

      const kept = await history.list(DOCUMENT);
      const keptBytes = kept.reduce((sum, v: VersionInfo) => sum + v.bytes, 0);
      const documentBytes = await store.sizeOf(DOCUMENT);
      const newest = kept[0] ? await history.read(DOCUMENT, kept[0].id) : null;
      const stored = await store.read(DOCUMENT);
      const textOf = (update: Uint8Array | null | undefined) => {
        const copy = new Y.Doc();
        if (update) Y.applyUpdate(copy, update);
        return copy.getText("content").toString();
      };
      const matches =
        textOf(stored) === trace.endContent && textOf(newest?.update) === trace.endContent;
      await store.close();
      const dataDirBytes = await dirSize(dir.path);
      return {
        metrics: {
          trace_edits: trace.txns.length,
          simulated_days: round1((lastChange - START) / DAY),
          versions_recorded: recorded.idle + recorded.interval,
          idle_versions: recorded.idle,
          interval_versions: recorded.interval,
          versions_deleted: recorded.deleted,
          versions_kept: kept.length,
          bytes_per_version: kept.length > 0 ? Math.round(keptBytes / kept.length) : null,
          bytes_per_version_max: kept.length > 0 ? Math.max(...kept.map((v) => v.bytes)) : null,
          versions_bytes: keptBytes,
          document_bytes: documentBytes,
          versions_per_document: documentBytes > 0 ? round1(keptBytes / documentBytes) : null,
          data_dir_bytes: dataDirBytes,
          replay_ms: Math.round(replayMs),
          text_match: matches ? 1 : 0,
        },
        checks: { text_match: matches, versions_kept: kept.length > 0 },
        notes: [
          `trace ${trace.name}; simulated: sessions of ${params.sessionEdits} edits a day, an edit every ~${params.editMs} ms, pauses of 5-40 s and 2-15 min; versions at --version-idle ${idleMs} ms / --version-interval ${intervalMs} ms; retention ${DEFAULT_RETENTION} applied at the simulated time of each version (${trace.name.startsWith("generated") ? "generated trace" : "real trace"})`,
        ],
        complaints: [],
      };
    } finally {
      if (store.isOpen) await store.close();
      await dir.remove();
    }
  },
});
