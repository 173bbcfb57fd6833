import type * as Y from "yjs";
import { Samples } from "../stats.ts";
import { now, throttle, until } from "../util.ts";
import { connectClients, destroyAll, disconnectNotes, round1, sleepUntil } from "./common.ts";
import { defineScenario } from "./types.ts";

/**
 * One document, one writer at a fixed rate, everyone else watching: how long an update takes
 * from the writer's edit to each other client's document (all clients live in this process, so
 * they share one clock), and whether every update reached every client.
 */
export const fanOut = defineScenario({
  name: "fan-out",
  title: "fan-out: 1 document, 1 writer at a fixed rate, the other clients observe",
  params: {
    clients: { default: 50, tiny: 4, help: "clients on the document, the writer included" },
    rate: { default: 50, tiny: 50, help: "updates per second from the writer" },
    seconds: { default: 10, tiny: 1, help: "how long the writer writes" },
  },
  metrics: [
    { key: "p50_ms", label: "delivery p50", unit: "ms", better: "lower" },
    { key: "p95_ms", label: "delivery p95", unit: "ms", better: "lower" },
    { key: "p99_ms", label: "delivery p99", unit: "ms", better: "lower" },
    { key: "max_ms", label: "delivery max", unit: "ms", better: "lower" },
    { key: "delivered_ratio", label: "delivered / expected", unit: "", better: "higher" },
  ],
  async run({ target, params, docPrefix, progress }) {
    const docName = `${docPrefix}fan-out`;
    const clients = await connectClients(target, params.clients, () => docName, {
      awareness: false,
    });
    try {
      const [writer, ...observers] = clients;
      if (!writer) throw new Error("fan-out needs at least one client");
      const updates = Math.max(1, Math.round(params.rate * params.seconds));
      const latencies = new Samples();
      let delivered = 0;
      for (const observer of observers) {
        const map = observer.doc.getMap<number>("fan-out");
        map.observe((event: Y.YMapEvent<number>) => {
          const t = now();
          for (const key of event.keysChanged) {
            const sentAt = map.get(key);
            if (sentAt === undefined) continue;
            latencies.push(t - sentAt);
            delivered++;
          }
        });
      }
      const expected = updates * observers.length;
      const map = writer.doc.getMap<number>("fan-out");
      const report = throttle(1000, () =>
        progress(`fan-out ${target.label}: sent ${map.size}/${updates}, delivered ${delivered}`),
      );
      // Each update is due at a fixed time from the start, so a late timer does not slow the rate.
      const start = now();
      for (let i = 0; i < updates; i++) {
        await sleepUntil(start + (i * 1000) / params.rate);
        map.set(String(i), now());
        report();
      }
      await until(() => delivered >= expected, 10_000);
      const summary = latencies.summary();
      const converged = observers.every((o) => o.doc.getMap("fan-out").size === updates);
      return {
        metrics: {
          p50_ms: round1(summary.p50),
          p95_ms: round1(summary.p95),
          p99_ms: round1(summary.p99),
          max_ms: round1(summary.max),
          delivered_ratio: expected === 0 ? null : Math.round((delivered / expected) * 1e4) / 1e4,
        },
        checks: { converged, all_delivered: delivered === expected },
        notes: disconnectNotes(clients),
      };
    } finally {
      destroyAll(clients);
    }
  },
});
