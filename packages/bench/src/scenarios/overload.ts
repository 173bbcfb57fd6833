import * as Y from "yjs";
import { type LightClient, openLight } from "../adapters/light.ts";
import { readRss } from "../servers.ts";
import { Samples } from "../stats.ts";
import type { Target } from "../target.ts";
import { now, sleep, throttle } from "../util.ts";
import { round1 } from "./common.ts";
import { EditLedger, SeenEdits, TinyEditor } from "./edits.ts";
import { serverQuiet } from "./quiet.ts";
import { defineScenario } from "./types.ts";
import { Wakeup } from "./wakeup.ts";

/** Updates each writer keeps in flight while the capacity is measured. */
const WINDOW = 32;
/** The root map the writers set their key in (see TinyEditor). */
const MAP = "overload";
/** An open-loop writer stops queueing once its own socket holds this much unsent. */
const MAX_UNSENT_BYTES = 64 * 1024 * 1024;
/** Server RSS is read this often. */
const RSS_EVERY_MS = 100;
/** Latency counts as recovered within this factor of the normal phase's p99 (plus a margin). */
const RECOVERED_FACTOR = 2;
const RECOVERED_MARGIN_MS = 20;

type Phase = "normal" | "overload" | "recover";

/**
 * Overload and clients that stop reading, on one document. `writers` light clients each set a
 * key of a map to `updateBytes` of data, over and over (each update replaces the writer's last,
 * so the document stays small while its log grows); a light observer times each update's
 * arrival; `nonReaders` more light clients are on the document (every update is sent to them
 * too, which is what fills a non-reader's buffer on the server).
 *
 *   capacity: closed loop (each writer keeps 32 updates unacknowledged, or for y-websocket not
 *             yet seen by the observer), `capacityS` seconds to warm up and as many measured:
 *             the server's capacity, updates/s;
 *   normal:   `normalS` seconds open loop at half the capacity: the normal latency;
 *   overload: `overloadS` seconds open loop at twice the capacity (writers send on schedule
 *             whether or not the server keeps up, as people do), while the non-readers stop
 *             reading their sockets and sending (TCP level);
 *   recover:  `recoverS` seconds open loop at half the capacity again; the non-readers read
 *             again, so they see how the server closed them (Tandem: 4429 once a socket holds
 *             more than --max-buffered-bytes unsent).
 *
 * Reported: peak server RSS (/proc, every 100 ms) against the RSS before the overload; delivery
 * latency p99 per phase; recovery time, from the load dropping to the last update whose latency
 * was over twice the normal p99 (+20 ms); what happened to the non-readers; and, on a server
 * the bench started, every update acknowledged before a SIGKILL against what a fresh client
 * reads after the restart (an update carries its writer's sequence number, and a writer's
 * updates build on each other, so a stored one implies every earlier one).
 */
export const overload = defineScenario({
  name: "overload",
  title: "overload: writers at twice the capacity, clients that stop reading, recovery",
  params: {
    writers: { default: 4, tiny: 2, help: "clients writing" },
    nonReaders: { default: 4, tiny: 1, help: "clients that stop reading during the overload" },
    updateBytes: { default: 1024, tiny: 1024, help: "bytes of data in each update" },
    capacityS: {
      default: 5,
      tiny: 1,
      help: "seconds of closed-loop writing to warm up, then as many to find capacity",
    },
    normalS: { default: 3, tiny: 1, help: "seconds at half the capacity before the overload" },
    overloadS: { default: 10, tiny: 2, help: "seconds at twice the capacity" },
    recoverS: { default: 30, tiny: 4, help: "seconds at half the capacity after the overload" },
  },
  metrics: [
    { key: "capacity_per_s", label: "capacity (closed loop)", unit: "/s", better: "higher" },
    { key: "overload_rate", label: "overload rate (2× capacity)", unit: "/s", better: "none" },
    { key: "rss_before_mb", label: "server RSS before the overload", unit: "MB", better: "lower" },
    { key: "rss_peak_mb", label: "server RSS peak", unit: "MB", better: "lower" },
    { key: "normal_p99_ms", label: "latency p99, normal load", unit: "ms", better: "lower" },
    { key: "overload_p99_ms", label: "latency p99, overload", unit: "ms", better: "lower" },
    { key: "recover_p99_ms", label: "latency p99, load dropped", unit: "ms", better: "lower" },
    { key: "recovery_ms", label: "recovery time", unit: "ms", better: "lower" },
    { key: "nonreaders_closed", label: "non-readers closed by server", unit: "", better: "none" },
    { key: "writers_closed", label: "writers closed by server", unit: "", better: "lower" },
    { key: "not_sent", label: "updates the generator held back", unit: "", better: "none" },
    { key: "acked", label: "acknowledged before the kill", unit: "", better: "none" },
    { key: "acked_lost", label: "acknowledged and lost", unit: "", better: "lower" },
    { key: "loadgen_cpu_pct", label: "load generator CPU", unit: "% core", better: "none" },
  ],
  async run({ target, params, docPrefix, progress }) {
    const name = `${docPrefix}overload`;
    if (params.writers < 1) throw new Error("overload needs at least one writer");
    const notes: string[] = [];
    const acknowledges = target.protocol === "hocuspocus";
    const ledger = new EditLedger();
    const wake = new Wakeup();
    const seen = new SeenEdits();
    /** Updates of each writer the observer has seen (a writer's arrive in order). */
    const seenOf = new Array<number>(params.writers).fill(0);
    const latency: Record<Phase, Samples> = {
      normal: new Samples(),
      overload: new Samples(),
      recover: new Samples(),
    };
    /** Recover phase: [sentAt, latency] of each update, to find when latency came back. */
    const recovering: [number, number][] = [];
    const bounds = { overloadAt: Number.POSITIVE_INFINITY, recoverAt: Number.POSITIVE_INFINITY };
    let measuring = false;
    const phaseOf = (sentAt: number): Phase =>
      sentAt >= bounds.recoverAt ? "recover" : sentAt >= bounds.overloadAt ? "overload" : "normal";

    const clients: LightClient[] = [];
    const sampler: { timer: NodeJS.Timeout | null } = { timer: null };
    try {
      const onUpdate = (update: Uint8Array, at: number) => {
        for (const edit of ledger.editsIn(update)) {
          if (!seen.mark(edit)) continue;
          const w = ledger.author[edit] as number;
          seenOf[w] = (seenOf[w] ?? 0) + 1;
          if (!measuring) continue;
          const sentAt = ledger.sentAt[edit] as number;
          const phase = phaseOf(sentAt);
          latency[phase].push(at - sentAt);
          if (phase === "recover") recovering.push([sentAt, at - sentAt]);
        }
        wake.notify();
      };
      clients.push(await openLight(target.protocol, target.url, name, { onUpdate }));
      const writers: { client: LightClient; editor: TinyEditor }[] = [];
      for (let w = 0; w < params.writers; w++) {
        const client = await openLight(target.protocol, target.url, name, { onAck: wake.notify });
        clients.push(client);
        writers.push({ client, editor: new TinyEditor(MAP) });
      }
      const nonReaders: LightClient[] = [];
      for (let i = 0; i < params.nonReaders; i++) {
        const client = await openLight(target.protocol, target.url, name);
        clients.push(client);
        nonReaders.push(client);
      }
      const pad = "x".repeat(params.updateBytes);
      let notSent = 0;
      const write = (w: number) => {
        const writer = writers[w];
        if (!writer) return;
        if (writer.client.bufferedAmount > MAX_UNSENT_BYTES) {
          notSent++;
          return;
        }
        const { client, editor } = writer;
        ledger.record(editor.clientID, editor.nextClock, w, now());
        client.send(editor.set(`w${w}`, [client.sent, pad]));
      };
      const applied = () =>
        writers.reduce(
          (sum, { client }, w) => sum + (acknowledges ? client.acked : (seenOf[w] ?? 0)),
          0,
        );
      const inFlight = (w: number) => {
        const writer = writers[w] as (typeof writers)[number];
        return writer.client.sent - (acknowledges ? writer.client.acked : (seenOf[w] ?? 0));
      };

      // Capacity, closed loop, measured over its second half: the first warms up the JIT of
      // both ends (a cold server takes several seconds to reach its rate).
      progress(`overload ${target.label}: measuring capacity`);
      const closedLoop = async (seconds: number) => {
        const start = now();
        while (now() - start < seconds * 1000) {
          writers.forEach((_, w) => {
            while (inFlight(w) < WINDOW) write(w);
          });
          await wake.wait(100);
        }
      };
      await closedLoop(params.capacityS);
      const a0 = applied();
      const c0 = now();
      await closedLoop(params.capacityS);
      const capacity = Math.max(1, Math.round((applied() - a0) / ((now() - c0) / 1000)));
      // Let the closed loop drain before the open loop starts.
      await wake.until(() => writers.every((_, w) => inFlight(w) === 0), 30_000);
      await serverQuiet(target, { maxPct: 10, timeoutMs: 10_000 });

      const pid = target.pid;
      let rssBefore: number | null = null;
      let rssPeak: number | null = null;
      const sampleRss = async () => {
        const rss = pid === null ? null : await readRss(pid);
        if (rss !== null && bounds.overloadAt !== Number.POSITIVE_INFINITY) {
          rssPeak = Math.max(rssPeak ?? 0, rss);
        }
      };
      sampler.timer = setInterval(() => void sampleRss(), RSS_EVERY_MS);
      const own0 = process.cpuUsage();
      const ownStart = now();
      measuring = true;
      const half = capacity / 2;
      progress(`overload ${target.label}: capacity ${capacity}/s; ${Math.round(half)}/s`);
      await openLoop(half, params.normalS, writers.length, write);

      rssBefore = pid === null ? null : await readRss(pid);
      for (const client of nonReaders) client.pause();
      bounds.overloadAt = now();
      progress(`overload ${target.label}: ${capacity * 2}/s for ${params.overloadS} s`);
      await openLoop(capacity * 2, params.overloadS, writers.length, write, () =>
        progress(`overload ${target.label}: observer has ${seen.count}/${ledger.size}`),
      );

      bounds.recoverAt = now();
      for (const client of nonReaders) client.resume();
      progress(`overload ${target.label}: back to ${Math.round(half)}/s`);
      await openLoop(half, params.recoverS, writers.length, write, () =>
        progress(`overload ${target.label}: observer has ${seen.count}/${ledger.size}`),
      );
      const allDelivered = await wake.until(() => seen.count >= ledger.size, 30_000);
      clearInterval(sampler.timer);
      await sampleRss();
      const ownCpu = process.cpuUsage(own0);
      const ownSeconds = (now() - ownStart) / 1000;
      const serverAlive = pid === null || (await readRss(pid)) !== null;

      const normalP99 = latency.normal.summary().p99;
      const recovery = recoveryMs(recovering, bounds.recoverAt, normalP99, allDelivered);

      // What became of the non-readers.
      const codes = new Map<number, number>();
      let closed = 0;
      for (const client of nonReaders) {
        if (client.open) continue;
        closed++;
        const { code } = await client.closed;
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
      notes.push(
        closed === 0
          ? "no non-reader was closed by the server"
          : `non-readers closed: ${[...codes].map(([code, n]) => `${n} with ${code}`).join(", ")}`,
      );
      // Writers the server cut off (a refusal closes their document or socket) explain updates
      // that never arrived.
      const writerCodes = new Map<number, number>();
      let writersClosed = 0;
      for (const { client } of writers) {
        if (client.open) continue;
        writersClosed++;
        const { code } = await client.closed;
        writerCodes.set(code, (writerCodes.get(code) ?? 0) + 1);
      }
      if (writersClosed > 0) {
        const codes = [...writerCodes].map(([code, n]) => `${n} with ${code}`).join(", ");
        notes.push(`writers closed by the server: ${codes}`);
      }
      if (notSent > 0) {
        notes.push(`${notSent} updates held back: a writer's own socket had 64 MB unsent`);
      }
      if (!acknowledges) notes.push("no acknowledgements in this protocol: nothing to check");

      // Acknowledged against stored, across a SIGKILL.
      const acked = acknowledges ? writers.map(({ client }) => client.acked) : null;
      let ackedLost: number | null = null;
      if (acked && target.managed) {
        const writerIds = writers.map(({ editor }) => editor.clientID);
        for (const client of clients.splice(0)) client.close();
        await target.restart("kill");
        const stored = await storedCounts(target, name, writerIds);
        ackedLost = acked.reduce((sum, n, w) => sum + Math.max(0, n - (stored[w] ?? 0)), 0);
      } else if (acked) {
        notes.push("not restarted: the bench can only kill a server it started");
      }
      const mb = (bytes: number | null) => (bytes === null ? null : round1(bytes / 1024 / 1024));
      const s = {
        normal: latency.normal.summary(),
        overload: latency.overload.summary(),
        recover: latency.recover.summary(),
      };
      return {
        metrics: {
          capacity_per_s: capacity,
          overload_rate: capacity * 2,
          rss_before_mb: mb(rssBefore),
          rss_peak_mb: mb(rssPeak),
          normal_p99_ms: round1(s.normal.p99),
          overload_p99_ms: round1(s.overload.p99),
          recover_p99_ms: round1(s.recover.p99),
          recovery_ms: recovery === null ? null : Math.round(recovery),
          nonreaders_closed: closed,
          writers_closed: writersClosed,
          not_sent: notSent,
          acked: acked ? acked.reduce((a, b) => a + b, 0) : null,
          acked_lost: ackedLost,
          loadgen_cpu_pct: round1(((ownCpu.user + ownCpu.system) / 1e6 / ownSeconds) * 100),
        },
        checks: {
          server_alive: serverAlive,
          all_delivered: allDelivered,
          recovered: recovery !== null,
          ...(acknowledges && target.managed ? { no_acknowledged_lost: ackedLost === 0 } : {}),
        },
        notes,
      };
    } finally {
      if (sampler.timer) clearInterval(sampler.timer);
      for (const client of clients) client.close();
    }
  },
});

/**
 * Sends at `rate` updates per second for `seconds`, spread over the writers, on schedule: the
 * updates due so far go out every few ms, whatever the server does with them.
 */
async function openLoop(
  rate: number,
  seconds: number,
  writers: number,
  write: (writer: number) => void,
  report?: () => void,
): Promise<void> {
  const start = now();
  const total = Math.round(rate * seconds);
  const tick = report ? throttle(2000, report) : () => {};
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((now() - start) / 1000) * rate) + 1);
    while (sent < due) write(sent++ % writers);
    tick();
    await sleep(5);
  }
}

/**
 * Ms from the load dropping (`from`) to the send time of the last update whose latency was
 * still over the threshold; null if latency never came back (the last update was still slow, or
 * some updates never arrived).
 */
function recoveryMs(
  samples: readonly [number, number][],
  from: number,
  normalP99: number | null,
  allDelivered: boolean,
): number | null {
  if (!allDelivered || normalP99 === null || samples.length === 0) return null;
  const threshold = normalP99 * RECOVERED_FACTOR + RECOVERED_MARGIN_MS;
  const sorted = [...samples].sort((a, b) => a[0] - b[0]);
  const last = sorted[sorted.length - 1] as [number, number];
  if (last[1] > threshold) return null;
  let lastSlow = from;
  for (const [sentAt, ms] of sorted) if (ms > threshold) lastSlow = sentAt;
  return lastSlow - from;
}

/**
 * How many updates of each writer a fresh client finds after the restart: a writer's clock is
 * its update count (one map item per update). The y-websocket server sends what it loads after
 * the first sync, so updates that arrive in the next seconds count too.
 */
async function storedCounts(
  target: Target,
  name: string,
  writerIds: readonly number[],
): Promise<number[]> {
  const counts = writerIds.map(() => 0);
  const wake = new Wakeup();
  const track = (update: Uint8Array) => {
    const { to } = Y.parseUpdateMeta(update);
    writerIds.forEach((id, w) => {
      counts[w] = Math.max(counts[w] as number, to.get(id) ?? 0);
    });
    wake.notify();
  };
  const reader = await openLight(target.protocol, target.url, name, {
    onStep2: track,
    onUpdate: track,
  });
  try {
    // Until nothing new arrived for 1 s (at most 10 s).
    let last = -1;
    const deadline = now() + 10_000;
    while (now() < deadline) {
      const total = counts.reduce((a, b) => a + b, 0);
      if (total === last) break;
      last = total;
      await sleep(1000);
    }
    return counts;
  } finally {
    reader.close();
  }
}
