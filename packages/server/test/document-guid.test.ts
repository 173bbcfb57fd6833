import { connectClient, startTestServer, type TestClient, type TestServer } from "@tandem/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Documents get their Y.Doc guid from a counter (extensions/document-guid.ts) instead of a
 * uuidv4 per document. This fails if Hocuspocus stops applying what onCreateDocument returns,
 * which would silently bring back the cost.
 */
describe("document guids", () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await server?.dispose();
  });

  it("are distinct per document, from a counter", async () => {
    const names = ["one", "two", "three"];
    for (const name of names) clients.push(connectClient(server.url, name));
    await Promise.all(clients.map((c) => c.synced()));
    const guids = names.map((name) => server.hocuspocus.documents.get(name)?.guid);
    expect(new Set(guids).size).toBe(names.length);
    for (const guid of guids) expect(guid).toMatch(/^tandem-\d+$/);
  });
});
