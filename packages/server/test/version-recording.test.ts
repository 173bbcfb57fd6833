import { mintToken } from "@tandem/server";
import {
  connectClient,
  startTestServer,
  type TestClient,
  type TestServer,
  waitFor,
} from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import {
  apiClient,
  markdownOf,
  paragraphText,
  type VersionJSON,
  type VersionList,
  waitForVersions,
  write,
} from "./versions-helpers.ts";

const SECRET = "correct horse battery staple, 32+ characters";
const HOUR = 3_600_000;

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

/** A client under --auth none that announces who it is in its presence, as the editor does. */
async function connectAs(name: string, user: { id: string; name: string }) {
  const client = connect(name);
  client.provider.setAwarenessField("user", user);
  await client.synced();
  return client;
}

const api = apiClient(() => server.httpUrl);
const auto = (versions: VersionJSON[]) => versions.filter((v) => v.kind === "auto");

describe("automatic versions", () => {
  it("records one once the document has been quiet for --version-idle", async () => {
    server = await startTestServer({ versionIdle: 150, versionInterval: HOUR });
    const ada = await connectAs("notes", { id: "u-ada", name: "Ada" });
    write(ada.doc, "Hello");
    await ada.stored();
    const { versions } = await waitForVersions(
      "an automatic version after the idle time",
      () => api.list("notes"),
      (list) => list.versions.length === 1,
    );
    const [version] = versions as [VersionJSON];
    expect(version).toMatchObject({
      kind: "auto",
      label: null,
      authors: [{ id: "u-ada", name: "Ada" }],
    });
    expect(version.bytes).toBeGreaterThan(0);
    expect(Date.now() - Date.parse(version.time)).toBeLessThan(60_000);
    expect(await api.preview("notes", version.id, "markdown")).toBe("Hello");

    // A second burst of edits, a second version, newest first, with the content of its time.
    write(ada.doc, "Hello again");
    await ada.stored();
    const later = await waitForVersions(
      "a second automatic version",
      () => api.list("notes"),
      (list) => list.versions.length === 2,
    );
    expect(later.versions[1]?.id).toBe(version.id);
    const newest = later.versions[0] as VersionJSON;
    expect(newest.id > version.id).toBe(true);
    expect(await api.preview("notes", newest.id, "markdown")).toBe("Hello again");
    expect(await api.preview("notes", version.id, "markdown")).toBe("Hello");
    expect(later.pendingAuthors).toEqual([]);
  });

  it("records one every --version-interval while editing goes on without a pause", async () => {
    server = await startTestServer({ versionIdle: HOUR, versionInterval: 300 });
    const ada = await connectAs("busy", { id: "u-ada", name: "Ada" });
    write(ada.doc, "Typing");
    await ada.stored();
    // Type a character every 20 ms, far more often than the idle time, until two versions exist.
    let typed = 0;
    const typing = setInterval(() => {
      paragraphText(ada.doc, 0).insert(paragraphText(ada.doc, 0).length, String(typed++ % 10));
    }, 20);
    try {
      const { versions } = await waitForVersions(
        "two automatic versions while editing goes on",
        () => api.list("busy"),
        (list) => auto(list.versions).length >= 2,
      );
      for (const version of versions) {
        expect(version.kind).toBe("auto");
        expect(version.authors).toEqual([{ id: "u-ada", name: "Ada" }]);
      }
      // Each holds the text as it was then: a prefix of what was typed in the end.
      const oldest = versions.at(-1) as VersionJSON;
      const newest = versions[0] as VersionJSON;
      const before = await api.preview("busy", oldest.id, "text");
      const after = await api.preview("busy", newest.id, "text");
      expect(after.startsWith(before)).toBe(true);
      expect(after.length).toBeGreaterThan(before.length);
    } finally {
      clearInterval(typing);
    }
    expect(typed).toBeGreaterThan(0);
  });

  it("records pending changes when the document unloads and when the server stops", async () => {
    server = await startTestServer({ versionIdle: HOUR, versionInterval: HOUR });
    const ada = await connectAs("closing", { id: "u-ada", name: "Ada" });
    write(ada.doc, "Written before leaving");
    await ada.stored();
    expect((await api.list("closing")).versions).toEqual([]);
    ada.destroy();
    const { versions } = await waitForVersions(
      "a version once the last client left",
      () => api.list("closing"),
      (list) => list.versions.length === 1,
    );
    expect(await api.preview("closing", (versions[0] as VersionJSON).id, "text")).toBe(
      "Written before leaving",
    );

    // A client still connected at shutdown: its edits get their version before the store closes.
    const bob = await connectAs("closing", { id: "u-bob", name: "Bob" });
    write(bob.doc, "Written before the shutdown");
    await bob.stored();
    server = await server.restart();
    const after = await api.list("closing");
    expect(after.versions).toHaveLength(2);
    expect(after.versions[0]?.authors).toEqual([{ id: "u-bob", name: "Bob" }]);
    expect(await api.preview("closing", (after.versions[0] as VersionJSON).id, "text")).toBe(
      "Written before the shutdown",
    );
  });

  it("retention keeps one automatic version per period and every named one", async () => {
    // Every automatic version is at once older than 1 ms: one per UTC day stays.
    server = await startTestServer({
      versionIdle: 50,
      versionInterval: HOUR,
      versionRetention: "1ms:all,forever:1d",
    });
    const ada = await connectAs("kept", { id: "u-ada", name: "Ada" });
    const seen = new Set<string>();
    for (const [round, text] of ["One", "Two", "Three"].entries()) {
      write(ada.doc, text);
      await ada.stored();
      const { versions } = await waitForVersions(
        `automatic version ${round + 1}`,
        () => api.list("kept"),
        (list) => auto(list.versions).some((v) => !seen.has(v.id)),
      );
      for (const version of auto(versions)) seen.add(version.id);
      if (round === 0) await api.name("kept", "The first one");
    }
    // Retention runs once a version is recorded, so a list in between still shows the day's
    // previous one: wait until one automatic version per UTC day is left (two if the test ran
    // over midnight).
    const oneADay = (list: VersionList) => {
      const days = auto(list.versions).map((v) => v.time.slice(0, 10));
      return new Set(days).size === days.length;
    };
    const { versions } = await waitForVersions("retention", () => api.list("kept"), oneADay);
    const autos = auto(versions);
    expect(seen.size).toBe(3);
    expect(autos.length).toBeLessThan(3);
    // The newest automatic version is the one its day keeps; the named one stays.
    expect(await api.preview("kept", (autos[0] as VersionJSON).id, "text")).toBe("Three");
    expect(versions.filter((v) => v.kind === "named").map((v) => v.label)).toEqual([
      "The first one",
    ]);
  });
});

describe("authors", () => {
  it("under --auth jwt: the token's sub and name of everyone who wrote, in order", async () => {
    server = await startTestServer({
      auth: "jwt",
      jwtSecret: SECRET,
      versionIdle: HOUR,
      versionInterval: HOUR,
    });
    const token = (sub: string, name: string) =>
      mintToken({ secret: SECRET, sub, name, docs: { "team/*": "write" }, ttlSeconds: 600 });
    const admin = await mintToken({
      secret: SECRET,
      sub: "ops",
      docs: {},
      admin: true,
      ttlSeconds: 600,
    });
    const ada = connect("team/plan", await token("ada", "Ada Lovelace"));
    const bob = connect("team/plan", await token("bob", "Bob"));
    const carol = connect("team/plan", await token("carol", "Carol"));
    await Promise.all([ada.synced(), bob.synced(), carol.synced()]);
    // Presence cannot lend anyone another name: the server takes it from the token.
    bob.provider.setAwarenessField("user", { id: "ada", name: "Not Bob" });
    write(ada.doc, "Ada's line");
    await ada.stored();
    await waitFor("Bob to see Ada's line", () => markdownOf(bob.doc) === "Ada's line");
    write(bob.doc, "Ada's line\n\nBob's line");
    await bob.stored();
    // Carol only reads along: she is no author.
    const pending = await api.list("team/plan", admin);
    expect(pending.versions).toEqual([]);
    expect(pending.pendingAuthors).toEqual([
      { id: "ada", name: "Ada Lovelace" },
      { id: "bob", name: "Bob" },
    ]);
    for (const client of [ada, bob, carol]) client.destroy();
    const { versions } = await waitForVersions(
      "the version recorded when the document unloads",
      () => api.list("team/plan", admin),
      (list) => list.versions.length === 1,
    );
    expect(versions[0]?.authors).toEqual([
      { id: "ada", name: "Ada Lovelace" },
      { id: "bob", name: "Bob" },
    ]);
  });

  it("under --auth none: the presence identity each client announced", async () => {
    server = await startTestServer({ versionIdle: HOUR, versionInterval: HOUR });
    const ada = await connectAs("open", { id: "u-ada", name: "Ada" });
    const bob = await connectAs("open", { id: "u-bob", name: "Bob" });
    const anonymous = connect("open");
    await anonymous.synced();
    write(bob.doc, "Bob first");
    await bob.stored();
    await waitFor("Ada to see Bob's line", () => markdownOf(ada.doc) === "Bob first");
    write(ada.doc, "Bob first\n\nThen Ada");
    await ada.stored();
    await waitFor("the third client to see both", () => markdownOf(anonymous.doc).includes("Ada"));
    write(anonymous.doc, "Bob first\n\nThen Ada\n\nSomeone");
    await anonymous.stored();
    expect((await api.list("open")).pendingAuthors).toEqual([
      { id: "u-bob", name: "Bob" },
      { id: "u-ada", name: "Ada" },
    ]);
    const named = await api.name("open", "Draft");
    expect(named.authors).toEqual([
      { id: "u-bob", name: "Bob" },
      { id: "u-ada", name: "Ada" },
    ]);
    expect((await api.list("open")).pendingAuthors).toEqual([]);
  });
});
