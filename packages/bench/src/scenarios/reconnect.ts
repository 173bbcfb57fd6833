import * as Y from "yjs";
import { type LightClient, openLight } from "../adapters/light.ts";
import { readCpuSeconds } from "../servers.ts";
import type { Target } from "../target.ts";
import { now, type Progress, pool, throttle, until } from "../util.ts";
import { connectClients, destroyAll, round1 } from "./common.ts";
import { textPool } from "./edits.ts";
import { serverQuiet } from "./quiet.ts";
import { defineScenario } from "./types.ts";

/**
 * Everyone comes back at once: a deploy, or a network blip, and every client of a document
 * reconnects. First with nothing new (the cost of the reconnections themselves), then with a
 * session of offline edits each: a client's first sync then carries its whole session (its
 * SyncStep2), which the server applies, relays to every other client and, if it stores
 * anything, stores. The relaying grows with the square of the clients: 100 clients bringing
 * about 6 KB each make the server send about 60 MB.
 *
 * The reconnecting clients are light clients (adapters/light.ts) that bring the document's
 * state vector and their offline edits, pre-encoded, so the load generator spends its time
 * sending, not editing. One full provider watches: the storm is over when it holds every
 * client's session (each ends by setting its own key in a map), and its text must then equal
 * the text of all sessions merged in the load generator.
 */
export const reconnect = defineScenario({
  name: "reconnect",
  title: "reconnect: every client of a document comes back at once, then with offline edits",
  params: {
    clients: { default: 100, tiny: 4, help: "clients that reconnect" },
    edits: { default: 200, tiny: 20, help: "offline edits each client brings back" },
    baseChars: { default: 20_000, tiny: 500, help: "characters of text in the document" },
  },
  metrics: [
    {
      key: "plain_ms",
      label: "reconnect, nothing offline: all synced",
      unit: "ms",
      better: "lower",
    },
    {
      key: "plain_cpu_ms",
      label: "server CPU / client, nothing offline",
      unit: "ms",
      better: "lower",
    },
    {
      key: "storm_ms",
      label: "reconnect with offline edits: all arrived",
      unit: "ms",
      better: "lower",
    },
    {
      key: "storm_cpu_ms",
      label: "server CPU / client, with offline edits",
      unit: "ms",
      better: "lower",
    },
    { key: "offline_bytes", label: "offline session (mean)", unit: "B", better: "none" },
  ],
  async run({ target, params, docPrefix, progress }) {
    const docName = `${docPrefix}reconnect`;
    // Connected first and throughout, so a server that keeps documents only in memory keeps
    // this one.
    const [observer] = await connectClients(target, 1, () => docName, { awareness: false });
    if (!observer) throw new Error("unreachable");
    const cpu = () => (target.pid === null ? Promise.resolve(null) : readCpuSeconds(target.pid));
    const perClient = (start: number | null, end: number | null) =>
      start === null || end === null ? null : round1(((end - start) * 1000) / params.clients);
    const clients: LightClient[] = [];
    try {
      const { base, baseVector } = await seed(target, docName, params.baseChars);
      const sessions = offlineSessions(base, baseVector, params.clients, params.edits, progress);
      const expected = new Y.Doc();
      Y.applyUpdate(expected, base);
      for (const session of sessions) Y.applyUpdate(expected, session);
      const expectedText = expected.getText("text").toString();

      // 1. Reconnections alone.
      await serverQuiet(target);
      let cpuStart = await cpu();
      let start = now();
      await openAll(target, docName, params.clients, clients, () => ({ stateVector: baseVector }));
      const plainMs = now() - start;
      await serverQuiet(target);
      const plainCpu = perClient(cpuStart, await cpu());
      for (const client of clients.splice(0)) client.close();
      await serverQuiet(target);

      // 2. Reconnections that bring offline edits.
      const done = observer.doc.getMap("done");
      const report = throttle(2000, () =>
        progress(`reconnect ${target.label}: ${done.size}/${params.clients} sessions arrived`),
      );
      cpuStart = await cpu();
      start = now();
      const opened = openAll(target, docName, params.clients, clients, (i) => ({
        stateVector: baseVector,
        offline: sessions[i],
      }));
      const arrived = await until(
        () => {
          report();
          return done.size >= params.clients;
        },
        60_000 + params.clients * 500,
        5,
      );
      const stormMs = arrived ? now() - start : null;
      await opened;
      await serverQuiet(target);
      const stormCpu = perClient(cpuStart, await cpu());
      const converged = await until(
        () => observer.doc.getText("text").toString() === expectedText,
        10_000,
        20,
      );
      const offlineBytes = sessions.reduce((sum, s) => sum + s.byteLength, 0) / sessions.length;
      const reopened = clients.reduce((sum, c) => sum + c.reopened, 0);
      return {
        metrics: {
          plain_ms: Math.round(plainMs),
          plain_cpu_ms: plainCpu,
          storm_ms: stormMs === null ? null : Math.round(stormMs),
          storm_cpu_ms: stormCpu,
          offline_bytes: Math.round(offlineBytes),
        },
        checks: { all_arrived: arrived, converged },
        notes: reopened > 0 ? [`${reopened} socket(s) opened again before their first sync`] : [],
      };
    } finally {
      for (const client of clients) client.close();
      destroyAll([observer]);
    }
  },
});

/** Writes the document's text through a light client; resolves with its state once stored. */
async function seed(
  target: Target,
  docName: string,
  chars: number,
): Promise<{ base: Uint8Array; baseVector: Uint8Array }> {
  const doc = new Y.Doc();
  doc.getText("text").insert(0, textPool(chars));
  const base = Y.encodeStateAsUpdate(doc);
  const writer = await openLight(target.protocol, target.url, docName);
  try {
    writer.send(base);
    await writer.settled();
  } finally {
    writer.close();
  }
  return { base, baseVector: Y.encodeStateVector(doc) };
}

/**
 * Each client's offline session: `edits` single-character edits at random places in the text
 * (four in five insert, one in five delete), then its key in the map "done". Encoded against
 * the shared state, as a reconnecting provider's SyncStep2 is.
 */
function offlineSessions(
  base: Uint8Array,
  baseVector: Uint8Array,
  clients: number,
  edits: number,
  progress: Progress,
): Uint8Array[] {
  progress(`reconnect: preparing ${clients} offline sessions of ${edits} edits`);
  const sessions: Uint8Array[] = [];
  for (let i = 0; i < clients; i++) {
    const doc = new Y.Doc();
    Y.applyUpdate(doc, base);
    const text = doc.getText("text");
    for (let e = 0; e < edits; e++) {
      const length = text.length;
      if (length > 0 && Math.random() < 0.2) text.delete(Math.floor(Math.random() * length), 1);
      else text.insert(Math.floor(Math.random() * (length + 1)), "abcdefghij"[e % 10] as string);
    }
    doc.getMap("done").set(String(i), true);
    sessions.push(Y.encodeStateAsUpdate(doc, baseVector));
    doc.destroy();
  }
  return sessions;
}

/** Opens `count` light clients, 50 at a time, into `into`; resolves once all have synced. */
async function openAll(
  target: Target,
  docName: string,
  count: number,
  into: LightClient[],
  options: (index: number) => { stateVector: Uint8Array; offline?: Uint8Array },
): Promise<void> {
  await pool(count, 50, async (i) => {
    into.push(await openLight(target.protocol, target.url, docName, options(i)));
  });
}
