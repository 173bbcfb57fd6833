import {
  connectClient,
  type Random,
  seededRandom,
  startTestServer,
  type TestClient,
  type TestServer,
  waitFor,
} from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";

const CLIENTS = 6;
const STEPS = 1500;
const DOC = "converge";

type Attributes = Record<string, true | null>;
const FORMATS: Attributes[] = [{ bold: true }, { italic: true }, { bold: null }, { code: true }];

/** One random edit: insert (sometimes formatted), delete a range, or format a range. */
function randomEdit(client: TestClient, random: Random): void {
  const text = client.doc.getText("body");
  const length = text.length;
  const roll = random.next();
  if (roll < 0.55 || length === 0) {
    const word = Array.from({ length: 1 + random.int(6) }, () =>
      String.fromCharCode(97 + random.int(26)),
    ).join("");
    const at = random.int(length + 1);
    if (random.next() < 0.2) text.insert(at, word, random.pick(FORMATS));
    else text.insert(at, word);
  } else if (roll < 0.8) {
    const at = random.int(length);
    text.delete(at, 1 + random.int(Math.min(8, length - at)));
  } else {
    const at = random.int(length);
    text.format(at, 1 + random.int(Math.min(10, length - at)), random.pick(FORMATS));
  }
}

const contentOf = (client: TestClient) => JSON.stringify(client.doc.getText("body").toDelta());

describe("convergence", () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await server?.dispose();
  });

  it("clients editing concurrently through drops and offline periods end identical, also after a restart", async () => {
    const random = seededRandom();
    const seed = `seed ${random.seed} (rerun with TANDEM_SEED=${random.seed})`;
    server = await startTestServer({ compactAfterUpdates: 100 });
    for (let i = 0; i < CLIENTS; i++) clients.push(connectClient(server.url, DOC));
    await Promise.all(clients.map((c) => c.synced()));

    const offline = new Set<TestClient>();
    let drops = 0;
    for (let step = 0; step < STEPS; step++) {
      const client = random.pick(clients);
      const roll = random.next();
      if (roll < 0.04 && !offline.has(client)) {
        // Offline period: the client keeps editing and comes back later.
        offline.add(client);
        client.goOffline();
      } else if (roll < 0.08 && offline.has(client)) {
        offline.delete(client);
        client.goOnline();
      } else if (roll < 0.1 && client.socket.webSocket?.readyState === 1) {
        // A dropped connection: the provider notices and reconnects by itself.
        client.socket.webSocket?.close();
        drops++;
      } else {
        randomEdit(client, random);
      }
      // Let messages flow between edits so edits really interleave with syncing.
      if (step % 3 === 0) await new Promise((r) => setImmediate(r));
    }
    for (const client of offline) client.goOnline();
    // The run must really have exercised reconnection, or it proves little.
    expect(drops, seed).toBeGreaterThan(5);

    const converged = () => {
      const first = contentOf(clients[0] as TestClient);
      return clients.every(
        (c) => c.provider.isSynced && !c.provider.hasUnsyncedChanges && contentOf(c) === first,
      );
    };
    const describeClients = () =>
      clients
        .map(
          (c, i) =>
            `client ${i}: socket ${c.socket.status}, synced ${c.provider.isSynced}, ` +
            `unsynced ${c.provider.unsyncedChanges}, length ${c.doc.getText("body").length}, ` +
            `same as 0: ${contentOf(c) === contentOf(clients[0] as TestClient)}`,
        )
        .join("\n");
    await waitFor(`every client to converge (${seed})`, converged, { timeoutMs: 30_000 }).catch(
      (error: Error) => {
        throw new Error(`${error.message}\n${describeClients()}`);
      },
    );
    const final = contentOf(clients[0] as TestClient);
    expect(JSON.parse(final).length, seed).toBeGreaterThan(0);

    const fresh = connectClient(server.url, DOC);
    clients.push(fresh);
    await fresh.synced();
    expect(contentOf(fresh), `a fresh client sees the same document (${seed})`).toBe(final);

    // Restart on the same port and data: what was acknowledged is what loads.
    for (const c of clients.splice(0)) c.destroy();
    server = await server.restart();
    const afterRestart = connectClient(server.url, DOC);
    clients.push(afterRestart);
    await afterRestart.synced();
    expect(contentOf(afterRestart), `a fresh client after a restart (${seed})`).toBe(final);
  }, 90_000);
});
