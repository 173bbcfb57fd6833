import { mintToken, SETTINGS } from "@tandem/server";
import {
  authFrame,
  connectClient,
  frame,
  nestedMapsUpdate,
  openRawSocket,
  pendingDeletesUpdate,
  type Random,
  type RawSocket,
  seededRandom,
  startTestServer,
  subdocumentsUpdate,
  syncFrame,
  type TestClient,
  type TestServer,
  throwsOnApplyUpdate,
  touchEachMapUpdate,
  updateFrame,
  waitFor,
} from "@tandem/testkit";
import * as encoding from "lib0/encoding";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";

const SECRET = "fuzzing secret that is long enough to be accepted";
const FRAMES = 10_000;
const ATTACKERS = 16;
const HONEST_DOC = "shared";

/** Frames a fuzzer sends: valid ones to mutate, plus pure noise. */
function validFrames(doc: string, token: string, random: Random): Uint8Array[] {
  const ydoc = new Y.Doc();
  ydoc.getText("t").insert(0, `fuzz ${random.int(1e6)}`);
  const update = Y.encodeStateAsUpdate(ydoc);
  return [
    authFrame(doc, token),
    updateFrame(doc, update),
    syncFrame(doc, 0, Y.encodeStateVector(ydoc)),
    frame(doc, 1, (e) => {
      const awareness = encoding.createEncoder();
      encoding.writeVarUint(awareness, 1);
      encoding.writeVarUint(awareness, random.int(2 ** 30));
      encoding.writeVarUint(awareness, 1);
      encoding.writeVarString(awareness, JSON.stringify({ user: { id: "fake", name: "Fake" } }));
      encoding.writeVarUint8Array(e, encoding.toUint8Array(awareness));
    }),
    frame(doc, 5, (e) => encoding.writeVarString(e, "stateless")),
    // Well-formed but hostile updates (issue 10), whole or mutated.
    ...hostileUpdates(random).map((u) => updateFrame(doc, u)),
  ];
}

/** One of each hostile shape, from a random client id so that they do not collide. */
function hostileUpdates(random: Random): Uint8Array[] {
  const client = () => 1 + random.int(2 ** 30);
  const chain = client();
  return [
    pendingDeletesUpdate(client(), 50 + random.int(400), random.int(2 ** 20)),
    subdocumentsUpdate(client(), 1 + random.int(50)),
    nestedMapsUpdate(chain, 1 + random.int(100)),
    touchEachMapUpdate(client(), chain, 1 + random.int(50)),
    throwsOnApplyUpdate(client(), "fuzz"),
  ];
}

/** The deepest nesting of shared types in a document (1: a type directly in a root type). */
function nestingDepth(doc: Y.Doc): number {
  let deepest = 0;
  const stack: [Y.AbstractType<Y.YEvent<Y.AbstractType<unknown>>>, number][] = [
    ...[...doc.share.values()].map((t) => [t, 0] as [typeof t, number]),
  ];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [type, depth] = next;
    const items = [...type._map.values()];
    for (let item = type._start; item !== null; item = item.right) items.push(item);
    for (const item of items) {
      if (item.deleted || !(item.content instanceof Y.ContentType)) continue;
      deepest = Math.max(deepest, depth + 1);
      stack.push([item.content.type, depth + 1]);
    }
  }
  return deepest;
}

function mutate(frame: Uint8Array, random: Random): Uint8Array {
  const roll = random.next();
  if (roll < 0.3) return frame;
  if (roll < 0.5) return frame.slice(0, random.int(frame.length));
  const copy = frame.slice();
  for (let i = 0; i < 1 + random.int(4); i++) copy[random.int(copy.length)] = random.int(256);
  return copy;
}

describe("fuzzing the server", () => {
  let server: TestServer;
  const honest: TestClient[] = [];
  afterEach(async () => {
    for (const c of honest.splice(0)) c.destroy();
    await server?.dispose();
  });

  it("survives 10,000 random and mutated frames while honest clients edit", async () => {
    const random = seededRandom();
    const seed = `seed ${random.seed} (rerun with TANDEM_SEED=${random.seed})`;
    server = await startTestServer({
      auth: "jwt",
      jwtSecret: SECRET,
      maxConnectionsPerIp: 0,
      connectionsPerMinute: 0,
    });
    const writerToken = await mintToken({
      secret: SECRET,
      sub: "honest",
      docs: { [HONEST_DOC]: "write" },
      ttlSeconds: 600,
    });
    for (let i = 0; i < 3; i++)
      honest.push(connectClient(server.url, HONEST_DOC, { token: writerToken }));
    await Promise.all(honest.map((c) => c.synced()));

    // Attackers hold valid tokens too: read-only on the honest document, write on their own.
    const tokens = [
      "",
      "garbage",
      await mintToken({
        secret: SECRET,
        sub: "viewer",
        docs: { [HONEST_DOC]: "read" },
        ttlSeconds: 600,
      }),
      await mintToken({
        secret: SECRET,
        sub: "vandal",
        docs: { "fuzz-*": "write" },
        ttlSeconds: 600,
      }),
    ];

    let editing = true;
    const edits = (async () => {
      for (let n = 0; editing; n++) {
        const client = honest[n % honest.length] as TestClient;
        const text = client.doc.getText("t");
        text.insert(random.int(text.length + 1), String.fromCharCode(97 + (n % 26)));
        await new Promise((r) => setTimeout(r, 2));
      }
    })();

    let sent = 0;
    let reconnects = 0;
    const attack = async (id: number) => {
      let socket: RawSocket | null = null;
      while (sent < FRAMES) {
        const doc = random.next() < 0.5 ? HONEST_DOC : `fuzz-${id}`;
        const frames = validFrames(doc, random.pick(tokens), random);
        if (!socket || socket.ws.readyState !== socket.ws.OPEN) {
          socket = await openRawSocket(server.url);
          reconnects++;
          // Half the sockets authenticate properly first, so mutations reach deeper code.
          if (random.next() < 0.5) {
            socket.send(frames[0] as Uint8Array);
            sent++;
          }
        }
        const frame =
          random.next() < 0.15
            ? random.bytes(1 + random.int(64))
            : mutate(random.pick(frames), random);
        socket.send(frame);
        sent++;
        if (sent % 50 === 0) await new Promise((r) => setImmediate(r));
      }
      socket?.ws.terminate();
    };
    await Promise.all(Array.from({ length: ATTACKERS }, (_, id) => attack(id)));
    editing = false;
    await edits;

    expect(sent, seed).toBeGreaterThanOrEqual(FRAMES);
    expect(reconnects, `${seed}: the server closed misbehaving sockets`).toBeGreaterThan(ATTACKERS);
    // The server is still up and ready...
    expect((await fetch(`${server.httpUrl}/readyz`)).status, seed).toBe(200);
    // ...the honest clients converge with each other and with what is stored...
    const content = () => (honest[0] as TestClient).doc.getText("t").toString();
    await waitFor(`honest clients to converge (${seed})`, () =>
      honest.every(
        (c) =>
          c.provider.isSynced &&
          !c.provider.hasUnsyncedChanges &&
          c.doc.getText("t").toString() === content(),
      ),
    );
    const stored = await server.store.load(HONEST_DOC);
    const loaded = new Y.Doc();
    // ...every stored entry decodes, and nothing but the honest edits is in the document.
    for (const update of [stored?.state, ...(stored?.updates ?? [])]) {
      if (!update) continue;
      expect(() => Y.decodeUpdate(update), seed).not.toThrow();
      Y.applyUpdate(loaded, update);
    }
    expect(loaded.getText("t").toString(), seed).toBe(content());
    expect(content(), seed).not.toMatch(/fuzz/);
    // The documents attackers could write hold only updates that decode and apply, no
    // sub-documents, no nesting past the limit, and no more pending than the limit.
    for (const { name } of await server.store.list()) {
      const entries = await server.store.load(name);
      const doc = new Y.Doc();
      for (const update of [entries?.state, ...(entries?.updates ?? [])]) {
        if (!update) continue;
        expect(() => Y.decodeUpdate(update), `${seed}: ${name}`).not.toThrow();
        expect(() => Y.applyUpdate(doc, update), `${seed}: ${name}`).not.toThrow();
      }
      expect(doc.getSubdocs().size, `${seed}: ${name}`).toBe(0);
      expect(nestingDepth(doc), `${seed}: ${name}`).toBeLessThanOrEqual(
        SETTINGS.maxNestingDepth.default,
      );
      const pending =
        (doc.store.pendingStructs?.update.length ?? 0) + (doc.store.pendingDs?.length ?? 0);
      expect(pending, `${seed}: ${name}`).toBeLessThanOrEqual(SETTINGS.maxPendingBytes.default);
    }

    // And it loads the same on a fresh server.
    for (const c of honest.splice(0)) c.destroy();
    server = await server.restart();
    const reader = connectClient(server.url, HONEST_DOC, { token: writerToken });
    honest.push(reader);
    await reader.synced();
    expect(reader.doc.getText("t").toString(), seed).toBe(loaded.getText("t").toString());
  }, 120_000);
});
