import { render } from "@tandem/schema/convert";
import { CloseCode, mintToken } from "@tandem/server";
import {
  connectClient,
  startTestServer,
  type TestClient,
  type TestServer,
  waitFor,
} from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";

const ADMIN = "admin-token-of-at-least-32-characters!!";
const ROTATED = "the-next-admin-token-also-32-characters";
const SECRET = "correct horse battery staple, 32+ characters";

let server: TestServer;
const clients: TestClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await server?.dispose();
});

const connect = (name: string, token?: string) => {
  const client = connectClient(server.url, name, token ? { token } : {});
  clients.push(client);
  return client;
};

const api = (path: string, init: RequestInit & { token?: string | null } = {}) => {
  const { token = ADMIN, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  return fetch(`${server.httpUrl}${path}`, { ...rest, headers });
};

/** An RFC 9457 problem: its shape, and the status it repeats. */
async function expectProblem(response: Response, status: number, slug?: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const body = (await response.json()) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(["detail", "status", "title", "type"]);
  expect(body.status).toBe(status);
  expect(body.type).toMatch(/^urn:tandem:problem:/);
  if (slug) expect(body.type).toBe(`urn:tandem:problem:${slug}`);
  expect(typeof body.detail).toBe("string");
  return body as { type: string; title: string; status: number; detail: string };
}

/** The content fragment of a client's document, as Markdown. */
const markdownOf = (doc: Y.Doc) => render(doc, "markdown");

const putMarkdown = (name: string, markdown: string) =>
  api(`/api/documents/${encodeURIComponent(name)}`, {
    method: "PUT",
    headers: { "content-type": "text/markdown" },
    body: markdown,
  });

describe("admin API: off, authorization, problem details", () => {
  it("without an admin token every /api/ route is 404 with how to turn it on", async () => {
    server = await startTestServer();
    for (const [method, path] of [
      ["GET", "/api/documents"],
      ["DELETE", "/api/documents/x"],
      ["POST", "/api/backup"],
      ["GET", "/api/nothing-here"],
    ] as const) {
      const body = await expectProblem(await api(path, { method }), 404, "admin-api-disabled");
      expect(body.detail).toContain("--admin-token");
      expect(body.detail).toContain("TANDEM_ADMIN_TOKEN");
    }
    // Everything else is as before.
    expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
  });

  it("refuses a missing or wrong token with 401, takes every configured token (rotation)", async () => {
    server = await startTestServer({ adminToken: [ADMIN, ROTATED] });
    const missing = await api("/api/documents", { token: null });
    await expectProblem(missing, 401, "unauthorized");
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/);
    await expectProblem(await api("/api/documents", { token: `${ADMIN}x` }), 401);
    await expectProblem(
      await api("/api/documents", { token: null, headers: { authorization: `Basic ${ADMIN}` } }),
      401,
    );
    expect((await api("/api/documents")).status).toBe(200);
    expect((await api("/api/documents", { token: ROTATED })).status).toBe(200);
    // Unknown routes and methods, once authorized.
    await expectProblem(await api("/api/nothing-here"), 404, "not-found");
    const wrongMethod = await api("/api/documents", { method: "PATCH" });
    await expectProblem(wrongMethod, 405);
    expect(wrongMethod.headers.get("allow")).toBe("GET");
  });

  it("the config refuses admin tokens shorter than 32 characters", async () => {
    const { resolveConfig } = await import("@tandem/server");
    expect(() => resolveConfig({ argv: ["--admin-token", "short"], env: {} })).toThrow(
      /invalid --admin-token/,
    );
    expect(
      resolveConfig({ argv: [], env: { TANDEM_ADMIN_TOKEN: `${ADMIN},${ROTATED}` } }).adminToken,
    ).toEqual([ADMIN, ROTATED]);
  });

  it('under --auth jwt a token with "admin": true is an admin token; without it, 403', async () => {
    server = await startTestServer({ auth: "jwt", jwtSecret: SECRET });
    const admin = await mintToken({
      secret: SECRET,
      sub: "ops",
      docs: {},
      admin: true,
      ttlSeconds: 60,
    });
    const user = await mintToken({
      secret: SECRET,
      sub: "ada",
      docs: { "**": "write" },
      ttlSeconds: 60,
    });
    const forged = await mintToken({
      secret: "another secret that is 32+ characters long",
      sub: "ops",
      docs: {},
      admin: true,
      ttlSeconds: 60,
    });
    expect((await api("/api/documents", { token: admin })).status).toBe(200);
    const forbidden = await expectProblem(
      await api("/api/documents", { token: user }),
      403,
      "forbidden",
    );
    expect(forbidden.detail).toContain('"admin": true');
    await expectProblem(await api("/api/documents", { token: forged }), 401);
    await expectProblem(await api("/api/documents", { token: "not.a.jwt" }), 401);
  });
});

describe("admin API: documents", () => {
  it("lists documents in name order, paged, with a prefix", async () => {
    server = await startTestServer({ adminToken: [ADMIN] });
    const names = ["b/2", "a", "b/1", "c", "b/3"];
    for (const name of names) expect((await putMarkdown(name, `# ${name}`)).status).toBe(201);
    const live = connect("c");
    await live.synced();

    const first = await (await api("/api/documents?limit=2")).json();
    expect(first.documents.map((d: { name: string }) => d.name)).toEqual(["a", "b/1"]);
    expect(first.next).toEqual(expect.any(String));
    const second = await (await api(`/api/documents?limit=2&cursor=${first.next}`)).json();
    expect(second.documents.map((d: { name: string }) => d.name)).toEqual(["b/2", "b/3"]);
    const third = await (await api(`/api/documents?limit=2&cursor=${second.next}`)).json();
    expect(third).toMatchObject({ documents: [{ name: "c", connections: 1 }], next: null });
    const entry = third.documents[0];
    expect(entry.bytes).toBeGreaterThan(0);
    expect(Date.parse(entry.createdAt)).toBeLessThanOrEqual(Date.parse(entry.updatedAt));

    const prefixed = await (await api("/api/documents?prefix=b%2F")).json();
    expect(prefixed.documents.map((d: { name: string }) => d.name)).toEqual(["b/1", "b/2", "b/3"]);

    await expectProblem(await api("/api/documents?limit=0"), 400);
    await expectProblem(await api("/api/documents?limit=abc"), 400);
    await expectProblem(await api("/api/documents?cursor=%%%"), 400);
  });

  it("reads a document as yjs, json, html, markdown and text, by ?format= or Accept", async () => {
    server = await startTestServer({ adminToken: [ADMIN] });
    const markdown =
      "# Plan\n\nShip **it** with [docs](https://example.com)\n\n- [ ] test\n- [x] build";
    expect((await putMarkdown("team/plan", markdown)).status).toBe(201);
    const path = `/api/documents/${encodeURIComponent("team/plan")}`;

    const md = await api(`${path}?format=markdown`);
    expect(md.headers.get("content-type")).toBe("text/markdown; charset=utf-8");
    expect(await md.text()).toBe(markdown);
    const json = await (await api(path)).json();
    expect(json.type).toBe("doc");
    expect(json.content[0]).toMatchObject({ type: "heading", attrs: { level: 1 } });
    const html = await api(path, { headers: { accept: "text/html" } });
    expect(html.headers.get("content-security-policy")).toContain("sandbox");
    expect(await html.text()).toContain("<h1>Plan</h1>");
    expect(await (await api(path, { headers: { accept: "text/plain" } })).text()).toBe(
      "Plan\n\nShip it with docs\n\ntest\nbuild",
    );
    const yjs = await api(path, { headers: { accept: "application/octet-stream" } });
    expect(yjs.headers.get("content-type")).toBe("application/octet-stream");
    const doc = new Y.Doc();
    Y.applyUpdate(doc, new Uint8Array(await yjs.arrayBuffer()));
    expect(markdownOf(doc)).toBe(markdown);

    await expectProblem(await api(`${path}?format=pdf`), 400, "unknown-format");
    await expectProblem(await api(path, { headers: { accept: "image/png" } }), 406);
    await expectProblem(await api("/api/documents/missing"), 404);
    await expectProblem(await api("/api/documents/bad%07name"), 400, "invalid-document-name");
  });

  it("PUT markdown while a provider is connected: the provider converges without reconnecting", async () => {
    server = await startTestServer({ adminToken: [ADMIN] });
    const ada = connect("notes");
    await ada.synced();
    ada.doc.getXmlFragment("default").insert(0, [new Y.XmlElement("paragraph")]);
    await ada.stored();

    expect((await putMarkdown("notes", "# Agenda\n\n1. coffee\n2. plans")).status).toBe(204);
    await waitFor(
      "the provider to show the new content",
      () => markdownOf(ada.doc) === "# Agenda\n\n1. coffee\n2. plans",
    );
    // Same socket all along, and the server has it on disk.
    expect(ada.closes).toEqual([]);
    const stored = new Y.Doc();
    Y.applyUpdate(stored, (await server.store.read("notes")) as Uint8Array);
    expect(markdownOf(stored)).toBe("# Agenda\n\n1. coffee\n2. plans");

    // The provider keeps editing on top of it.
    const heading = ada.doc.getXmlFragment("default").get(0) as Y.XmlElement;
    (heading.get(0) as Y.XmlText).insert(6, " today");
    await ada.stored();
    expect(await (await api("/api/documents/notes?format=text")).text()).toBe(
      "Agenda today\n\ncoffee\nplans",
    );
  });

  it("PUT takes every format by Content-Type and refuses the rest precisely", async () => {
    server = await startTestServer({ adminToken: [ADMIN], maxDocumentSize: 4096 });
    const put = (type: string, body: BodyInit) =>
      api("/api/documents/doc", { method: "PUT", headers: { "content-type": type }, body });
    const text = () => api("/api/documents/doc?format=text").then((r) => r.text());

    expect(
      (await put("text/html; charset=utf-8", "<p>from <b>html</b></p><script>x()</script>")).status,
    ).toBe(201);
    expect(await text()).toBe("from html");
    expect((await put("text/plain", "line one\nline two")).status).toBe(204);
    expect(await text()).toBe("line one\n\nline two");
    const json = {
      type: "doc",
      content: [{ type: "paragraph", content: [{ type: "text", text: "json" }] }],
    };
    expect((await put("application/json", JSON.stringify(json))).status).toBe(204);
    expect(await text()).toBe("json");
    const source = new Y.Doc();
    source.getXmlFragment("default").insert(0, [new Y.XmlElement("paragraph")]);
    (source.getXmlFragment("default").get(0) as Y.XmlElement).insert(0, [
      new Y.XmlText("from yjs"),
    ]);
    expect(
      (await put("application/octet-stream", Buffer.from(Y.encodeStateAsUpdate(source)))).status,
    ).toBe(204);
    expect(await text()).toBe("from yjs");

    await expectProblem(await put("application/pdf", "x"), 415, "unsupported-media-type");
    await expectProblem(await put("application/json", "{not json"), 400);
    await expectProblem(
      await put("application/json", JSON.stringify({ type: "doc", content: [{ type: "video" }] })),
      400,
      "invalid-content",
    );
    await expectProblem(
      await put("text/plain", new Uint8Array([0xff, 0xfe, 0x00])),
      400,
      "bad-encoding",
    );
    await expectProblem(
      await put("application/octet-stream", new Uint8Array([1, 2, 3])),
      400,
      "invalid-update",
    );
    await expectProblem(await put("text/plain", "x".repeat(5000)), 413, "too-large");
    // A body within the limit whose document would pass it.
    await expectProblem(await put("text/plain", "word ".repeat(800)), 413, "too-large");
    expect(await text()).toBe("from yjs");
  });

  it("POST /updates merges a raw Yjs update into the live document, screened like a client's", async () => {
    server = await startTestServer({ adminToken: [ADMIN] });
    const ada = connect("shared");
    await ada.synced();
    const post = (body: Uint8Array, type = "application/octet-stream") =>
      api("/api/documents/shared/updates", {
        method: "POST",
        headers: { "content-type": type },
        body: Buffer.from(body),
      });

    const other = new Y.Doc();
    other.getText("t").insert(0, "from the API");
    // The document was open but empty: 201, it holds something now.
    expect((await post(Y.encodeStateAsUpdate(other))).status).toBe(201);
    await waitFor(
      "the provider to get it",
      () => ada.doc.getText("t").toString() === "from the API",
    );
    expect((await post(Y.encodeStateAsUpdate(other, Y.encodeStateVector(other)))).status).toBe(204);

    // An update that builds on something the document lacks stays pending in Yjs: refused.
    const gap = new Y.Doc();
    gap.getText("t").insert(0, "a");
    const gapVector = Y.encodeStateVector(gap);
    gap.getText("t").insert(1, "b");
    await expectProblem(
      await post(Y.encodeStateAsUpdate(gap, gapVector)),
      409,
      "missing-dependencies",
    );

    const nested = new Y.Doc();
    let map = nested.getMap("m");
    for (let i = 0; i < 70; i++) {
      const child = new Y.Map();
      map.set("c", child);
      map = child;
    }
    await expectProblem(await post(Y.encodeStateAsUpdate(nested)), 400, "invalid-update");
    await expectProblem(await post(new Uint8Array([9, 9, 9])), 400, "invalid-update");
    await expectProblem(await post(new Uint8Array([0, 0]), "text/plain"), 415);
    expect(ada.closes).toEqual([]);
  });

  it("DELETE closes every connection with document-deleted (4404), then the document is gone", async () => {
    server = await startTestServer({ adminToken: [ADMIN] });
    const ada = connect("doomed");
    const grace = connect("doomed");
    await Promise.all([ada.synced(), grace.synced()]);
    ada.doc.getText("t").insert(0, "soon gone");
    await ada.stored();
    expect(CloseCode.DocumentDeleted).toBe(4404);

    expect((await api("/api/documents/doomed", { method: "DELETE" })).status).toBe(204);
    await waitFor("both to be told", () =>
      [ada, grace].every((c) => c.documentCloses.includes("document-deleted")),
    );
    expect(await server.store.read("doomed")).toBeNull();
    expect(server.hocuspocus.documents.has("doomed")).toBe(false);
    await expectProblem(await api("/api/documents/doomed"), 404);
    await expectProblem(await api("/api/documents/doomed", { method: "DELETE" }), 404);
    await expectProblem(await api("/api/documents/never-was", { method: "DELETE" }), 404);
  });
});

describe("admin API: connections", () => {
  it("lists who is connected, and closes every connection of a user (4401)", async () => {
    server = await startTestServer({ auth: "jwt", jwtSecret: SECRET, adminToken: [ADMIN] });
    const token = (sub: string, access: "read" | "write") =>
      mintToken({
        secret: SECRET,
        sub,
        name: sub.toUpperCase(),
        docs: { "**": access },
        ttlSeconds: 300,
      });
    const ada = connect("room", await token("ada", "write"));
    const adaElsewhere = connect("hall", await token("ada", "write"));
    const bob = connect("room", await token("bob", "read"));
    await Promise.all([ada.synced(), adaElsewhere.synced(), bob.synced()]);

    const { connections } = await (await api("/api/documents/room/connections")).json();
    const byUser = Object.fromEntries(
      connections.map((c: { user: { id: string } }) => [c.user.id, c]),
    );
    expect(byUser.ada).toMatchObject({
      user: { id: "ada", name: "ADA", from: "token" },
      readOnly: false,
    });
    expect(byUser.bob).toMatchObject({ user: { id: "bob", name: "BOB" }, readOnly: true });
    expect(Date.now() - Date.parse(byUser.ada.since)).toBeLessThan(60_000);
    expect(await (await api("/api/documents/nobody-here/connections")).status).toBe(404);

    const kicked = await api("/api/users/ada/connections", { method: "DELETE" });
    expect(await kicked.json()).toEqual({ closed: 2 });
    expect(CloseCode.Unauthorized).toBe(4401);
    await waitFor("ada to be closed on both documents", () =>
      [ada, adaElsewhere].every((c) => c.documentCloses.includes("closed-by-admin")),
    );
    const after = await (await api("/api/documents/room/connections")).json();
    expect(after.connections.map((c: { user: { id: string } }) => c.user.id)).toEqual(["bob"]);
    expect(bob.documentCloses).toEqual([]);
  });

  it("without tokens the user comes from the connection's presence", async () => {
    server = await startTestServer({ adminToken: [ADMIN] });
    const ada = connect("room");
    await ada.synced();
    ada.provider.setAwarenessField("user", { id: "ada", name: "Ada" });
    await waitFor("the presence to reach the server", async () => {
      const { connections } = await (await api("/api/documents/room/connections")).json();
      return connections[0]?.user?.name === "Ada";
    });
  });
});
