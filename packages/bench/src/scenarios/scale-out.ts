import {
  type PostgresEngine,
  type RedisEngine,
  startPostgres,
  startRedis,
} from "@tandem/testkit/engines";
import type * as Y from "yjs";
import { adapterFor, type BenchClient } from "../adapters/index.ts";
import { ManagedServer, readCpuSeconds, readTreeCpuSeconds } from "../servers.ts";
import { Samples } from "../stats.ts";
import { mustUntil, now, throttle, until } from "../util.ts";
import { destroyAll, round1, sleepUntil, yieldToIo } from "./common.ts";
import { defineSelfHosted } from "./types.ts";

/** Instances whose CPU gets a row of its own; a larger cluster adds to "all instances" only. */
const CPU_ROWS = 3;

const pct = (seconds: number | null, elapsed: number) =>
  seconds === null ? null : round1((seconds / elapsed) * 100);

/**
 * Tandem in cluster mode with 1, 2, ... N instances on one Redis and one PostgreSQL (real
 * engines, started fresh for every variant). Writers are spread over the instances and one
 * reader sits on an instance no writer uses (with one instance, the same one: that column is the
 * in-process baseline). Two phases on one document: writers at a fixed total rate (delivery to
 * the reader and acknowledgement latency), then writers as fast as allowed (applied updates/s,
 * and the CPU of every instance and engine from /proc).
 */
export const scaleOut = defineSelfHosted({
  name: "scale-out",
  title:
    "scale-out: Tandem instances on one Redis + PostgreSQL, writers spread, a reader on another instance",
  params: {
    instances: { default: 3, tiny: 2, help: "largest cluster; runs 1, 2, ... up to this many" },
    writers: { default: 6, tiny: 2, help: "clients writing, spread over the instances" },
    rate: { default: 300, tiny: 100, help: "updates/s of all writers together, latency phase" },
    seconds: { default: 10, tiny: 1, help: "length of each phase" },
    window: { default: 32, tiny: 16, help: "updates a writer keeps unacknowledged, load phase" },
  },
  metrics: [
    { key: "delivery_p50_ms", label: "delivery to the reader p50", unit: "ms", better: "lower" },
    { key: "delivery_p99_ms", label: "delivery to the reader p99", unit: "ms", better: "lower" },
    { key: "ack_p50_ms", label: "acknowledgement p50", unit: "ms", better: "lower" },
    { key: "ack_p99_ms", label: "acknowledgement p99", unit: "ms", better: "lower" },
    { key: "applied_per_s", label: "updates applied, load phase", unit: "/s", better: "higher" },
    ...Array.from({ length: CPU_ROWS }, (_, i) => ({
      key: `instance${i + 1}_cpu_pct`,
      label: `instance ${i + 1} CPU`,
      unit: "% core",
      better: "none" as const,
    })),
    { key: "instances_cpu_pct", label: "all instances CPU", unit: "% core", better: "none" },
    { key: "redis_cpu_pct", label: "Redis CPU", unit: "% core", better: "none" },
    { key: "postgres_cpu_pct", label: "PostgreSQL CPU", unit: "% core", better: "none" },
    { key: "loadgen_cpu_pct", label: "load generator CPU", unit: "% core", better: "none" },
  ],
  describes:
    "its own Tandem instances (serve --redis-url --postgres-url) on a fresh redis-server and PostgreSQL per column",
  variants: (params) =>
    Array.from({ length: params.instances }, (_, i) => `${i + 1} instance${i === 0 ? "" : "s"}`),

  async runVariant({ params, docPrefix, launch, progress }, variant) {
    const count = variant + 1;
    const label = `${count} instance${count === 1 ? "" : "s"}`;
    let redis: RedisEngine | null = null;
    let postgres: PostgresEngine | null = null;
    const instances: ManagedServer[] = [];
    const clients: BenchClient[] = [];
    try {
      [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
      // One after another: the first creates the PostgreSQL schema.
      for (let i = 0; i < count; i++) {
        instances.push(
          await ManagedServer.start("tandem", {
            ...launch,
            tandemArgs: [
              ...(launch.tandemArgs ?? []),
              "--redis-url",
              redis.url,
              "--postgres-url",
              postgres.url,
            ],
          }),
        );
      }
      const readerHost = instances[count - 1] as ManagedServer;
      const writerHosts = count === 1 ? instances : instances.slice(0, count - 1);
      const adapter = adapterFor("hocuspocus");
      const docName = `${docPrefix}scale-out`;
      const writers = Array.from({ length: params.writers }, (_, w) => {
        const host = writerHosts[w % writerHosts.length] as ManagedServer;
        return adapter.connect(host.url, docName, { awareness: false });
      });
      clients.push(...writers);
      const reader = adapter.connect(readerHost.url, docName, { awareness: false });
      clients.push(reader);
      await mustUntil(
        `every client of ${label} to sync`,
        () => clients.every((c) => c.synced),
        30_000,
      );

      // Phase 1: a fixed total rate; delivery (writer's edit to the reader) and acknowledgement.
      const delivery = new Samples();
      const ack = new Samples();
      const sentAt: number[][] = writers.map(() => []);
      let measuringAcks = true;
      writers.forEach((writer, w) => {
        let seen = 0;
        writer.onAcked?.((acked) => {
          const t = now();
          const times = sentAt[w] as number[];
          for (; seen < acked; seen++) {
            const at = times[seen];
            if (measuringAcks && at !== undefined) ack.push(t - at);
          }
        });
      });
      const latencyMap = reader.doc.getMap<number>("latency");
      let delivered = 0;
      latencyMap.observe((event: Y.YMapEvent<number>) => {
        const t = now();
        for (const key of event.keysChanged) {
          const at = latencyMap.get(key);
          if (at === undefined) continue;
          delivery.push(t - at);
          delivered++;
        }
      });
      const total = Math.max(1, Math.round(params.rate * params.seconds));
      const report = throttle(1000, () =>
        progress(`scale-out ${label}: latency phase, delivered ${delivered}/${total}`),
      );
      const start = now();
      for (let i = 0; i < total; i++) {
        await sleepUntil(start + (i * 1000) / params.rate);
        const w = i % writers.length;
        const t = now();
        (sentAt[w] as number[]).push(t);
        (writers[w] as BenchClient).doc.getMap<number>("latency").set(String(i), t);
        report();
      }
      const phase1Sent = sentAt.map((times) => times.length);
      const allDelivered = await until(() => delivered >= total, 30_000);
      const allAcked1 = await until(
        () => writers.every((writer, w) => writer.acked >= (phase1Sent[w] as number)),
        30_000,
      );
      measuringAcks = false;

      // Phase 2: as fast as allowed; applied updates/s and CPU of every process.
      const pids = instances.map((s) => s.pid);
      const instanceCpu = () =>
        Promise.all(pids.map((pid) => (pid === null ? null : readCpuSeconds(pid))));
      const engineCpu = () =>
        Promise.all(
          [redis?.pid ?? null, postgres?.pid ?? null].map((pid) =>
            pid === null ? null : readTreeCpuSeconds(pid),
          ),
        );
      const ackedBefore = writers.map((writer) => writer.acked);
      const sent = writers.map(() => 0);
      const applied = () =>
        writers.reduce((sum, writer, w) => sum + writer.acked - (ackedBefore[w] as number), 0);
      const [inst0, eng0] = await Promise.all([instanceCpu(), engineCpu()]);
      const own0 = process.cpuUsage();
      const loadStart = now();
      const end = loadStart + params.seconds * 1000;
      let lastApplied = 0;
      let lastAppliedAt = loadStart;
      const loadReport = throttle(1000, () =>
        progress(`scale-out ${label}: load phase, applied ${applied()}`),
      );
      while (now() < end) {
        writers.forEach((writer, w) => {
          const counters = writer.doc.getMap<number>("counters");
          while (writer.unacked < params.window) {
            counters.set(`w${w}`, sent[w] as number);
            sent[w] = (sent[w] as number) + 1;
          }
        });
        const a = applied();
        if (a > lastApplied) [lastApplied, lastAppliedAt] = [a, now()];
        loadReport();
        await yieldToIo();
      }
      const totalSent = sent.reduce((x, y) => x + y, 0);
      const allAcked2 = await until(() => {
        const a = applied();
        if (a > lastApplied) [lastApplied, lastAppliedAt] = [a, now()];
        return a >= totalSent;
      }, 30_000);
      const elapsed = Math.max(1e-3, (lastAppliedAt - loadStart) / 1000);
      const [inst1, eng1] = await Promise.all([instanceCpu(), engineCpu()]);
      const own = process.cpuUsage(own0);
      const counters = reader.doc.getMap<number>("counters");
      const converged = await until(
        () => sent.every((n, w) => n === 0 || counters.get(`w${w}`) === n - 1),
        30_000,
      );
      const delta = (a: (number | null)[], b: (number | null)[], i: number) => {
        const x = a[i];
        const y = b[i];
        return x === null || x === undefined || y === null || y === undefined ? null : y - x;
      };
      const perInstance = pids.map((_, i) => pct(delta(inst0, inst1, i), elapsed));
      const instancesTotal = perInstance.every((v) => v !== null)
        ? round1(perInstance.reduce<number>((s, v) => s + (v as number), 0))
        : null;
      const d = delivery.summary();
      const k = ack.summary();
      return {
        metrics: {
          delivery_p50_ms: round1(d.p50),
          delivery_p99_ms: round1(d.p99),
          ack_p50_ms: round1(k.p50),
          ack_p99_ms: round1(k.p99),
          applied_per_s: Math.round(lastApplied / elapsed),
          ...Object.fromEntries(
            Array.from({ length: CPU_ROWS }, (_, i) => [
              `instance${i + 1}_cpu_pct`,
              perInstance[i] ?? null,
            ]),
          ),
          instances_cpu_pct: instancesTotal,
          redis_cpu_pct: pct(delta(eng0, eng1, 0), elapsed),
          postgres_cpu_pct: pct(delta(eng0, eng1, 1), elapsed),
          loadgen_cpu_pct: pct((own.user + own.system) / 1e6, elapsed),
        },
        checks: {
          all_delivered: allDelivered,
          all_acknowledged: allAcked1 && allAcked2,
          converged,
        },
        notes: [
          count === 1
            ? "writers and the reader share the one instance: delivery stays in that process"
            : `writers on instance${count === 2 ? " 1" : `s 1-${count - 1}`}, the reader on instance ${count}`,
        ],
        complaints: instances.flatMap((s) => s.complaints),
      };
    } finally {
      destroyAll(clients);
      for (const server of instances) await server.dispose();
      await Promise.all([redis?.stop(), postgres?.stop()]);
    }
  },
});
