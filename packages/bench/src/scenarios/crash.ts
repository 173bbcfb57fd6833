import type { BenchClient } from "../adapters/index.ts";
import { now, sleep, throttle } from "../util.ts";
import { connectClients, destroyAll, yieldToIo } from "./common.ts";
import { defineScenario, type ScenarioResult } from "./types.ts";

const WINDOW = 32;

/**
 * Writers stream updates; at a moment mid-stream the bench notes what has been acknowledged and
 * what a peer has received, and in the same turn of the event loop kills the server with
 * SIGKILL. All clients are destroyed at once (a client that reconnected would resend its
 * unacknowledged updates and hide what the server lost), the server restarts on the same data,
 * and a fresh client reads what survived.
 *
 * "Acknowledged" per protocol: Hocuspocus protocol, the server sent SyncStatus for the update
 * (Tandem sends it only once the update is durable; stock Hocuspocus once it is applied in
 * memory). y-websocket has no acknowledgement, so for every server the bench also reports
 * updates "seen by a peer": received by another client before the kill. Tandem relays an
 * update to peers before it is durable (the sender keeps it until acknowledged and would resend
 * it after a reconnect), so a few seen-but-unacknowledged updates may be lost there by design:
 * this scenario destroys the senders, the worst case.
 */
export const crash = defineScenario({
  name: "crash",
  title: "crash: writers stream updates, SIGKILL, restart on the same data",
  params: {
    writers: { default: 4, tiny: 2, help: "clients streaming updates" },
    seconds: { default: 5, tiny: 1, help: "seconds of writing before the kill" },
  },
  metrics: [
    { key: "sent", label: "updates sent before the kill", unit: "", better: "none" },
    { key: "acked", label: "acknowledged before the kill", unit: "", better: "none" },
    { key: "acked_lost", label: "acknowledged and lost", unit: "", better: "lower" },
    { key: "seen", label: "seen by a peer before the kill", unit: "", better: "none" },
    { key: "seen_lost", label: "seen by a peer and lost", unit: "", better: "lower" },
    { key: "recovered", label: "updates after restart", unit: "", better: "none" },
  ],
  async run({ target, params, docPrefix, progress }): Promise<ScenarioResult> {
    if (!target.managed) {
      return {
        metrics: {},
        checks: {},
        notes: ["skipped: the bench can only kill a server it started"],
      };
    }
    const docName = `${docPrefix}crash`;
    const clients = await connectClients(target, params.writers + 1, () => docName, {
      awareness: false,
    });
    const writers = clients.slice(0, params.writers);
    const observer = clients[params.writers] as BenchClient;
    const sent = writers.map(() => 0);
    const seenOf = (w: number): number =>
      observer.doc.getMap<number>("crash").has(`${w}:0`)
        ? countOf(observer, w, sent[w] as number)
        : 0;
    let acked: number[] = [];
    let seen: number[] = [];
    try {
      const end = now() + params.seconds * 1000;
      const report = throttle(1000, () =>
        progress(`crash ${target.label}: sent ${sent.reduce((a, b) => a + b, 0)}`),
      );
      while (now() < end) {
        writers.forEach((writer, w) => {
          const map = writer.doc.getMap<number>("crash");
          const inFlight = () =>
            writer.acknowledges ? writer.unacked : (sent[w] as number) - seenOf(w);
          while (inFlight() < WINDOW) {
            const seq = sent[w] as number;
            map.set(`${w}:${seq}`, seq);
            sent[w] = seq + 1;
          }
        });
        report();
        await yieldToIo();
      }
      // Snapshot and kill in one synchronous stretch: nothing can be acknowledged in between.
      acked = writers.map((writer) => (writer.acknowledges ? writer.acked : 0));
      seen = writers.map((_, w) => seenOf(w));
      const killed = target.restart("kill");
      destroyAll(clients);
      await killed;
    } catch (error) {
      destroyAll(clients);
      throw error;
    }

    const [reader] = await connectClients(target, 1, () => docName, { awareness: false });
    if (!reader) throw new Error("unreachable");
    // Wait until the document has not grown for 2 s (at most 20 s): the y-websocket server
    // answers the first sync before its LevelDB load finishes and sends the stored updates
    // after it, which takes seconds for tens of thousands of updates.
    const survived = reader.doc.getMap<number>("crash");
    let last = survived.size;
    let since = now();
    const deadline = now() + 20_000;
    while (now() - since < 2_000 && now() < deadline) {
      await sleep(100);
      if (survived.size !== last) [last, since] = [survived.size, now()];
    }
    let ackedLost = 0;
    let seenLost = 0;
    writers.forEach((_, w) => {
      for (let seq = 0; seq < (acked[w] as number); seq++)
        if (!survived.has(`${w}:${seq}`)) ackedLost++;
      for (let seq = 0; seq < (seen[w] as number); seq++)
        if (!survived.has(`${w}:${seq}`)) seenLost++;
    });
    const recovered = survived.size;
    reader.destroy();
    const acknowledges = writers[0]?.acknowledges ?? false;
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    return {
      metrics: {
        sent: sum(sent),
        acked: acknowledges ? sum(acked) : null,
        acked_lost: acknowledges ? ackedLost : null,
        seen: sum(seen),
        seen_lost: seenLost,
        recovered,
      },
      checks: {
        // Only a durable server promises this; the smoke test asserts it for Tandem.
        no_acknowledged_lost: ackedLost === 0,
        something_acknowledged: acknowledges ? sum(acked) > 0 : sum(seen) > 0,
      },
      notes: acknowledges ? [] : ["no acknowledgements in this protocol: see 'seen by a peer'"],
    };
  },
});

/**
 * How many of writer w's updates the observer has: a writer's updates reach a peer in order,
 * so this is the first missing sequence number (found by binary search over 0..upTo).
 */
function countOf(observer: BenchClient, w: number, upTo: number): number {
  const map = observer.doc.getMap<number>("crash");
  let lo = 0;
  let hi = upTo;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (map.has(`${w}:${mid}`)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
