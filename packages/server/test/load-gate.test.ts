import { CloseCode } from "@tandem/protocol";
import {
  connectClient,
  type GatedStore,
  openRawSocket,
  startGatedServer,
  type TestClient,
  type TestServer,
  waitFor,
} from "@tandem/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LoadGate } from "../src/limits/load-gate.ts";

/** tandem_document_loads_waiting, read from the server's /metrics. */
async function loadsWaiting(server: TestServer): Promise<number> {
  const text = await (await fetch(server.metricsUrl as string)).text();
  const line = text.split("\n").find((l) => l.startsWith("tandem_document_loads_waiting "));
  return Number(line?.split(" ")[1]);
}

describe("LoadGate", () => {
  it("runs at most max loads at once, first come first served, and frees a turn on failure", async () => {
    const gate = new LoadGate(2, 60_000);
    const started: number[] = [];
    const finish: (() => void)[] = [];
    const runs = [0, 1, 2, 3, 4].map((i) =>
      gate.run(async () => {
        started.push(i);
        await new Promise<void>((done) => finish.push(done));
        if (i === 0) throw new Error("load 0 failed");
        return i;
      }),
    );
    await waitFor("two loads to start", () => (started.length === 2 ? true : undefined));
    expect(started).toEqual([0, 1]);
    expect(gate.queued).toBe(3);

    finish[0]?.(); // load 0 fails: its turn goes to load 2
    await expect(runs[0]).rejects.toThrow("load 0 failed");
    await waitFor("load 2 to start", () => (started.length === 3 ? true : undefined));
    expect(started).toEqual([0, 1, 2]);
    expect(gate.queued).toBe(2);

    for (let i = 1; i < 5; i++) {
      await waitFor(`load ${i} to start`, () => (finish[i] ? true : undefined));
      finish[i]?.();
    }
    expect(await Promise.all(runs.slice(1))).toEqual([1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(gate.queued).toBe(0);
  });

  it("with max 0 runs every load at once", async () => {
    const gate = new LoadGate(0, 60_000);
    let running = 0;
    const finish: (() => void)[] = [];
    const runs = [0, 1, 2, 3].map(() =>
      gate.run(async () => {
        running++;
        await new Promise<void>((done) => finish.push(done));
      }),
    );
    await waitFor("every load to start", () => (running === 4 ? true : undefined));
    for (const done of finish) done();
    await Promise.all(runs);
  });

  it("gives the turn of a load that runs out of patience to the next, and still returns its result", async () => {
    const gate = new LoadGate(1, 50);
    let finishStuck = (): void => {};
    const stuck = gate.run(
      () => new Promise<string>((done) => (finishStuck = () => done("stuck, then loaded"))),
    );
    let nextRan = false;
    const next = gate.run(async () => {
      nextRan = true;
      return "next";
    });
    expect(await next).toBe("next");
    expect(nextRan).toBe(true);
    finishStuck();
    expect(await stuck).toBe("stuck, then loaded");
    // Freed once: one turn again, not two.
    const order: string[] = [];
    let finishA = (): void => {};
    const a = gate.run(
      () => new Promise<void>((done) => (finishA = () => (order.push("a"), done()))),
    );
    const b = gate.run(async () => {
      order.push("b");
    });
    expect(gate.queued).toBe(1);
    finishA();
    await Promise.all([a, b]);
    expect(order).toEqual(["a", "b"]);
  });
});

describe("--max-concurrent-loads on a real server", () => {
  let server: TestServer;
  let gated: GatedStore;
  const clients: TestClient[] = [];
  const names = [0, 1, 2, 3, 4, 5].map((i) => `gate-doc-${i}`);

  beforeAll(async () => {
    ({ server, gated } = await startGatedServer({ maxConcurrentLoads: 2, loadPatience: 600_000 }));
    // Six stored documents, then unloaded: the next client of each loads it from the store.
    const writers = names.map((name) => connectClient(server.url, name));
    await Promise.all(writers.map((w) => w.synced()));
    writers.forEach((w, i) => {
      w.doc.getText("t").insert(0, `document ${i}`);
    });
    await Promise.all(writers.map((w) => w.stored()));
    for (const w of writers) w.destroy();
    await waitFor("every document to unload", () =>
      server.hocuspocus.getDocumentsCount() === 0 ? true : undefined,
    );
  });

  afterAll(async () => {
    gated?.loads.release();
    for (const c of clients.splice(0)) c.destroy();
    await server?.dispose();
  });

  it("loads two documents at a time while the others wait their turn, and every client gets its whole document", async () => {
    gated.loads.hold();
    const before = gated.loadsStarted;
    const readers = names.map((name) => connectClient(server.url, name));
    clients.push(...readers);
    // Every load has reached the server; two have their turn and reached the store.
    await waitFor("two loads at the store and four waiting", async () =>
      gated.loadsStarted - before === 2 && (await loadsWaiting(server)) === 4 ? true : undefined,
    );

    gated.loads.releaseOne();
    await waitFor("the next load to get the freed turn", async () =>
      gated.loadsStarted - before === 3 && (await loadsWaiting(server)) === 3 ? true : undefined,
    );

    gated.loads.release();
    await Promise.all(readers.map((r) => r.synced()));
    readers.forEach((r, i) => {
      expect(r.doc.getText("t").toString()).toBe(`document ${i}`);
    });
    expect(gated.loadsStarted - before).toBe(6);
    expect(await loadsWaiting(server)).toBe(0);
  });
});

describe("a socket whose document waits its turn to load", () => {
  let server: TestServer;
  let gated: GatedStore;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    ({ server, gated } = await startGatedServer({
      maxConcurrentLoads: 1,
      loadPatience: 600_000,
      authTimeout: 300,
    }));
  });

  afterAll(async () => {
    gated?.loads.release();
    for (const c of clients.splice(0)) c.destroy();
    await server?.dispose();
  });

  it("has met the authentication deadline: it is not closed while it waits past it", async () => {
    gated.loads.hold();
    const first = connectClient(server.url, "first");
    const second = connectClient(server.url, "second");
    clients.push(first, second);
    await waitFor("one load at the store and one waiting", async () =>
      gated.loadsStarted === 1 && (await loadsWaiting(server)) === 1 ? true : undefined,
    );
    // A socket opened after both that never authenticates: once the server closes it for the
    // deadline, both clients' deadlines (opened earlier) have passed too.
    const silent = await openRawSocket(server.url);
    expect(await silent.closed).toMatchObject({ code: CloseCode.Timeout });

    gated.loads.release();
    await Promise.all([first.synced(), second.synced()]);
    expect(first.closes).toEqual([]);
    expect(second.closes).toEqual([]);
  });
});

describe("--load-patience on a real server", () => {
  let server: TestServer;
  let gated: GatedStore;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    ({ server, gated } = await startGatedServer({ maxConcurrentLoads: 1, loadPatience: 100 }));
  });

  afterAll(async () => {
    gated?.loads.release();
    for (const c of clients.splice(0)) c.destroy();
    await server?.dispose();
  });

  it("lets the next document load while one is stuck at the store", async () => {
    gated.loads.hold();
    const stuck = connectClient(server.url, "stuck");
    clients.push(stuck);
    await waitFor("the stuck load at the store", () =>
      gated.loadsStarted === 1 ? true : undefined,
    );
    // With one turn and the first load holding it, the second reaches the store only once the
    // first has run out of patience.
    const next = connectClient(server.url, "next");
    clients.push(next);
    await waitFor("the next load at the store", () =>
      gated.loadsStarted === 2 ? true : undefined,
    );
    gated.loads.release();
    await Promise.all([stuck.synced(), next.synced()]);
    expect(await loadsWaiting(server)).toBe(0);
  });
});
