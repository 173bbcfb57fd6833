import { CloseCode } from "@tandem/protocol";
import {
  authFrame,
  connectClient,
  frame,
  openRawSocket,
  seededRandom,
  startTestServer,
  stateVectorFrame,
  type TestClient,
  type TestServer,
  updateFrame,
  waitFor,
} from "@tandem/testkit";
import * as encoding from "lib0/encoding";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as Y from "yjs";

const DOC = "shared";

const auth = (doc: string) => authFrame(doc, "");
const syncUpdate = updateFrame;

/** A real update that inserts text, to corrupt in various ways. */
function realUpdate(text: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getText("body").insert(0, text);
  return Y.encodeStateAsUpdate(doc);
}

describe("bad input closes only the sender and stores nothing", () => {
  let server: TestServer;
  let honest: TestClient[];

  beforeEach(async () => {
    server = await startTestServer({ maxMessageSize: 64 * 1024 });
    honest = [connectClient(server.url, DOC), connectClient(server.url, DOC)];
    await Promise.all(honest.map((c) => c.synced()));
    honest[0]?.doc.getText("body").insert(0, "before ");
    await Promise.all(honest.map((c) => c.stored()));
  });

  afterEach(async () => {
    for (const c of honest) c.destroy();
    await server.dispose();
  });

  /** Sends frames on a fresh socket and returns how the server closed it. */
  async function sendBad(...frames: (Uint8Array | string)[]) {
    const raw = await openRawSocket(server.url);
    for (const f of frames) raw.send(f);
    return raw.closed;
  }

  /** Honest clients keep editing and converge; the store holds exactly their content. */
  async function expectHonestClientsFine(marker: string, { allowForeignContent = false } = {}) {
    const [a, b] = honest as [TestClient, TestClient];
    a.doc.getText("body").insert(a.doc.getText("body").length, marker);
    await waitFor("honest clients to converge", () =>
      b.doc.getText("body").toString().includes(marker),
    );
    await a.stored();
    const stored = new Y.Doc();
    Y.applyUpdate(stored, (await server.store.read(DOC)) as Uint8Array);
    expect(stored.getText("body").toString()).toBe(a.doc.getText("body").toString());
    if (!allowForeignContent) expect(stored.getText("body").toString()).not.toMatch(/EVIL/);
  }

  it("a text frame: 1003", async () => {
    expect(await sendBad("hello")).toMatchObject({ code: CloseCode.UnsupportedData });
    await expectHonestClientsFine("[text]");
  });

  it("random bytes: 1007", async () => {
    const random = seededRandom();
    const codes = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const bytes = random.bytes(1 + random.int(200));
      // A first byte of 0 would be an empty address, 2 a well-formed auth: keep them random.
      const { code } = await sendBad(bytes);
      codes.add(code);
    }
    expect([...codes], `seed ${random.seed}`).toEqual([CloseCode.InvalidFrame]);
    await expectHonestClientsFine("[random]");
  });

  it("truncated frames: 1007", async () => {
    const full = syncUpdate(DOC, realUpdate("EVIL truncated"));
    for (const cut of [1, 3, 5, full.length - 4, full.length - 1]) {
      expect(await sendBad(auth(DOC), full.slice(0, cut))).toMatchObject({
        code: CloseCode.InvalidFrame,
      });
    }
    await expectHonestClientsFine("[truncated]");
  });

  it("unknown message types and sync steps: 1007", async () => {
    expect(await sendBad(frame(DOC, 42))).toMatchObject({ code: CloseCode.InvalidFrame });
    expect(await sendBad(frame(DOC, 6, (e) => encoding.writeVarString(e, "x")))).toMatchObject({
      code: CloseCode.InvalidFrame,
    });
    const badStep = frame(DOC, 0, (e) => {
      encoding.writeVarUint(e, 9);
      encoding.writeVarUint8Array(e, new Uint8Array([0, 0]));
    });
    expect(await sendBad(auth(DOC), badStep)).toMatchObject({ code: CloseCode.InvalidFrame });
    await expectHonestClientsFine("[unknown]");
  });

  it("huge length prefixes: 1007", async () => {
    // An address that claims 2^40 bytes, and an update that claims 2^31.
    const hugeAddress = new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x41]);
    const hugeUpdate = frame(DOC, 0, (e) => {
      encoding.writeVarUint(e, 2);
      encoding.writeVarUint(e, 2 ** 31);
      encoding.writeUint8Array(e, new Uint8Array(16));
    });
    expect(await sendBad(hugeAddress)).toMatchObject({ code: CloseCode.InvalidFrame });
    expect(await sendBad(auth(DOC), hugeUpdate)).toMatchObject({ code: CloseCode.InvalidFrame });
    await expectHonestClientsFine("[huge]");
  });

  it("a message over the size limit: 1009", async () => {
    const big = syncUpdate(DOC, realUpdate(`EVIL ${"x".repeat(100 * 1024)}`));
    expect(await sendBad(auth(DOC), big)).toMatchObject({ code: CloseCode.MessageTooBig });
    await expectHonestClientsFine("[big]");
  });

  it("valid-looking updates with garbage payloads: 1007, or applied as the valid update they are", async () => {
    const random = seededRandom();
    const update = realUpdate("garbage payload that is long enough to corrupt");
    const probe = stateVectorFrame(DOC);
    const outcomes = { refused: 0, accepted: 0 };
    for (let i = 0; i < 40; i++) {
      const corrupted = update.slice();
      // Corrupt a few bytes of the update, keeping the frame around it well formed.
      for (let k = 0; k < 3; k++) corrupted[2 + random.int(corrupted.length - 2)] = random.int(256);
      const raw = await openRawSocket(server.url);
      raw.send(auth(DOC));
      await raw.nextMessageOrClose(0); // authenticated
      const seen = raw.messages.length;
      raw.send(syncUpdate(DOC, corrupted));
      // The probe's reply comes only after the server handled the corrupted update.
      raw.send(probe);
      const outcome = await raw.nextMessageOrClose(seen);
      if ("code" in outcome) {
        expect(outcome.code, `seed ${random.seed}`).toBe(CloseCode.InvalidFrame);
        outcomes.refused++;
      } else {
        outcomes.accepted++;
      }
      raw.ws.terminate();
    }
    expect(outcomes.refused, `seed ${random.seed}`).toBeGreaterThan(0);
    // Whatever decoded was a valid update; the store and the honest clients agree on the result.
    await expectHonestClientsFine("[garbage]", { allowForeignContent: true });
  });

  it("the stored document still loads after all of it, on a fresh server", async () => {
    await sendBad("text");
    await sendBad(auth(DOC), syncUpdate(DOC, new Uint8Array([1, 2, 3, 4, 5])));
    await expectHonestClientsFine("[final]");
    const expected = honest[0]?.doc.getText("body").toString();
    for (const c of honest) c.destroy();
    server = await server.restart();
    const fresh = connectClient(server.url, DOC);
    honest = [fresh];
    await fresh.synced();
    expect(fresh.doc.getText("body").toString()).toBe(expected);
  });
});
