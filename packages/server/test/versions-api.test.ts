import { mintToken } from "@tandem/server";
import { connectClient, startTestServer, type TestClient, type TestServer } from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import {
  apiClient,
  expectProblem,
  markdownOf,
  type VersionJSON,
  waitForVersions,
  write,
} from "./versions-helpers.ts";

const SECRET = "correct horse battery staple, 32+ characters";
const ADMIN = "admin-token-of-at-least-32-characters!!";
const HOUR = 3_600_000;

let server: TestServer;
const clients: TestClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await server?.dispose();
});

const api = apiClient(() => server.httpUrl);

/** Writes `markdown` into a document through a real provider and waits until it is stored. */
async function writeDocument(name: string, markdown: string, token?: string) {
  const client = connectClient(server.url, name, token ? { token } : {});
  clients.push(client);
  await client.synced();
  write(client.doc, markdown);
  await client.stored();
  return client;
}

describe("versions API: permissions under --auth jwt", () => {
  it("read lists and previews, write names, restores and deletes, admin does all; 401, 403, 404, 409", async () => {
    server = await startTestServer({
      auth: "jwt",
      jwtSecret: SECRET,
      adminToken: [ADMIN],
      versionIdle: HOUR,
      versionInterval: HOUR,
    });
    const mint = (sub: string, docs: Record<string, "read" | "write">, admin = false) =>
      mintToken({ secret: SECRET, sub, docs, admin, ttlSeconds: 600 });
    const writer = await mint("wendy", { "team/*": "write" });
    const reader = await mint("rita", { "team/plan": "read" });
    const outsider = await mint("otto", { "other/*": "write" });
    const adminJwt = await mint("ops", {}, true);
    const name = "team/plan";
    const base = api.base(name);

    const client = await writeDocument(name, "First draft", writer);
    const named = await api.name(name, "  Sent to legal  ", writer);
    write(client.doc, "Second draft");
    await client.stored();
    expect(named).toMatchObject({
      kind: "named",
      label: "Sent to legal",
      authors: [{ id: "wendy", name: "wendy" }],
    });
    expect(Object.keys(named).sort()).toEqual(["authors", "bytes", "id", "kind", "label", "time"]);
    expect(Number.isNaN(Date.parse(named.time))).toBe(false);

    // Reading: read, write and admin tokens may; nobody else.
    for (const token of [reader, writer, adminJwt, ADMIN]) {
      expect((await api.list(name, token)).versions.map((v) => v.id)).toEqual([named.id]);
      expect(await api.preview(name, named.id, "text", token)).toBe("First draft");
      expect(await api.preview(name, named.id, "text", token)).not.toBe(markdownOf(client.doc));
    }
    const missing = await api.call(base);
    await expectProblem(missing, 401, "unauthorized");
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/);
    await expectProblem(await api.call(base, { token: `${writer}x` }), 401, "unauthorized");
    await expectProblem(
      await api.call(base, { headers: { authorization: `Basic ${writer}` } }),
      401,
      "unauthorized",
    );
    await expectProblem(await api.call(base, { token: outsider }), 403, "forbidden");
    await expectProblem(
      await api.call(`${base}/${named.id}?format=text`, { token: outsider }),
      403,
      "forbidden",
    );

    // Writing: a read token may not name, restore or delete.
    const label = { headers: { "content-type": "application/json" }, body: '{"label":"x"}' };
    const refused = await api.call(base, { method: "POST", token: reader, ...label });
    const problem = await expectProblem(refused, 403, "forbidden");
    expect(problem.detail).toContain("read access");
    await expectProblem(
      await api.call(`${base}/${named.id}/restore`, { method: "POST", token: reader }),
      403,
      "forbidden",
    );
    await expectProblem(
      await api.call(`${base}/${named.id}`, { method: "DELETE", token: reader }),
      403,
      "forbidden",
    );
    await expectProblem(
      await api.call(base, { method: "POST", token: outsider, ...label }),
      403,
      "forbidden",
    );
    expect((await api.list(name, writer)).versions).toHaveLength(1);

    // A write token may restore; so may an admin token and an admin JWT.
    const restored = await api.restore(name, named.id, writer);
    expect(restored.restored).toEqual(named);
    expect(restored.before).toMatchObject({
      kind: "restore",
      label: "Before restoring Sent to legal",
    });
    await api.restore(name, named.id, ADMIN);
    await api.restore(name, named.id, adminJwt);

    // 404: a document or version that does not exist (after authorization).
    await expectProblem(
      await api.call(api.base("team/nothing"), { token: writer }),
      404,
      "not-found",
    );
    await expectProblem(
      await api.call(`${base}/no-such-version`, { token: reader }),
      404,
      "not-found",
    );
    await expectProblem(
      await api.call(`${api.base("team/nothing")}/${named.id}`, { token: writer }),
      404,
      "not-found",
    );
    await expectProblem(
      await api.call(`${base}/no-such-version/restore`, { method: "POST", token: writer }),
      404,
      "not-found",
    );
    await expectProblem(
      await api.call(`${base}/no-such-version`, { method: "DELETE", token: writer }),
      404,
      "not-found",
    );
    await expectProblem(
      await api.call(api.base("team/nothing"), { method: "POST", token: writer, ...label }),
      404,
      "not-found",
    );

    // 409: automatic versions are retention's to delete. An edit, then leaving, makes one (the
    // document unloads; the restores before are in their "before" versions already).
    write(client.doc, "Third draft");
    await client.stored();
    for (const c of clients.splice(0)) c.destroy();
    const { versions } = await waitForVersions(
      "the automatic version recorded when the document unloads",
      () => api.list(name, writer),
      (list) => list.versions.some((v) => v.kind === "auto"),
    );
    const autoVersion = versions.find((v) => v.kind === "auto") as VersionJSON;
    await expectProblem(
      await api.call(`${base}/${autoVersion.id}`, { method: "DELETE", token: writer }),
      409,
      "version-not-named",
    );
    // Named and restore versions may be deleted: 204, then gone.
    const deletable = (await api.list(name, writer)).versions.filter((v) => v.kind !== "auto");
    expect(deletable.map((v) => v.kind).sort()).toEqual(["named", "restore", "restore", "restore"]);
    for (const version of deletable) {
      const response = await api.call(`${base}/${version.id}`, { method: "DELETE", token: writer });
      expect(response.status).toBe(204);
    }
    expect((await api.list(name, writer)).versions.map((v) => v.id)).toEqual([autoVersion.id]);
    await expectProblem(
      await api.call(`${base}/${named.id}`, { method: "DELETE", token: writer }),
      404,
      "not-found",
    );
  });

  it("refuses bad bodies precisely (400, 413, 415) and wrong methods (405)", async () => {
    server = await startTestServer({ auth: "jwt", jwtSecret: SECRET, versionIdle: HOUR });
    const writer = await mintToken({
      secret: SECRET,
      sub: "w",
      docs: { "**": "write" },
      ttlSeconds: 600,
    });
    await writeDocument("doc", "Text", writer);
    const post = (body: string, type = "application/json") =>
      api.call(api.base("doc"), {
        method: "POST",
        token: writer,
        headers: { "content-type": type },
        body,
      });
    for (const [body, code, detail] of [
      ["{", "invalid-json", "not JSON"],
      ["[]", "invalid-body", "JSON object"],
      ['{"title":"x"}', "invalid-body", 'unknown field "title"'],
      ["{}", "invalid-label", "no label"],
      ['{"label":7}', "invalid-label", "must be a string"],
      ['{"label":"   "}', "invalid-label", "1 to 200 characters"],
      [JSON.stringify({ label: "x".repeat(201) }), "invalid-label", "it has 201"],
      ['{"label":"two\\nlines"}', "invalid-label", "control characters"],
    ] as const) {
      const problem = await expectProblem(await post(body), 400, code);
      expect(problem.detail).toContain(detail);
    }
    // 200 characters are fine, counted as characters, not UTF-16 units.
    expect((await post(JSON.stringify({ label: "🙂".repeat(200) }))).status).toBe(201);
    await expectProblem(
      await post(JSON.stringify({ label: "x".repeat(20_000) })),
      413,
      "too-large",
    );
    await expectProblem(await post('{"label":"x"}', "text/plain"), 415, "unsupported-media-type");
    const wrongMethod = await api.call(api.base("doc"), { method: "PUT", token: writer });
    await expectProblem(wrongMethod, 405, "method-not-allowed");
    expect(wrongMethod.headers.get("allow")).toBe("GET, POST");
    expect((await api.list("doc", writer)).versions).toHaveLength(1);
  });
});

describe("versions API: formats, --auth none, off", () => {
  it("previews a version as yjs, json, html, markdown and text, by ?format= or Accept", async () => {
    server = await startTestServer({ versionIdle: HOUR });
    const client = await writeDocument("formats", "# Title\n\nSome **bold** text.");
    const version = await api.name("formats", "Formatted");
    // Later edits do not change the version.
    write(client.doc, "Changed since");
    await client.stored();
    const url = `${api.base("formats")}/${version.id}`;

    const yjs = await api.call(`${url}?format=yjs`);
    expect(yjs.status).toBe(200);
    expect(yjs.headers.get("content-type")).toBe("application/octet-stream");
    expect(yjs.headers.get("x-tandem-version")).toBe(version.id);
    const doc = new Y.Doc();
    Y.applyUpdate(doc, new Uint8Array(await yjs.arrayBuffer()));
    expect(markdownOf(doc)).toBe("# Title\n\nSome **bold** text.");

    const json = await api.call(url);
    expect(json.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(json.headers.get("x-tandem-version")).toBe(version.id);
    expect(await json.json()).toMatchObject({
      type: "doc",
      content: [{ type: "heading" }, { type: "paragraph" }],
    });
    expect(await api.preview("formats", version.id, "html")).toContain("<strong>bold</strong>");
    expect(await api.preview("formats", version.id, "markdown")).toBe(
      "# Title\n\nSome **bold** text.",
    );
    expect(await api.preview("formats", version.id, "text")).toBe("Title\n\nSome bold text.");
    const byAccept = await api.call(url, { headers: { accept: "text/markdown" } });
    expect(byAccept.headers.get("content-type")).toBe("text/markdown; charset=utf-8");
    expect(await byAccept.text()).toBe("# Title\n\nSome **bold** text.");
    expect(
      (await api.call(url, { headers: { accept: "text/html" } })).headers.get("content-type"),
    ).toBe("text/html; charset=utf-8");
    await expectProblem(await api.call(`${url}?format=pdf`), 400, "unknown-format");
    await expectProblem(
      await api.call(url, { headers: { accept: "image/png" } }),
      406,
      "not-acceptable",
    );
  });

  it("under --auth none everyone may do everything without a token; other /api/ paths are the admin API's", async () => {
    server = await startTestServer({ versionIdle: HOUR });
    await writeDocument("team/a b", "Shared");
    const version = await api.name("team/a b", "Anyone");
    expect((await api.list("team/a b")).versions).toHaveLength(1);
    expect((await api.restore("team/a b", version.id)).before.kind).toBe("restore");
    const deleted = await api.call(`${api.base("team/a b")}/${version.id}`, { method: "DELETE" });
    expect(deleted.status).toBe(204);
    // The admin API still answers its own paths (off here: no admin token).
    const admin = await fetch(`${server.httpUrl}/api/documents/team%2Fa%20b`);
    expect(admin.status).toBe(404);
    expect(((await admin.json()) as { type: string }).type).toBe(
      "urn:tandem:problem:admin-api-disabled",
    );
    await expectProblem(await api.call(api.base("bad\u0001name")), 400, "invalid-document-name");
  });

  it("with --versions false the API answers 501 and nothing is recorded", async () => {
    server = await startTestServer({ versions: false, versionIdle: 10 });
    const client = await writeDocument("plain", "No history");
    const problem = await expectProblem(await api.call(api.base("plain")), 501, "versions-off");
    expect(problem.detail).toContain("--versions");
    client.destroy();
    server = await server.restart();
    expect(server.store.versions ? await server.store.versions.list("plain") : []).toEqual([]);
  });
});
