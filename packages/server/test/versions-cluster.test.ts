import {
  connectClient,
  type PostgresEngine,
  type RedisEngine,
  startPostgres,
  startRedis,
  startTestServer,
  type TestClient,
  type TestServer,
  waitFor,
} from "@tandem/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { apiClient, markdownOf, write } from "./versions-helpers.ts";

/** The versions API over the cluster store: two instances sharing one Redis and one PostgreSQL. */

const HOUR = 3_600_000;
let redis: RedisEngine;
let postgres: PostgresEngine;
const servers: TestServer[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
});
afterAll(async () => {
  await Promise.all([redis?.stop(), postgres?.stop()]);
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const s of servers.splice(0)) await s.dispose();
});

async function connectAs(server: TestServer, name: string, user: { id: string; name: string }) {
  const client = connectClient(server.url, name);
  clients.push(client);
  client.provider.setAwarenessField("user", user);
  await client.synced();
  return client;
}

describe("versions API with the cluster store", () => {
  it("names, lists with exact authors, previews and restores across instances", async () => {
    const postgresUrl = await postgres.createDatabase("versions_api");
    for (let i = 0; i < 2; i++) {
      servers.push(
        await startTestServer({
          redisUrl: redis.url,
          postgresUrl,
          versionIdle: HOUR,
          versionInterval: HOUR,
        }),
      );
    }
    const [one, two] = servers as [TestServer, TestServer];
    const onOne = apiClient(() => one.httpUrl);
    const onTwo = apiClient(() => two.httpUrl);
    const ada = await connectAs(one, "shared", { id: "u-ada", name: "Ada" });
    const bob = await connectAs(two, "shared", { id: "u-bob", name: "Bob" });

    write(ada.doc, "Ada's draft");
    await ada.stored();
    await waitFor(
      "Bob, on the other instance, to see Ada's draft",
      () => markdownOf(bob.doc) === "Ada's draft",
    );
    write(bob.doc, "Ada's draft\n\nBob's addition");
    await bob.stored();
    await waitFor("Ada to see Bob's addition", () => markdownOf(ada.doc) === markdownOf(bob.doc));

    // Either instance sees who wrote, whichever instance stored the updates.
    const authors = [
      { id: "u-ada", name: "Ada" },
      { id: "u-bob", name: "Bob" },
    ];
    expect((await onOne.list("shared")).pendingAuthors).toEqual(authors);
    const named = await onTwo.name("shared", "Both drafts");
    expect(named.authors).toEqual(authors);
    expect((await onOne.list("shared")).versions).toEqual([named]);
    expect(await onOne.preview("shared", named.id, "markdown")).toBe(
      "Ada's draft\n\nBob's addition",
    );

    // A restore through instance one reaches Bob on instance two.
    write(bob.doc, "Rewritten by Bob");
    await bob.stored();
    await waitFor("Ada to see the rewrite", () => markdownOf(ada.doc) === "Rewritten by Bob");
    const { before, restored } = await onOne.restore("shared", named.id);
    expect(restored).toEqual(named);
    expect(before).toMatchObject({ kind: "restore", authors: [{ id: "u-bob", name: "Bob" }] });
    await waitFor(
      "Bob to see the restored version",
      () => markdownOf(bob.doc) === "Ada's draft\n\nBob's addition",
    );
    await waitFor("Ada to see it too", () => markdownOf(ada.doc) === markdownOf(bob.doc));
    const listed = await onTwo.list("shared");
    expect(listed.versions.map((v) => v.id)).toEqual([before.id, named.id]);
    expect(await onTwo.preview("shared", before.id, "text")).toBe("Rewritten by Bob");
  });
});
