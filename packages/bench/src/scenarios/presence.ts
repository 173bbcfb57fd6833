import type { BenchClient } from "../adapters/index.ts";
import { readCpuSeconds } from "../servers.ts";
import { Samples } from "../stats.ts";
import { now, sleep, throttle, until } from "../util.ts";
import { connectClients, destroyAll, round1 } from "./common.ts";
import { defineScenario } from "./types.ts";

interface Cursor {
  cursor: { pos: number; t: number };
}

/**
 * Many clients on one document moving their cursors (awareness) at a steady rate, spread evenly
 * over each period: the server's CPU while they do (from /proc/PID/stat), and how long a cursor
 * move takes to reach the other clients. Every client receives every other client's moves, so
 * the load generator works hard too; its own CPU is reported so a saturated generator shows.
 */
export const presence = defineScenario({
  name: "presence",
  title: "presence: clients moving cursors on one document",
  params: {
    clients: { default: 200, tiny: 10, help: "clients on the document" },
    hz: { default: 2, tiny: 2, help: "cursor moves per second per client" },
    seconds: { default: 10, tiny: 2, help: "how long the cursors move" },
  },
  metrics: [
    { key: "server_cpu_pct", label: "server CPU", unit: "% core", better: "lower" },
    { key: "p50_ms", label: "awareness p50", unit: "ms", better: "lower" },
    { key: "p95_ms", label: "awareness p95", unit: "ms", better: "lower" },
    { key: "p99_ms", label: "awareness p99", unit: "ms", better: "lower" },
    { key: "max_ms", label: "awareness max", unit: "ms", better: "lower" },
    { key: "delivered_ratio", label: "delivered / expected", unit: "", better: "higher" },
    { key: "loadgen_cpu_pct", label: "load generator CPU", unit: "% core", better: "none" },
  ],
  async run({ target, params, docPrefix, progress }) {
    const docName = `${docPrefix}presence`;
    const clients = await connectClients(target, params.clients, () => docName, {
      awareness: false,
      concurrency: 20,
    });
    const timers: NodeJS.Timeout[] = [];
    try {
      const latencies = new Samples();
      let delivered = 0;
      let measuring = false;
      for (const client of clients)
        listen(client, (latency) => {
          if (!measuring) return;
          latencies.push(latency);
          delivered++;
        });
      // Everyone announces a cursor once, then the first moves wait for that flood to pass.
      for (const client of clients) move(client, 0);
      await sleep(1000);

      const pid = target.pid;
      const cpu0 = pid === null ? null : await readCpuSeconds(pid);
      const own0 = process.cpuUsage();
      const start = now();
      measuring = true;
      const period = 1000 / params.hz;
      const movesEach = Math.max(1, Math.round(params.seconds * params.hz));
      let moves = 0;
      clients.forEach((client, i) => {
        let count = 0;
        const tick = () => {
          move(client, ++count);
          moves++;
          if (count < movesEach)
            timers.push(setTimeout(tick, start + count * period + offset - now()));
        };
        const offset = (i / clients.length) * period;
        timers.push(setTimeout(tick, offset));
      });
      const report = throttle(1000, () =>
        progress(`presence ${target.label}: ${moves} moves, ${delivered} deliveries`),
      );
      const expected = movesEach * clients.length * (clients.length - 1);
      await until(
        () => {
          report();
          return moves >= movesEach * clients.length;
        },
        params.seconds * 1000 + 10_000,
        20,
      );
      const elapsed = (now() - start) / 1000;
      const cpu1 = pid === null ? null : await readCpuSeconds(pid);
      const own = process.cpuUsage(own0);
      await until(() => delivered >= expected, 5_000, 20);
      measuring = false;
      const s = latencies.summary();
      return {
        metrics: {
          server_cpu_pct:
            cpu0 === null || cpu1 === null ? null : round1(((cpu1 - cpu0) / elapsed) * 100),
          p50_ms: round1(s.p50),
          p95_ms: round1(s.p95),
          p99_ms: round1(s.p99),
          max_ms: round1(s.max),
          delivered_ratio: Math.round((delivered / expected) * 1e4) / 1e4,
          loadgen_cpu_pct: round1(((own.user + own.system) / 1e6 / elapsed) * 100),
        },
        checks: { all_delivered: delivered >= expected },
        notes: [],
      };
    } finally {
      for (const timer of timers) clearTimeout(timer);
      destroyAll(clients);
    }
  },
});

function move(client: BenchClient, pos: number): void {
  const state: Cursor = { cursor: { pos, t: now() } };
  client.awareness.setLocalState(state);
}

/** Calls `onLatency` for each cursor move of another client this client receives. */
function listen(client: BenchClient, onLatency: (ms: number) => void): void {
  const own = client.doc.clientID;
  client.awareness.on(
    "change",
    ({ added, updated }: { added: number[]; updated: number[] }, origin: unknown) => {
      if (origin === "local") return;
      const t = now();
      for (const id of [...added, ...updated]) {
        if (id === own) continue;
        const state = client.awareness.getStates().get(id) as Partial<Cursor> | undefined;
        if (state?.cursor) onLatency(t - state.cursor.t);
      }
    },
  );
}
