import type { beforeSyncPayload, Extension } from "@hocuspocus/server";
import {
  connectClient,
  startTestServer,
  type TestClient,
  type TestServer,
  textOfUpdate,
} from "@tandem/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** An embedder's extension (StartOptions.extensions) that keeps state on itself. */
class Counter implements Extension {
  extensionName = "test-counter";
  changes = 0;
  lastDocument = "";

  async beforeSync({ documentName }: beforeSyncPayload): Promise<void> {
    this.lastDocument = documentName;
  }

  async onChange(): Promise<void> {
    this.changes++;
  }
}

/** An extension whose fire-and-forget hook fails: Hocuspocus does not await onChange. */
class Failing implements Extension {
  extensionName = "test-failing";
  async onChange(): Promise<void> {
    throw new Error("onChange failed");
  }
}

describe("the server's extensions, as Hocuspocus gets them (guard-hooks.ts)", () => {
  let server: TestServer;
  const counter = new Counter();
  const clients: TestClient[] = [];

  beforeAll(async () => {
    server = await startTestServer({}, { extensions: [counter, new Failing()] });
  });

  afterAll(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await server?.dispose();
  });

  it("run on the extension itself, and a failing onChange neither ends the process nor loses the edit", async () => {
    const a = connectClient(server.url, "counted");
    clients.push(a);
    await a.stored();
    const before = counter.changes;
    a.doc.getText("t").insert(0, "one");
    await a.stored();
    a.doc.getText("t").insert(3, " two");
    await a.stored();

    expect(counter.changes - before).toBe(2);
    expect(counter.lastDocument).toBe("counted");
    expect(textOfUpdate(await server.store.read("counted"))).toBe("one two");
  });
});
