import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { mintToken } from "@tandem/server";
import {
  authFrame,
  connectClient,
  describeFrame,
  openRawSocket,
  startTestServer,
  type TestClient,
  type TestServer,
  tempDir,
  updateFrame,
  waitFor,
} from "@tandem/testkit";
import { exportJWK } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";

const SECRET = "correct horse battery staple, 32+ characters";
type Docs = Record<string, "read" | "write">;
const token = (sub: string, docs: Docs, ttlSeconds = 300, secret = SECRET) =>
  mintToken({ secret, sub, name: sub.toUpperCase(), docs, ttlSeconds });

describe("authentication with JWT", () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  const connect = (name: string, tokenOrFn: string | (() => Promise<string>)) => {
    const client = connectClient(server.url, name, { token: tokenOrFn });
    clients.push(client);
    return client;
  };
  const storedText = async (name: string) => {
    const doc = new Y.Doc();
    const update = await server.store.read(name);
    if (update) Y.applyUpdate(doc, update);
    return doc.getText("t").toString();
  };
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await server?.dispose();
  });
  const start = (config = {}) =>
    startTestServer({ auth: "jwt", jwtSecret: SECRET, tokenGrace: 1000, ...config }).then((s) => {
      server = s;
    });

  it("a valid token with write access edits; its docs claim decides which documents", async () => {
    await start();
    const alice = connect("team-a/plan", await token("alice", { "team-a/*": "write" }));
    await alice.synced();
    alice.doc.getText("t").insert(0, "hello");
    await alice.stored();
    expect(await storedText("team-a/plan")).toBe("hello");

    const elsewhere = connect("team-b/plan", await token("alice", { "team-a/*": "write" }));
    await waitFor("a denial", () => elsewhere.denials.length > 0);
    expect(elsewhere.denials).toEqual(["no-access"]);
    const nested = connect("team-a/deep/plan", await token("alice", { "team-a/*": "write" }));
    await waitFor("a denial", () => nested.denials.length > 0);
    expect(nested.denials).toEqual(["no-access"]);
  });

  it.each([
    ["token-missing", async () => ""],
    ["token-malformed", async () => "not.a.jwt"],
    ["token-signature-invalid", () => token("mallory", { "**": "write" }, 300, "x".repeat(40))],
    ["token-expired", () => token("alice", { "**": "write" }, -10)],
  ])("refuses with the reason %s", async (reason, make) => {
    await start();
    const client = connect("doc", await make());
    await waitFor("a denial", () => client.denials.length > 0);
    expect(client.denials[0]).toBe(reason);
    expect(await server.store.list()).toEqual([]);
  });

  it("applies nothing a refused client queued before its token was checked", async () => {
    await start();
    const update = (() => {
      const d = new Y.Doc();
      d.getText("t").insert(0, "sneaky");
      return Y.encodeStateAsUpdate(d);
    })();
    const raw = await openRawSocket(server.url);
    raw.send(updateFrame("doc", update));
    raw.send(authFrame("doc", "forged-token"));
    await raw.nextMessageOrClose(0); // the permission-denied answer
    raw.ws.close();
    const reader = connect("doc", await token("reader", { doc: "read" }));
    await reader.synced();
    expect(reader.doc.getText("t").toString()).toBe("");
    expect(await server.store.list()).toEqual([]);
  });

  it("a read-only connection's edits are refused and never stored", async () => {
    await start();
    const writer = connect("doc", await token("alice", { doc: "write" }));
    const viewer = connect("doc", await token("victor", { doc: "read" }));
    await Promise.all([writer.synced(), viewer.synced()]);
    writer.doc.getText("t").insert(0, "from alice");
    await writer.stored();
    await waitFor(
      "the viewer to see it",
      () => viewer.doc.getText("t").toString() === "from alice",
    );

    viewer.doc.getText("t").insert(0, "from victor ");
    // The server answers the viewer's update with SyncStatus false: it stays unsynced.
    writer.doc.getText("t").insert(writer.doc.getText("t").length, "!");
    await writer.stored();
    await waitFor("the viewer to get alice's next edit", () =>
      viewer.doc.getText("t").toString().endsWith("!"),
    );
    expect(viewer.provider.hasUnsyncedChanges).toBe(true);
    expect(writer.doc.getText("t").toString()).toBe("from alice!");
    expect(await storedText("doc")).toBe("from alice!");
  });

  it("viewers' presence is not relayed (unless --show-viewers) and names come from the token", async () => {
    await start();
    const alice = connect("doc", await token("alice", { doc: "write" }));
    const bob = connect("doc", await token("bob", { doc: "write" }));
    const viewer = connect("doc", await token("victor", { doc: "read" }));
    await Promise.all([alice, bob, viewer].map((c) => c.synced()));
    viewer.provider.setAwarenessField("user", { id: "victor", name: "Victor", color: "#f00" });
    // Alice claims to be someone else: the server puts her token's identity back.
    alice.provider.setAwarenessField("user", { id: "mallory", name: "The CEO", color: "#0f0" });
    const states = () => [...(bob.provider.awareness?.getStates().values() ?? [])];
    await waitFor("bob to see alice", () => states().some((s) => s.user?.id === "alice"));
    expect(states().find((s) => s.user?.id === "alice")?.user).toEqual({
      id: "alice",
      name: "ALICE",
      color: "#0f0",
    });
    expect(states().some((s) => s.user?.name === "The CEO" || s.user?.id === "mallory")).toBe(
      false,
    );
    // Bob's own presence has been relayed to alice by now; the viewer's, sent earlier, never is.
    bob.provider.setAwarenessField("user", { id: "bob", name: "Bob" });
    await waitFor("alice to see bob", () =>
      [...(alice.provider.awareness?.getStates().values() ?? [])].some((s) => s.user?.id === "bob"),
    );
    expect(states().some((s) => s.user?.id === "victor")).toBe(false);
  });

  it("with --show-viewers a viewer's presence is relayed", async () => {
    await start({ showViewers: true });
    const alice = connect("doc", await token("alice", { doc: "write" }));
    const viewer = connect("doc", await token("victor", { doc: "read" }));
    await Promise.all([alice.synced(), viewer.synced()]);
    viewer.provider.setAwarenessField("user", { id: "x", name: "x" });
    await waitFor("alice to see the viewer", () =>
      [...(alice.provider.awareness?.getStates().values() ?? [])].some(
        (s) => s.user?.id === "victor",
      ),
    );
  });

  it("asks for a fresh token when one expires, and the connection carries on", async () => {
    await start();
    let calls = 0;
    const client = connect("doc", async () => {
      calls++;
      // exp is in whole seconds: a two-second token is valid for at least one.
      return token("alice", { doc: "write" }, 2);
    });
    await client.synced();
    await waitFor("two token refreshes", () => calls >= 3, { timeoutMs: 10_000 });
    client.doc.getText("t").insert(0, "still writing");
    await client.stored();
    expect(await storedText("doc")).toBe("still writing");
    expect(client.documentCloses).toEqual([]);
  });

  it("closes the document's connection when no valid fresh token comes within the grace period", async () => {
    await start();
    let calls = 0;
    const client = connect("doc", async () => {
      calls++;
      // The first token lasts a second; every later one is for somebody else.
      return calls === 1 ? token("alice", { doc: "write" }, 2) : token("mallory", { doc: "write" });
    });
    await client.synced();
    await waitFor("the server to close the document", () => client.documentCloses.length > 0, {
      timeoutMs: 10_000,
    });
    expect(calls).toBeGreaterThanOrEqual(2);
  });

  it("closes after the grace period when the client never answers the token request", async () => {
    await start();
    const raw = await openRawSocket(server.url);
    raw.send(authFrame("doc", await token("alice", { doc: "write" }, 2)));
    // Authenticated, then (at expiry) a token request, then (after the grace) a close.
    const auth = () => raw.messages.map(describeFrame).filter((m) => /^(auth|close)/.test(m));
    await waitFor("the close message", () => auth().some((m) => m.startsWith("close")), {
      timeoutMs: 10_000,
    });
    expect(auth()).toEqual(["auth:authenticated", "auth:token-request", "close:token-expired"]);
    raw.ws.close();
  });

  it("a fresh token that takes write away makes the connection read-only from then on", async () => {
    await start();
    let calls = 0;
    const client = connect("doc", async () => {
      calls++;
      return calls === 1
        ? token("alice", { doc: "write" }, 2)
        : token("alice", { doc: "read" }, 300);
    });
    await client.synced();
    client.doc.getText("t").insert(0, "written ");
    await client.stored();
    // Hocuspocus handles a fresh token without holding the socket's other messages, so wait
    // until the server has taken write away before editing.
    await waitFor(
      "alice's connection to be read-only",
      () =>
        [...(server.hocuspocus.documents.get("doc")?.connections.keys() ?? [])].some(
          (c) => (c.context as { user?: { id: string } }).user?.id === "alice" && c.readOnly,
        ),
      { timeoutMs: 10_000 },
    );
    expect(calls).toBeGreaterThanOrEqual(2);
    const reader = connect("doc", await token("reader", { doc: "read" }));
    await reader.synced();
    client.doc.getText("t").insert(client.doc.getText("t").length, "refused");
    await waitFor("the server to refuse the edit", () => client.provider.unsyncedChanges > 0);
    // A later edit by someone with write access arrives; the refused one never does.
    const other = connect("doc", await token("bob", { doc: "write" }));
    await other.synced();
    other.doc.getText("t").insert(0, ">");
    await other.stored();
    await waitFor("the reader to see bob's edit", () =>
      reader.doc.getText("t").toString().startsWith(">"),
    );
    expect(reader.doc.getText("t").toString()).toBe(">written ");
    expect(await storedText("doc")).toBe(">written ");
  });

  it.each(["ed25519", "ec", "rsa"] as const)(
    "verifies %s tokens from a public key and from a JWKS file",
    async (type) => {
      const dir = await tempDir();
      const { privateKey, publicKey } =
        type === "ec"
          ? generateKeyPairSync("ec", { namedCurve: "P-256" })
          : type === "rsa"
            ? generateKeyPairSync("rsa", { modulusLength: 2048 })
            : generateKeyPairSync("ed25519");
      const publicPem = join(dir.path, "public.pem");
      writeFileSync(publicPem, publicKey.export({ type: "spki", format: "pem" }));
      const jwks = join(dir.path, "jwks.json");
      writeFileSync(jwks, JSON.stringify({ keys: [await exportJWK(publicKey)] }));
      const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
      const signed = await mintToken({
        privateKeyPem,
        sub: "alice",
        docs: { doc: "write" },
        ttlSeconds: 60,
      });
      const forged = await token("alice", { doc: "write" });
      try {
        for (const keyConfig of [{ jwtPublicKey: publicPem }, { jwksFile: jwks }]) {
          server = await startTestServer({ auth: "jwt", ...keyConfig });
          const good = connect("doc", signed);
          await good.synced();
          const bad = connect("doc", forged);
          await waitFor("a denial", () => bad.denials.length > 0);
          for (const c of clients.splice(0)) c.destroy();
          await server.dispose();
        }
      } finally {
        await dir.remove();
      }
    },
  );
});
