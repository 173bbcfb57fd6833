import * as Y from "yjs";
import type { BenchClient } from "../adapters/index.ts";
import { type LightClient, openLight } from "../adapters/light.ts";
import { readCpuSeconds } from "../servers.ts";
import { Samples } from "../stats.ts";
import type { Target } from "../target.ts";
import { now, type Progress, sleep, throttle } from "../util.ts";
import { connectClients, destroyAll, round1, sleepUntil } from "./common.ts";
import { cut, EditLedger, SeenEdits, TinyEditor, textPool } from "./edits.ts";
import { serverQuiet } from "./quiet.ts";
import { defineScenario } from "./types.ts";
import { Wakeup } from "./wakeup.ts";

/** The large document is written in inserts of this many characters (below any message limit). */
const CHUNK_CHARS = 256 * 1024;
/** The root map every edit goes into (see TinyEditor). */
const EDITS = "edits";
/** Joins must finish within this (a 4 MB sync on a busy server takes seconds, not minutes). */
const JOIN_TIMEOUT_MS = 120_000;

/**
 * Many people on one large document (the scenario y/hub published: 500 users on one 4 MB
 * document). First one client writes a `docMb` MB text in 256 KiB inserts, while `full` - 1
 * other full clients (the protocol's provider and a Y.Doc) receive it. Then:
 *
 *   join:  `clients` - `full` light clients join at `joinRate` per second, open loop (each at its
 *          own time, whether or not the ones before have finished): join time from the moment
 *          a client starts to the moment the whole document (its SyncStep2) has arrived, and
 *          the server's CPU time over the phase per joiner (utime + stime from /proc).
 *   edit:  for `seconds`, every client that joined edits in turn, `editRate` edits per second in
 *          all, while `churn` light clients per second leave and join again (their join times
 *          are "rejoin during edits"). Delivery latency is from an edit to its arrival at each
 *          other client that stays; an edit that some such client never receives (within 15 s
 *          of the phase's end) is undelivered.
 *
 * How clients hold the document: 500 full Y.Docs of 4 MB would take the load generator 2 GB
 * and most of its CPU, and then measure it rather than the server. So the `full` clients hold
 * the whole document (they check that everyone converges on the text and on every edit), and
 * the rest are light clients (adapters/light.ts): a bare socket that syncs the document, keeps
 * none of it, and recognizes each edit in the updates it receives from the edit's
 * (clientID, clock) without decoding its content. Their edits are map entries made in a tiny
 * Y.Doc of their own (scenarios/edits.ts), which the server stores, applies and relays exactly
 * like any other edit of the document. The load generator's own CPU is reported: near 100% of a
 * core means the figures are its limit, not the server's.
 */
export const largeDoc = defineScenario({
  name: "large-doc",
  title: "large document, many people: joins, CPU per joiner, delivery while people edit",
  params: {
    docMb: { default: 4, tiny: 1, help: "size of the document (MB of text)" },
    clients: { default: 500, tiny: 10, help: "clients on the document, full ones included" },
    full: { default: 4, tiny: 2, help: "clients holding the whole document in a Y.Doc" },
    joinRate: { default: 10, tiny: 20, help: "light clients joining per second" },
    editRate: { default: 50, tiny: 10, help: "edits per second, all clients together" },
    seconds: { default: 20, tiny: 2, help: "how long everyone edits" },
    churn: { default: 2, tiny: 1, help: "light clients leaving and joining again per second" },
  },
  metrics: [
    { key: "join_p50_ms", label: "join p50", unit: "ms", better: "lower" },
    { key: "join_p95_ms", label: "join p95", unit: "ms", better: "lower" },
    { key: "join_max_ms", label: "join max", unit: "ms", better: "lower" },
    { key: "cpu_per_join_ms", label: "server CPU / joiner", unit: "ms", better: "lower" },
    { key: "rejoin_p95_ms", label: "rejoin during edits p95", unit: "ms", better: "lower" },
    { key: "p50_ms", label: "delivery p50", unit: "ms", better: "lower" },
    { key: "p95_ms", label: "delivery p95", unit: "ms", better: "lower" },
    { key: "p99_ms", label: "delivery p99", unit: "ms", better: "lower" },
    { key: "max_ms", label: "delivery max", unit: "ms", better: "lower" },
    { key: "undelivered", label: "undelivered (edit × client)", unit: "", better: "lower" },
    { key: "edits", label: "edits made", unit: "", better: "none" },
    { key: "server_cpu_pct", label: "server CPU while editing", unit: "% core", better: "lower" },
    { key: "loadgen_join_pct", label: "load generator CPU, joins", unit: "% core", better: "none" },
    { key: "loadgen_edit_pct", label: "load generator CPU, edits", unit: "% core", better: "none" },
  ],
  async run({ target, params, docPrefix, progress }) {
    const name = `${docPrefix}large-doc`;
    const notes: string[] = [];
    const fullCount = Math.max(2, Math.min(params.full, params.clients));
    const lightCount = Math.max(0, params.clients - fullCount);
    if (fullCount !== params.full) notes.push(`${fullCount} full clients (at least 2 are needed)`);
    const cpu = () => (target.pid === null ? Promise.resolve(null) : readCpuSeconds(target.pid));
    const ledger = new EditLedger();
    const wake = new Wakeup();
    const latencies = new Samples();
    /** Receivers that stay for the whole edit phase, by index; their seen edits. */
    const seen: SeenEdits[] = [];
    const receive = (receiver: number, update: Uint8Array, at: number) => {
      const mine = seen[receiver];
      if (!mine) return;
      for (const edit of ledger.editsIn(update)) {
        if (ledger.author[edit] === receiver || !mine.mark(edit)) continue;
        latencies.push(at - (ledger.sentAt[edit] as number));
      }
      wake.notify();
    };

    // Full clients, then the document.
    // With presence, as editors are: its renewals every 15 s are what keeps a provider's
    // connection open through a phase in which nobody edits.
    const full = await connectClients(target, fullCount, () => name);
    const light: LightClient[] = [];
    const churned: LightClient[] = [];
    try {
      const chars = params.docMb * 1024 * 1024;
      await buildDocument(target, full, chars, progress);
      full.forEach((client, i) => {
        seen[i] = new SeenEdits();
        client.doc.on("update", (update: Uint8Array, origin: unknown) => {
          if (origin !== null) receive(i, update, now());
        });
      });

      // Joins, open loop, once the server is done with the document it was sent (a compaction
      // when it goes quiet, a debounced store): that work is not the joiners'.
      if (!(await serverQuiet(target, { timeoutMs: 30_000 }))) {
        notes.push("the server was still busy when the joins started");
      }
      progress(`large-doc ${target.label}: ${lightCount} clients joining`);
      const joins = new Samples();
      const editors: TinyEditor[] = [];
      const cpu0 = await cpu();
      const own0 = process.cpuUsage();
      const t0 = now();
      let joined = 0;
      const report = throttle(2000, () =>
        progress(`large-doc ${target.label}: ${joined}/${lightCount} joined`),
      );
      const pending: Promise<void>[] = [];
      for (let i = 0; i < lightCount; i++) {
        const receiver = fullCount + i;
        const startAt = t0 + (i * 1000) / params.joinRate;
        await sleepUntil(startAt);
        pending.push(
          openLight(target.protocol, target.url, name, {
            timeoutMs: JOIN_TIMEOUT_MS,
            onUpdate: (update, at) => receive(receiver, update, at),
          }).then((client) => {
            joins.push((client.syncedAt as number) - startAt);
            light[i] = client;
            joined++;
            report();
          }),
        );
      }
      const failedJoins = (await Promise.allSettled(pending)).filter(
        (r) => r.status === "rejected",
      ).length;
      const joinSeconds = (now() - t0) / 1000;
      const cpu1 = await cpu();
      const ownJoin = process.cpuUsage(own0);
      if (failedJoins > 0) notes.push(`${failedJoins} light clients failed to join`);
      const reopened = light.reduce((sum, c) => sum + (c?.reopened ?? 0), 0);
      if (reopened > 0) notes.push(`${reopened} joins were closed before their sync and retried`);

      // Who edits and who receives: the full clients and the light clients that joined,
      // except the `churn` pool, which leaves and rejoins during the phase.
      const churnPool = Math.min(
        Math.round(params.churn * params.seconds),
        Math.floor(lightCount / 4),
      );
      light.forEach((client, i) => {
        if (i >= churnPool && client) seen[fullCount + i] = new SeenEdits();
      });
      const writers: { index: number; edit: (key: string) => void }[] = [];
      full.forEach((client, index) => {
        const map = client.doc.getMap<string>(EDITS);
        writers.push({
          index,
          edit: (key) => {
            map.set(key, key);
          },
        });
      });
      light.forEach((client, i) => {
        if (i < churnPool || !client) return;
        const editor = new TinyEditor(EDITS);
        editors[i] = editor;
        writers.push({
          index: fullCount + i,
          edit: (key) => {
            client.send(editor.set(key, key));
          },
        });
      });
      const clientIdOf = (index: number): { id: number; clock: number } => {
        if (index < fullCount) {
          const doc = (full[index] as BenchClient).doc;
          return { id: doc.clientID, clock: Y.getState(doc.store, doc.clientID) };
        }
        const editor = editors[index - fullCount] as TinyEditor;
        return { id: editor.clientID, clock: editor.nextClock };
      };

      progress(`large-doc ${target.label}: editing for ${params.seconds} s`);
      const rejoins = new Samples();
      const cpu2 = await cpu();
      const own2 = process.cpuUsage();
      const t2 = now();
      const editCount = Math.round(params.editRate * params.seconds);
      const churnCount = Math.round(params.churn * params.seconds);
      const churning = churnLoop(target, name, light, churnPool, churnCount, t2, params, {
        rejoins,
        churned,
      });
      for (let e = 0; e < editCount; e++) {
        const at = t2 + (e * 1000) / params.editRate;
        await sleepUntil(at);
        const writer = writers[e % writers.length];
        if (!writer) break;
        const { id, clock } = clientIdOf(writer.index);
        ledger.record(id, clock, writer.index, now());
        writer.edit(`${writer.index}:${e}`);
      }
      const editSeconds = (now() - t2) / 1000;
      const cpu3 = await cpu();
      const ownEdit = process.cpuUsage(own2);
      await churning;

      // Clients the server closed meanwhile explain undelivered edits.
      const closedCodes = new Map<number, number>();
      light.forEach((client, i) => {
        if (!client || client.open || i < churnPool) return;
        void client.closed.then(({ code }) =>
          closedCodes.set(code, (closedCodes.get(code) ?? 0) + 1),
        );
      });
      await sleep(0);
      const fullDrops = full.reduce((sum, c) => sum + c.disconnects, 0);
      if (closedCodes.size > 0) {
        const codes = [...closedCodes].map(([code, n]) => `${n} × ${code}`).join(", ");
        notes.push(`the server closed light clients during the run: ${codes}`);
      }
      if (fullDrops > 0) notes.push(`full clients lost their connection ${fullDrops} time(s)`);
      const receivers = seen.filter((s): s is SeenEdits => s !== undefined).length;
      const expected = ledger.size * (receivers - 1);
      const delivered = () => seen.reduce((sum, s) => sum + (s?.count ?? 0), 0);
      await wake.until(() => delivered() >= expected, 15_000);
      const undelivered = expected - delivered();
      const converged = await wake.until(
        () =>
          full.every(
            (c) =>
              c.doc.getMap(EDITS).size === ledger.size && c.doc.getText("text").length === chars,
          ),
        5_000,
      );
      const s = latencies.summary();
      const joinSummary = joins.summary();
      const pct = (usage: NodeJS.CpuUsage, seconds: number) =>
        round1(((usage.user + usage.system) / 1e6 / seconds) * 100);
      return {
        metrics: {
          join_p50_ms: round1(joinSummary.p50),
          join_p95_ms: round1(joinSummary.p95),
          join_max_ms: round1(joinSummary.max),
          cpu_per_join_ms:
            cpu0 === null || cpu1 === null || joined === 0
              ? null
              : round1(((cpu1 - cpu0) * 1000) / joined),
          rejoin_p95_ms: round1(rejoins.summary().p95),
          p50_ms: round1(s.p50),
          p95_ms: round1(s.p95),
          p99_ms: round1(s.p99),
          max_ms: round1(s.max),
          undelivered,
          edits: ledger.size,
          server_cpu_pct:
            cpu2 === null || cpu3 === null ? null : round1(((cpu3 - cpu2) / editSeconds) * 100),
          loadgen_join_pct: pct(ownJoin, joinSeconds),
          loadgen_edit_pct: pct(ownEdit, editSeconds),
        },
        checks: {
          all_joined: failedJoins === 0,
          all_delivered: undelivered === 0,
          converged,
        },
        notes,
      };
    } finally {
      destroyAll(full);
      for (const client of [...light, ...churned]) client?.close();
    }
  },
});

/**
 * One full client writes `chars` characters of text in CHUNK_CHARS inserts; resolves once the
 * server acknowledged them (Hocuspocus protocol) and every other full client has the whole text.
 */
async function buildDocument(
  target: Target,
  full: readonly BenchClient[],
  chars: number,
  progress: Progress,
): Promise<void> {
  const [writer] = full;
  if (!writer) throw new Error("no writer");
  const words = textPool(CHUNK_CHARS * 2);
  const text = writer.doc.getText("text");
  progress(`large-doc ${target.label}: writing ${Math.round(chars / 1024)} KiB`);
  while (text.length < chars) {
    text.insert(text.length, cut(words, Math.min(CHUNK_CHARS, chars - text.length)));
    // Let the provider send each insert before the next is made.
    await sleep(0);
  }
  const deadline = now() + 120_000;
  while (
    (writer.unacked > 0 || full.some((c) => c.doc.getText("text").length < chars)) &&
    now() < deadline
  ) {
    await sleep(50);
  }
  if (now() >= deadline) throw new Error(`${target.label} did not take the document in 120 s`);
}

/**
 * During the edit phase, `count` times at an even pace: a client of the churn pool (the first
 * `pool` light clients) leaves and joins again; its join time goes into `rejoins`.
 */
async function churnLoop(
  target: Target,
  name: string,
  light: (LightClient | undefined)[],
  pool: number,
  count: number,
  start: number,
  params: { churn: number },
  out: { rejoins: Samples; churned: LightClient[] },
): Promise<void> {
  if (pool === 0) return;
  const rejoining: Promise<void>[] = [];
  for (let c = 0; c < count; c++) {
    await sleepUntil(start + ((c + 0.5) * 1000) / params.churn);
    const slot = c % pool;
    light[slot]?.close();
    const startAt = now();
    rejoining.push(
      openLight(target.protocol, target.url, name, { timeoutMs: JOIN_TIMEOUT_MS }).then(
        (client) => {
          out.rejoins.push((client.syncedAt as number) - startAt);
          out.churned.push(client);
          light[slot] = client;
        },
      ),
    );
  }
  await Promise.allSettled(rejoining);
}
