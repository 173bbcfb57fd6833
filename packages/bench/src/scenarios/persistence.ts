import { dirSize, readCpuSeconds, readWriteBytes } from "../servers.ts";
import type { Target } from "../target.ts";
import { generateTrace, loadTrace, type Trace, traceApplier } from "../trace.ts";
import { now, type Progress, sleep, throttle, until } from "../util.ts";
import {
  connectClients,
  countRemoteUpdates,
  cpuPer1k,
  destroyAll,
  disconnectNotes,
  round1,
  sendWindowed,
} from "./common.ts";
import { defineScenario } from "./types.ts";

const WINDOW = 256;

/**
 * Small updates into one document: what reaches the disk per update (the server process's
 * write_bytes, and the data directory's growth), and whether that stays flat as the document
 * grows; how long until every update is acknowledged; how long a restarted server takes to load
 * and sync the document; and a real (or generated) editing trace replayed through the server,
 * read back by a fresh client and compared with the trace's final text.
 */
export const persistence = defineScenario({
  name: "persistence",
  title: "persistence: small updates into one document, restart, trace replay",
  params: {
    updates: { default: 20_000, tiny: 300, help: "small updates into one document" },
    traceEdits: {
      default: 100_000,
      tiny: 2_000,
      help: "edits of the generated trace (when no --trace FILE is given)",
    },
    settleMs: {
      default: 3_000,
      tiny: 300,
      help: "quiet time before the final disk figures (longer than a debounced store)",
    },
  },
  metrics: [
    { key: "ack_all_ms", label: "updates all acknowledged", unit: "ms", better: "lower" },
    { key: "updates_per_s", label: "update rate", unit: "/s", better: "higher" },
    { key: "cpu_ms_per_1k", label: "server CPU / 1,000 updates", unit: "ms", better: "lower" },
    { key: "write_bytes_per_update", label: "disk writes / update", unit: "B", better: "lower" },
    {
      key: "write_bytes_first_quarter",
      label: "  first 25% of updates",
      unit: "B",
      better: "lower",
    },
    { key: "write_bytes_last_quarter", label: "  last 25% of updates", unit: "B", better: "lower" },
    { key: "data_dir_per_update", label: "data dir growth / update", unit: "B", better: "lower" },
    { key: "restart_ms", label: "restart (stop + listen)", unit: "ms", better: "lower" },
    { key: "cold_sync_ms", label: "cold load + sync", unit: "ms", better: "lower" },
    {
      key: "burst_cold_sync_ms",
      label: "cold load after a burst",
      unit: "ms",
      better: "lower",
    },
    { key: "restored", label: "document restored", unit: "1=yes", better: "higher" },
    { key: "trace_edits", label: "trace edits", unit: "", better: "none" },
    { key: "trace_ms", label: "trace replay", unit: "ms", better: "lower" },
    { key: "trace_edits_per_s", label: "trace replay rate", unit: "/s", better: "higher" },
    { key: "trace_match", label: "trace final text matches", unit: "1=yes", better: "higher" },
    {
      key: "trace_cpu_ms_per_1k",
      label: "trace server CPU / 1,000 edits",
      unit: "ms",
      better: "lower",
    },
    {
      key: "trace_write_bytes_per_edit",
      label: "trace disk writes / edit",
      unit: "B",
      better: "lower",
    },
    {
      key: "trace_write_bytes_first_quarter",
      label: "  first 25% of edits",
      unit: "B",
      better: "lower",
    },
    {
      key: "trace_write_bytes_last_quarter",
      label: "  last 25% of edits",
      unit: "B",
      better: "lower",
    },
    {
      key: "trace_data_dir_per_edit",
      label: "trace data dir growth / edit",
      unit: "B",
      better: "lower",
    },
    {
      key: "trace_cold_sync_ms",
      label: "trace result, cold load + sync",
      unit: "ms",
      better: "lower",
    },
  ],
  async run({ target, params, docPrefix, tracePath, progress }) {
    const notes: string[] = [];
    const metrics: Record<string, number | null> = {};
    const checks: Record<string, boolean> = {};
    const acknowledges = target.protocol === "hocuspocus";
    if (!acknowledges) {
      notes.push(
        "no acknowledgements in this protocol: 'acknowledged' = received by a second client",
      );
    }

    // 1. Small updates, with write_bytes sampled at each quarter of the updates applied.
    const docName = `${docPrefix}persistence`;
    // Read the pid each time: the restart below starts a new process.
    const wb = () => {
      const pid = target.pid;
      return pid === null ? Promise.resolve(null) : readWriteBytes(pid);
    };
    const [writer, observer] = await connectClients(target, 2, () => docName, {
      awareness: false,
    });
    if (!writer || !observer) throw new Error("unreachable");
    const n = params.updates;
    let appliedAt: number | null = null;
    let wbEnd: number | null = null;
    let dirEnd: number | null = null;
    const dirStart = target.dataDir ? await dirSize(target.dataDir) : null;
    try {
      const seen = countRemoteUpdates(observer);
      const applied = () => (writer.acknowledges ? writer.acked : seen());
      const quarters = await quarterSampler(wb, applied, n);
      const text = writer.doc.getText("text");
      const report = throttle(1000, () =>
        progress(`persistence ${target.label}: ${applied()}/${n} updates applied`),
      );
      const sample = async () => {
        await quarters.sample();
        report();
      };
      const cpu = () => (target.pid === null ? Promise.resolve(null) : readCpuSeconds(target.pid));
      const cpuStart = await cpu();
      const start = now();
      await sendWindowed({
        writer,
        count: n,
        window: WINDOW,
        seen,
        write: () => text.insert(text.length, "x"),
        tick: sample,
        timeoutMs: 120_000,
      });
      let done = false;
      await until(
        () => {
          void sample();
          if (applied() >= n && !done) {
            done = true;
            appliedAt = now();
          }
          return done;
        },
        60_000,
        2,
      );
      await sample();
      // CPU time, unlike a rate, hardly depends on what else the machine is doing.
      metrics.cpu_ms_per_1k = cpuPer1k(cpuStart, await cpu(), n);
      metrics.ack_all_ms = appliedAt === null ? null : Math.round((appliedAt as number) - start);
      metrics.updates_per_s =
        appliedAt === null ? null : Math.round(n / (((appliedAt as number) - start) / 1000));
      checks.all_acknowledged = appliedAt !== null;
      // Quiet time, so a debounced store (Hocuspocus + SQLite: 2 s) lands in the figures.
      wbEnd = await settle(wb, params.settleMs);
      dirEnd = target.dataDir ? await dirSize(target.dataDir) : null;
      metrics.write_bytes_per_update = per(quarters.values[0], wbEnd, n);
      metrics.write_bytes_first_quarter = quarters.first();
      metrics.write_bytes_last_quarter = quarters.last();
      metrics.data_dir_per_update = per(dirStart, dirEnd, n);
      checks.converged = await until(() => observer.doc.getText("text").length === n, 10_000);
      notes.push(...disconnectNotes([writer, observer]));
    } finally {
      destroyAll([writer, observer]);
    }
    if (target.protocol === "hocuspocus" && target.label === "hp+sqlite") {
      notes.push(
        "hp+sqlite stores the whole document on a debounce, so per-quarter figures are lumpy",
      );
    }

    // 2. Restart on the same data and load the document cold. Right before the restart, a
    // second document gets the same number of updates as fast as one client can send them and
    // the restart follows its last acknowledgement at once: no quiet time in which a store
    // could tidy up, as when a server is redeployed in the middle of a burst of edits.
    if (target.managed) {
      const burstName = `${docPrefix}burst`;
      const burstDone = await burst(target, burstName, n);
      const t0 = now();
      await target.restart("graceful");
      metrics.restart_ms = Math.round(now() - t0);
      const written = "x".repeat(n);
      metrics.cold_sync_ms = await coldLoad(target, docName, written, 10_000);
      const restored = metrics.cold_sync_ms !== null;
      metrics.burst_cold_sync_ms = burstDone
        ? await coldLoad(target, burstName, written, 10_000)
        : null;
      metrics.restored = restored ? 1 : 0;
      checks.restored_if_persistent = restored || target.persistent === false;
      if (!target.persistent)
        notes.push("documents live in memory only: nothing survives a restart");
    } else {
      metrics.restart_ms = null;
      metrics.cold_sync_ms = null;
      metrics.burst_cold_sync_ms = null;
      metrics.restored = null;
      notes.push("not restarted: the bench did not start this server");
    }

    // 3. Replay an editing trace and read it back through a fresh client.
    const trace = await getTrace(tracePath, params.traceEdits, progress);
    const traceDir0 = target.dataDir ? await dirSize(target.dataDir) : null;
    const replay = await replayTrace(
      target,
      trace,
      `${docPrefix}trace`,
      wb,
      params.settleMs,
      progress,
    );
    metrics.trace_edits = trace.txns.length;
    metrics.trace_ms = replay.ms === null ? null : Math.round(replay.ms);
    metrics.trace_edits_per_s =
      replay.ms === null ? null : Math.round(trace.txns.length / (replay.ms / 1000));
    metrics.trace_match = replay.match ? 1 : 0;
    metrics.trace_cpu_ms_per_1k = replay.cpuPer1k;
    metrics.trace_write_bytes_per_edit = replay.bytesPerEdit;
    metrics.trace_data_dir_per_edit = per(
      traceDir0,
      target.dataDir ? await dirSize(target.dataDir) : null,
      trace.txns.length,
    );
    metrics.trace_write_bytes_first_quarter = replay.firstQuarter;
    metrics.trace_write_bytes_last_quarter = replay.lastQuarter;
    checks.trace_matches = replay.match;
    notes.push(`trace: ${trace.name}`, ...replay.notes);

    // 4. The trace's document after a graceful restart: how long a new client waits for all of
    // it (issue 15, target 2: at most 100 ms).
    metrics.trace_cold_sync_ms = null;
    if (target.managed && target.persistent !== false && replay.match) {
      await target.restart("graceful");
      const name = `${docPrefix}trace`;
      metrics.trace_cold_sync_ms = await coldLoad(target, name, trace.endContent, 60_000);
      checks.trace_restored = metrics.trace_cold_sync_ms !== null;
    }
    return { metrics, checks, notes };
  },
});

/**
 * Times a new client's cold load of `name` until its text is `expected`: all of it, not just the
 * first sync (the y-websocket server answers a sync before its LevelDB load finishes and sends
 * the content after). Null if it does not get there within `timeoutMs`.
 */
async function coldLoad(
  target: Target,
  name: string,
  expected: string,
  timeoutMs: number,
): Promise<number | null> {
  const start = now();
  const [reader] = await connectClients(target, 1, () => name, { awareness: false });
  try {
    const text = reader?.doc.getText("text");
    // The length while waiting (cheap to poll), the text once it is all there.
    const loaded = await until(() => text?.length === expected.length, timeoutMs, 1);
    const ms = now() - start;
    return loaded && text?.toString() === expected ? round1(ms) : null;
  } finally {
    reader?.destroy();
  }
}

/**
 * Sends `count` one-character updates into a new document as fast as one client may (a window
 * of unacknowledged updates), and resolves once all are applied: true, or false on a timeout.
 */
async function burst(target: Target, name: string, count: number): Promise<boolean> {
  const [writer, observer] = await connectClients(target, 2, () => name, { awareness: false });
  if (!writer || !observer) throw new Error("unreachable");
  try {
    const seen = countRemoteUpdates(observer);
    const text = writer.doc.getText("text");
    await sendWindowed({
      writer,
      count,
      window: WINDOW,
      seen,
      write: () => text.insert(text.length, "x"),
      timeoutMs: 120_000,
    });
    const applied = () => (writer.acknowledges ? writer.acked : seen());
    return await until(() => applied() >= count, 60_000, 2);
  } finally {
    destroyAll([writer, observer]);
  }
}

/** Waits until write_bytes has not moved for `quietMs` (at most 15 s) and returns it. */
async function settle(read: () => Promise<number | null>, quietMs: number): Promise<number | null> {
  const deadline = now() + 15_000;
  let last = await read();
  let since = now();
  while (now() < deadline && now() - since < quietMs) {
    await sleep(100);
    const value = await read();
    if (value !== last) [last, since] = [value, now()];
  }
  return last;
}

const traces = new Map<string, Promise<Trace>>();

function getTrace(path: string | null, edits: number, progress: Progress): Promise<Trace> {
  const key = path ?? `generated:${edits}`;
  let trace = traces.get(key);
  if (!trace) {
    if (path) progress(`loading trace ${path}`);
    trace = path ? loadTrace(path) : Promise.resolve(generateTrace(edits));
    traces.set(key, trace);
  }
  return trace;
}

async function replayTrace(
  target: Target,
  trace: Trace,
  docName: string,
  wb: () => Promise<number | null>,
  settleMs: number,
  progress: Progress,
): Promise<{
  ms: number | null;
  match: boolean;
  notes: string[];
  bytesPerEdit: number | null;
  firstQuarter: number | null;
  lastQuarter: number | null;
  cpuPer1k: number | null;
}> {
  const [writer, observer] = await connectClients(target, 2, () => docName, { awareness: false });
  if (!writer || !observer) throw new Error("unreachable");
  let ms: number | null = null;
  try {
    const seen = countRemoteUpdates(observer);
    const applied = () => (writer.acknowledges ? writer.acked : seen());
    const text = writer.doc.getText("text");
    const apply = traceApplier(trace);
    const quarters = await quarterSampler(wb, applied, trace.txns.length);
    const cpu = () => (target.pid === null ? Promise.resolve(null) : readCpuSeconds(target.pid));
    const cpuStart = await cpu();
    let cpuEnd: number | null = null;
    const start = now();
    if (trace.startContent.length > 0) text.insert(0, trace.startContent);
    const offset = trace.startContent.length > 0 ? 1 : 0;
    const total = trace.txns.length + offset;
    const report = throttle(2000, () =>
      progress(`trace ${target.label}: ${applied()}/${total} edits applied`),
    );
    const tick = async () => {
      await quarters.sample();
      report();
    };
    await sendWindowed({
      writer,
      count: trace.txns.length,
      window: WINDOW,
      seen,
      write: (i) => writer.doc.transact(() => apply(text, i)),
      tick,
      timeoutMs: 300_000,
    });
    if (
      await until(
        () => {
          void quarters.sample();
          return applied() >= total;
        },
        60_000,
        2,
      )
    ) {
      ms = now() - start;
      cpuEnd = await cpu();
    }
    await quarters.sample();
    // Read back what the server has through a client that never saw the edits. The observer
    // stays connected so that a server without storage still has the document loaded.
    writer.destroy();
    const [reader] = await connectClients(target, 1, () => docName, { awareness: false });
    const match = await until(
      () => reader?.doc.getText("text").toString() === trace.endContent,
      10_000,
      20,
    );
    reader?.destroy();
    // As above: a debounced store after the last edit belongs to the figure too.
    const wbEnd = await settle(wb, settleMs);
    return {
      ms,
      match,
      notes: disconnectNotes([writer, observer]).map((n) => `trace: ${n}`),
      bytesPerEdit: per(quarters.values[0], wbEnd, trace.txns.length),
      firstQuarter: quarters.first(),
      lastQuarter: quarters.last(),
      cpuPer1k: cpuPer1k(cpuStart, cpuEnd, trace.txns.length),
    };
  } finally {
    destroyAll([writer, observer]);
  }
}

const per = (a: number | null | undefined, b: number | null | undefined, count: number) =>
  a === null || a === undefined || b === null || b === undefined || count === 0
    ? null
    : round1((b - a) / count);

/**
 * Samples write_bytes when 0, 25, 50, 75 and 100% of `total` updates are applied, so bytes per
 * update early and late in the document's growth can be compared. Call sample() often.
 */
async function quarterSampler(
  read: () => Promise<number | null>,
  applied: () => number,
  total: number,
) {
  const values: (number | null)[] = [await read()];
  let busy = false;
  return {
    values,
    async sample(): Promise<void> {
      // Not reentrant: callers poll it without awaiting.
      if (busy) return;
      busy = true;
      while (values.length < 5 && applied() >= Math.ceil((values.length * total) / 4)) {
        values.push(await read());
      }
      busy = false;
    },
    first: () => per(values[0], values[1], total / 4),
    last: () => per(values[3], values[4], total / 4),
  };
}
