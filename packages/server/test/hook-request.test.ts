import type { Extension, onChangePayload, onConnectPayload } from "@hocuspocus/server";
import {
  connectClient,
  startTestServer,
  type TestClient,
  type TestServer,
  textOfUpdate,
} from "@tandem/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** An embedder's extension that notes what its hooks are told of the socket's request. */
class Notes implements Extension {
  extensionName = "test-request-notes";
  url = "";
  connectTeam: string | null = null;
  changeTeams: (string | null)[] = [];
  host: string | null = null;

  async onConnect({ request, requestParameters, requestHeaders }: onConnectPayload): Promise<void> {
    this.url = request.url;
    this.connectTeam = requestParameters.get("team");
    this.host = requestHeaders.get("host");
  }

  async onChange({ requestParameters }: onChangePayload): Promise<void> {
    this.changeTeams.push(requestParameters.get("team"));
  }
}

describe("what an embedder's hooks see of a socket's request (socket-session.ts)", () => {
  let server: TestServer;
  const notes = new Notes();
  const clients: TestClient[] = [];

  beforeAll(async () => {
    server = await startTestServer({}, { extensions: [notes] });
  });

  afterAll(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await server?.dispose();
  });

  it("the request target as sent, its query parameters at connect and at every change, and its headers", async () => {
    const client = connectClient(`${server.url}/?team=blue%20sky`, "asked");
    clients.push(client);
    await client.stored();
    client.doc.getText("t").insert(0, "a");
    await client.stored();
    client.doc.getText("t").insert(1, "b");
    await client.stored();

    expect(notes.url).toBe("/?team=blue%20sky");
    expect(notes.connectTeam).toBe("blue sky");
    expect(notes.changeTeams).toEqual(["blue sky", "blue sky"]);
    expect(notes.host).toBe(new URL(server.url).host);
  });

  it("a query Hocuspocus cannot read from the target alone (a URL in it, a second '?') comes whole", async () => {
    for (const [query, team] of [
      ["next=https://app.example/x&team=red", "red"],
      ["back=/a?b=1&team=green", "green"],
    ] as const) {
      notes.changeTeams = [];
      const name = `asked-${team}`;
      const client = connectClient(`${server.url}/?${query}`, name);
      clients.push(client);
      client.doc.getText("t").insert(0, team);
      await client.stored();
      expect(textOfUpdate(await server.store.read(name))).toBe(team);
      expect(notes.connectTeam).toBe(team);
      expect(notes.changeTeams).toEqual([team]);
      expect(new URL(notes.url).search).toBe(`?${query}`);
    }
  });
});
