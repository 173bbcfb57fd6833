import type { BenchClient } from "../adapters/index.ts";
import { readCpuSeconds } from "../servers.ts";
import { now, throttle, until } from "../util.ts";
import {
  connectClients,
  cpuPer1k,
  destroyAll,
  disconnectNotes,
  round1,
  yieldToIo,
} from "./common.ts";
import { defineScenario } from "./types.ts";

/** Updates a writer may have in flight: sent, and not yet acknowledged (or seen, see below). */
const WINDOW = 64;

/**
 * One document, writers typing into one shared text as fast as the server lets them, observers
 * watching. Each update inserts one character at a random place and bumps the writer's counter
 * in a map, in one transaction. "As fast as the server lets them" is a window: a writer keeps at
 * most WINDOW updates in flight, where in flight means not yet acknowledged (Hocuspocus
 * protocol) or, since y-websocket acknowledges nothing, not yet seen by the first observer.
 */
export const throughput = defineScenario({
  name: "throughput",
  title: "throughput: 1 document, writers as fast as allowed, observers",
  params: {
    writers: { default: 8, tiny: 2, help: "clients writing" },
    observers: { default: 8, tiny: 2, help: "clients only observing" },
    seconds: { default: 10, tiny: 1, help: "how long the writers write" },
  },
  metrics: [
    { key: "applied_per_s", label: "updates applied", unit: "/s", better: "higher" },
    { key: "delivered_per_s", label: "updates delivered", unit: "/s", better: "higher" },
    { key: "updates", label: "updates written", unit: "", better: "higher" },
    { key: "drain_ms", label: "drain after writers stop", unit: "ms", better: "lower" },
    {
      key: "cpu_ms_per_1k",
      label: "server CPU / 1,000 updates",
      unit: "ms",
      better: "lower",
    },
    { key: "server_cpu_pct", label: "server CPU", unit: "% core", better: "none" },
    { key: "loadgen_cpu_pct", label: "load generator CPU", unit: "% core", better: "none" },
  ],
  async run({ target, params, docPrefix, progress }) {
    const docName = `${docPrefix}throughput`;
    const clients = await connectClients(
      target,
      params.writers + Math.max(1, params.observers),
      () => docName,
      { awareness: false },
    );
    try {
      const writers = clients.slice(0, params.writers);
      const observers = clients.slice(params.writers);
      const first = observers[0] as BenchClient;
      const sent = writers.map(() => 0);
      const seenByFirst = (w: number): number =>
        (first.doc.getMap<number>("counters").get(`w${w}`) ?? -1) + 1;
      const inFlight = (w: number): number => {
        const writer = writers[w] as BenchClient;
        return writer.acknowledges ? writer.unacked : (sent[w] as number) - seenByFirst(w);
      };
      // Applied: acknowledged by the server, or (y-websocket) seen by the first observer.
      const applied = (): number =>
        writers.reduce(
          (sum, writer, w) => sum + (writer.acknowledges ? writer.acked : seenByFirst(w)),
          0,
        );
      const delivered = (): number =>
        observers.reduce((sum, o) => sum + o.doc.getText("text").length, 0);

      const cpuStart = target.pid === null ? null : await readCpuSeconds(target.pid);
      const own0 = process.cpuUsage();
      const start = now();
      const end = start + params.seconds * 1000;
      let lastApplied = 0;
      let lastAppliedAt = start;
      let lastDelivered = 0;
      let lastDeliveredAt = start;
      const sample = () => {
        const a = applied();
        const d = delivered();
        const t = now();
        if (a > lastApplied) [lastApplied, lastAppliedAt] = [a, t];
        if (d > lastDelivered) [lastDelivered, lastDeliveredAt] = [d, t];
      };
      const report = throttle(1000, () =>
        progress(
          `throughput ${target.label}: ${Math.round((now() - start) / 1000)}s written ${sent.reduce((a, b) => a + b, 0)} applied ${applied()}`,
        ),
      );
      while (now() < end) {
        writers.forEach((writer, w) => {
          const text = writer.doc.getText("text");
          const counters = writer.doc.getMap<number>("counters");
          while (inFlight(w) < WINDOW) {
            const seq = sent[w] as number;
            writer.doc.transact(() => {
              text.insert(Math.floor(Math.random() * (text.length + 1)), "x");
              counters.set(`w${w}`, seq);
            });
            sent[w] = seq + 1;
          }
        });
        sample();
        report();
        await yieldToIo();
      }
      const total = sent.reduce((a, b) => a + b, 0);
      const stopped = now();
      // CPU while the writers wrote (the drain below is mostly waiting).
      const own = process.cpuUsage(own0);
      const cpuStopped = target.pid === null ? null : await readCpuSeconds(target.pid);
      const writing = Math.max(1e-3, (stopped - start) / 1000);
      await until(() => {
        sample();
        return applied() >= total && delivered() >= total * observers.length;
      }, 30_000);
      // Writers receive each other's updates too; give them the same bounded time to catch up.
      const everyone = [...writers, ...observers];
      await until(() => everyone.every((c) => c.doc.getText("text").length === total), 10_000, 20);
      const texts = everyone.map((c) => c.doc.getText("text").toString());
      const converged = texts.every((t) => t === texts[0]) && texts[0]?.length === total;
      const cpuEnd = target.pid === null ? null : await readCpuSeconds(target.pid);
      const seconds = (t: number) => Math.max(1e-3, (t - start) / 1000);
      return {
        metrics: {
          applied_per_s: Math.round(lastApplied / seconds(lastAppliedAt)),
          delivered_per_s: Math.round(lastDelivered / seconds(lastDeliveredAt)),
          updates: total,
          drain_ms: Math.round(Math.max(lastAppliedAt, lastDeliveredAt) - stopped),
          // CPU time, unlike a rate, hardly depends on what else the machine is doing.
          cpu_ms_per_1k: cpuPer1k(cpuStart, cpuEnd, total),
          // Both as % of one core while the writers wrote: on a small machine a saturated load
          // generator, not the server, sets the rates above.
          server_cpu_pct:
            cpuStart === null || cpuStopped === null
              ? null
              : round1(((cpuStopped - cpuStart) / writing) * 100),
          loadgen_cpu_pct: round1(((own.user + own.system) / 1e6 / writing) * 100),
        },
        checks: { converged, all_applied: lastApplied === total },
        notes: [
          ...(writers[0]?.acknowledges
            ? []
            : ["no acknowledgements in this protocol: applied = seen by the first observer"]),
          ...disconnectNotes(clients),
        ],
      };
    } finally {
      destroyAll(clients);
    }
  },
});
