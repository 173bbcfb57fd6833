import type { BenchClient } from "../adapters/index.ts";
import { isRunning } from "../servers.ts";
import { now, sleep, throttle, until } from "../util.ts";
import { connectClients, destroyAll, yieldToIo } from "./common.ts";
import { SoakSampler, type Trend, trend } from "./soak-samples.ts";
import { defineScenario, type ScenarioResult } from "./types.ts";

/** Each connected client edits about this often, and moves its cursor about this often. */
const EDIT_EVERY_MS = 2_000;
const MOVE_EVERY_MS = 3_000;
/** The main loop's step. */
const TICK_MS = 50;
/** A leaving client waits at most this long for its edits to be acknowledged. */
const LEAVE_WAIT_MS = 20_000;
/** At the end, the sessions still there wait at most this long for theirs. */
const SETTLE_WAIT_MS = 120_000;
const MAP = "soak";

/**
 * One user's seat: a key in one document's map that only this seat writes (a counter, so the
 * document stays the same size however long the soak runs), filled by one client session at a
 * time. Sessions come and go; the seat remembers the last value written and the last one known
 * to be acknowledged, which must never be lost.
 */
interface Seat {
  doc: string;
  key: string;
  /** Residents never leave, so every document has a client at the end. */
  resident: boolean;
  written: number;
  acked: number;
  client: BenchClient | null;
  state: "idle" | "active" | "leaving";
  nextEdit: number;
  nextMove: number;
  joinAt: number;
}

/**
 * A long run with everything at once: `clients` seats on `docs` documents, each session editing
 * and moving its cursor; sessions constantly leave (once their edits are acknowledged) and
 * come back as new sessions; the server is restarted `restarts` times in the first half,
 * alternately killed and stopped gracefully. Meanwhile the server's RSS, V8 heap and open
 * descriptors are sampled; the trends are slopes per hour over the last process after its
 * warm-up (soak-samples.ts). At the end every document must have
 * converged, hold every acknowledged edit, show exactly the sessions still there as present,
 * and read back the same from storage after a final SIGKILL and restart.
 */
export const soak = defineScenario({
  name: "soak",
  title: "soak: churning clients editing, presence, server restarts; memory and descriptors",
  params: {
    minutes: { default: 30, tiny: 1, help: "how long the soak runs" },
    clients: { default: 300, tiny: 40, help: "client seats (sessions at once)" },
    docs: { default: 30, tiny: 4, help: "documents the seats are spread over" },
    churn: { default: 2, tiny: 1, help: "sessions that leave (and later return) per second" },
    restarts: { default: 2, tiny: 1, help: "server restarts, evenly spread (kill, graceful, ...)" },
  },
  timeoutMs: (params) => params.minutes * 60_000 + 10 * 60_000,
  metrics: [
    { key: "sessions", label: "client sessions", unit: "", better: "none" },
    { key: "edits", label: "edits", unit: "", better: "none" },
    { key: "unconfirmed_leaves", label: "left before an ack", unit: "", better: "none" },
    { key: "acked_lost", label: "acknowledged and lost", unit: "", better: "lower" },
    { key: "rss_end_mib", label: "RSS at the end", unit: "MiB", better: "lower" },
    { key: "rss_slope_mib_h", label: "RSS slope", unit: "MiB/h", better: "lower" },
    { key: "heap_end_mib", label: "heap at the end", unit: "MiB", better: "lower" },
    { key: "heap_slope_mib_h", label: "heap slope", unit: "MiB/h", better: "lower" },
    { key: "fds_end", label: "open descriptors at the end", unit: "", better: "lower" },
    { key: "fds_slope_h", label: "descriptor slope", unit: "/h", better: "lower" },
  ],
  async run({ target, params, docPrefix, progress }): Promise<ScenarioResult> {
    if (!target.managed || target.protocol !== "hocuspocus") {
      return {
        metrics: {},
        checks: {},
        notes: [
          "skipped: the soak restarts the server and counts acknowledgements, so it needs a Hocuspocus-protocol server the bench started",
        ],
      };
    }
    const start = now();
    const docName = (d: number) => `${docPrefix}soak-${d}`;
    const seats: Seat[] = Array.from({ length: params.clients }, (_, i) => ({
      doc: docName(i % params.docs),
      key: `seat-${i}`,
      resident: i < params.docs,
      written: 0,
      acked: 0,
      client: null,
      state: "idle",
      nextEdit: 0,
      nextMove: 0,
      // The first sessions arrive over a few seconds, not all in one burst.
      joinAt: start + Math.random() * 5_000,
    }));
    let sessions = 0;
    let edits = 0;
    let unconfirmedLeaves = 0;
    const leaving = new Set<Promise<void>>();
    const sampler = new SoakSampler(target, () => seats.filter((s) => s.client).length, start);
    sampler.start(Math.min(5_000, Math.max(1_000, params.minutes * 60_000 * 0.005)));

    const join = (seat: Seat, t: number) => {
      const client = target.adapter.connect(target.url, seat.doc);
      client.awareness.setLocalStateField("user", { name: seat.key });
      seat.client = client;
      seat.state = "active";
      seat.nextEdit = t + Math.random() * EDIT_EVERY_MS;
      seat.nextMove = t + Math.random() * MOVE_EVERY_MS;
      sessions++;
    };
    const leave = async (seat: Seat) => {
      seat.state = "leaving";
      const client = seat.client as BenchClient;
      if (await until(() => isStored(client), LEAVE_WAIT_MS, 20)) seat.acked = seat.written;
      else unconfirmedLeaves++;
      client.destroy();
      seat.client = null;
      seat.state = "idle";
      seat.joinAt = now() + 500 + Math.random() * 2_500;
    };

    const duration = params.minutes * 60_000;
    // Restarts spread over the first half, so the last process runs for at least half the
    // soak: the memory trends are taken there.
    const restartAt = Array.from(
      { length: params.restarts },
      (_, k) => start + (duration / 2) * ((k + 1) / (params.restarts + 1)),
    );
    const restarts: Promise<void>[] = [];
    let churnDue = 0;
    let last = start;
    const report = throttle(30_000, () =>
      progress(
        `soak ${target.label}: ${Math.round((now() - start) / 1000)} s, ${sessions} sessions, ${edits} edits, RSS ${sampler.samples.at(-1)?.rssMiB ?? "?"} MiB`,
      ),
    );
    try {
      while (now() - start < duration) {
        const t = now();
        if (restartAt.length > 0 && t >= (restartAt[0] as number)) {
          restartAt.shift();
          const how = restarts.length % 2 === 0 ? "kill" : "graceful";
          progress(`soak ${target.label}: restart (${how})`);
          restarts.push(sampler.around(() => target.restart(how)));
        }
        for (const seat of seats) {
          if (seat.state === "idle" && t >= seat.joinAt) join(seat, t);
          const client = seat.client;
          if (seat.state !== "active" || !client) continue;
          // Edits only on a synced connection: an edit made while connecting is sent twice by
          // the provider, and its count of unacknowledged edits then reaches 0 one ack early.
          if (t >= seat.nextEdit && client.connected && client.synced) {
            seat.written++;
            edits++;
            client.doc.getMap<number>(MAP).set(seat.key, seat.written);
            seat.nextEdit = t + EDIT_EVERY_MS * (0.5 + Math.random());
          }
          if (t >= seat.nextMove) {
            client.awareness.setLocalStateField("cursor", { pos: Math.floor(Math.random() * 1e4) });
            seat.nextMove = t + MOVE_EVERY_MS * (0.5 + Math.random());
          }
        }
        churnDue += (params.churn * (t - last)) / 1000;
        last = t;
        const candidates = seats.filter((s) => !s.resident && s.state === "active");
        for (; churnDue >= 1 && candidates.length > 0; churnDue--) {
          const [seat] = candidates.splice(Math.floor(Math.random() * candidates.length), 1);
          const left = leave(seat as Seat);
          leaving.add(left);
          void left.finally(() => leaving.delete(left));
        }
        churnDue = Math.min(churnDue, 1);
        report();
        await sleep(Math.max(0, TICK_MS - (now() - t)));
        await yieldToIo();
      }

      // Settle: the last restarts and departures finish, the sessions left stop editing and
      // wait until all they wrote is acknowledged.
      progress(`soak ${target.label}: settling`);
      await Promise.all(restarts);
      await Promise.all([...leaving]);
      const live = seats.filter((s) => s.client !== null);
      const settled = await until(
        () => live.every((s) => isStored(s.client as BenchClient)),
        SETTLE_WAIT_MS,
        50,
      );
      const unsettled = live.filter((s) => !isStored(s.client as BenchClient)).length;
      for (const seat of live) if (isStored(seat.client as BenchClient)) seat.acked = seat.written;

      const byDoc = groupBy(live, (s) => s.doc);
      const contents = () =>
        new Map(
          [...byDoc].map(([doc, on]) => [
            doc,
            on.map((s) => JSON.stringify(sorted((s.client as BenchClient).doc.getMap(MAP)))),
          ]),
        );
      const converged = await until(
        () => [...contents().values()].every((texts) => texts.every((x) => x === texts[0])),
        30_000,
        50,
      );
      const finalOf = new Map([...contents()].map(([doc, texts]) => [doc, texts[0] as string]));
      let ackedLost = 0;
      for (const seat of seats) {
        const map = JSON.parse(finalOf.get(seat.doc) ?? "{}") as Record<string, number>;
        if ((map[seat.key] ?? 0) < seat.acked) ackedLost++;
      }
      // Presence: on every document, everyone sees exactly the sessions still there.
      const presenceMatches = await until(
        () =>
          [...byDoc.values()].every((on) => {
            const ids = on.map((s) => (s.client as BenchClient).doc.clientID).sort();
            return on.every((s) => {
              const seen = [...(s.client as BenchClient).awareness.getStates().keys()].sort();
              return JSON.stringify(seen) === JSON.stringify(ids);
            });
          }),
        20_000,
        50,
      );
      const alive = !sampler.unexpectedExit && target.pid !== null && (await isRunning(target.pid));
      await sampler.stop();

      // Storage: everything was acknowledged, so it all survives a SIGKILL.
      progress(`soak ${target.label}: SIGKILL, restart, reading every document back`);
      destroyAll(live.map((s) => s.client as BenchClient));
      for (const seat of live) seat.client = null;
      let storageMatches: boolean | null = null;
      if (target.persistent) {
        await target.restart("kill");
        const readers = await connectClients(target, params.docs, docName, { awareness: false });
        try {
          storageMatches = readers.every((reader, d) => {
            const stored = JSON.stringify(sorted(reader.doc.getMap(MAP)));
            return stored === (finalOf.get(docName(d)) ?? "{}");
          });
        } finally {
          destroyAll(readers);
        }
      }

      const samples = sampler.samples;
      const rss = trend(samples, (s) => s.rssMiB);
      const heap = trend(samples, (s) => s.heapMiB);
      const fds = trend(samples, (s) => s.fds);
      const notes = [
        `${samples.length} samples over ${params.restarts + 1} server processes; trends over the last ${rss.spanS} s of the last process (after its warm-up)`,
        describe("RSS", rss, "MiB"),
        describe("heap", heap, "MiB"),
        describe("descriptors", fds, ""),
      ];
      if (!settled) {
        notes.push(
          `${unsettled} of ${live.length} sessions still had unacknowledged edits after ${SETTLE_WAIT_MS / 1000} s`,
        );
      }
      return {
        metrics: {
          sessions,
          edits,
          unconfirmed_leaves: unconfirmedLeaves,
          acked_lost: ackedLost,
          rss_end_mib: rss.last,
          rss_slope_mib_h: rss.perHour,
          heap_end_mib: heap.last,
          heap_slope_mib_h: heap.perHour,
          fds_end: fds.last,
          fds_slope_h: fds.perHour,
        },
        checks: {
          converged,
          all_acknowledged: settled,
          no_acknowledged_lost: ackedLost === 0,
          presence_matches: presenceMatches,
          ...(storageMatches === null ? {} : { storage_matches: storageMatches }),
          server_alive: alive,
          bounded_growth:
            grewLittle(rss) && grewLittle(heap) && (fds.max ?? 0) <= params.clients + 100,
        },
        notes,
        series: samples.map((s) => ({ ...s })),
      };
    } finally {
      await sampler.stop();
      await Promise.all([...restarts, ...leaving]).catch(() => {});
      destroyAll(seats.flatMap((s) => (s.client ? [s.client] : [])));
    }
  },
});

/** Connected, synced, and nothing unacknowledged. */
const isStored = (client: BenchClient): boolean =>
  client.connected && client.synced && client.unacked === 0;

/**
 * A generous bound on growth after warm-up, for a short run: the largest reading at most half
 * again the smallest plus 32 MiB. A leak per session or per edit passes it within minutes.
 */
const grewLittle = (t: Trend): boolean =>
  t.max === null || t.min === null || t.max <= t.min * 1.5 + 32;

function describe(what: string, t: Trend, unit: string): string {
  if (t.perHour === null) return `${what}: not measured`;
  const u = unit ? ` ${unit}` : "";
  return `${what}: ${t.first} → ${t.last}${u} (min ${t.min}, max ${t.max}), slope ${t.perHour}${u}/h`;
}

function sorted(map: { toJSON(): Record<string, unknown> }): Record<string, unknown> {
  const json = map.toJSON();
  return Object.fromEntries(
    Object.keys(json)
      .sort()
      .map((k) => [k, json[k]]),
  );
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}
