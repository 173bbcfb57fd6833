// @vitest-environment jsdom
import type { TandemClient, TandemDocument } from "@tandem/provider";
import type { TandemServer } from "@tandem/server";
import { cleanup, render } from "@testing-library/react";
import { StrictMode } from "react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TandemProvider, useDocument, useStatus, useTandemClient, useYText } from "../src/index.ts";
import {
  clientOptions,
  clientPool,
  connectionsTo,
  eventually,
  recordOpens,
  startRealServer,
} from "./helpers.ts";

/** Shows one document's status and text, and records every handle it rendered with. */
function Viewer({ name, label, rendered }: { name: string; label: string; rendered?: unknown[] }) {
  const handle = useDocument(name);
  rendered?.push(handle);
  const status = useStatus(handle);
  const text = useYText(handle, "body");
  return <p data-testid={label}>{`${handle.name} ${status}: ${text}`}</p>;
}

/** Records the client of every render. */
function ClientSpy({ seen }: { seen: TandemClient[] }) {
  seen.push(useTandemClient());
  return null;
}

describe("useDocument", () => {
  const pool = clientPool();
  let server: TandemServer & { dispose(): Promise<void> };

  beforeEach(async () => {
    server = await startRealServer();
  });

  afterEach(async () => {
    cleanup();
    await pool.closeAll();
    await server.dispose();
  });

  /** Writes `text` into a document from a plain SDK client, stores it, and leaves. */
  async function seed(name: string, text: string): Promise<void> {
    const writer = pool.create(server.url).open(name);
    await writer.whenSynced();
    writer.doc.getText("body").insert(0, text);
    await writer.whenStored();
    await writer.close();
    await eventually(() => expect(connectionsTo(server, name)).toBe(0));
  }

  it("under StrictMode opens exactly one handle, and unmounting closes it", async () => {
    const client = pool.create(server.url);
    const opened = recordOpens(client);
    const rendered: unknown[] = [];
    const view = render(
      <StrictMode>
        <TandemProvider client={client}>
          <Viewer name="strict" label="viewer" rendered={rendered} />
        </TandemProvider>
      </StrictMode>,
    );
    await eventually(() =>
      expect(view.getByTestId("viewer").textContent).toBe("strict connected: "),
    );
    await eventually(() => expect(connectionsTo(server, "strict")).toBe(1));

    // StrictMode rendered twice and ran the effects twice: still one open(), never a closed handle.
    expect(opened).toHaveLength(1);
    const [handle] = opened as [TandemDocument];
    expect(handle.closed).toBe(false);
    expect(rendered.length).toBeGreaterThanOrEqual(2);
    expect(rendered.every((each) => each === handle)).toBe(true);

    view.unmount();
    await eventually(() => expect(handle.closed).toBe(true));
    await eventually(() => expect(connectionsTo(server, "strict")).toBe(0));
    expect(opened).toHaveLength(1);
  });

  it("shares one handle between components, closed when the last one unmounts", async () => {
    const client = pool.create(server.url);
    const opened = recordOpens(client);
    const tree = (first: boolean, second: boolean) => (
      <TandemProvider client={client}>
        {first && <Viewer name="shared" label="first" />}
        {second && <Viewer name="shared" label="second" />}
      </TandemProvider>
    );
    const view = render(tree(true, true));
    await eventually(() =>
      expect(view.getByTestId("second").textContent).toBe("shared connected: "),
    );
    expect(opened).toHaveLength(1);
    const [handle] = opened as [TandemDocument];

    // One of two unmounts: the handle stays open and live, as an edit from elsewhere shows.
    view.rerender(tree(false, true));
    const other = pool.create(server.url).open("shared");
    await other.whenSynced();
    other.doc.getText("body").insert(0, "still here");
    await eventually(() =>
      expect(view.getByTestId("second").textContent).toBe("shared connected: still here"),
    );
    expect(handle.closed).toBe(false);
    expect(connectionsTo(server, "shared")).toBe(2);

    view.rerender(tree(false, false));
    await eventually(() => expect(handle.closed).toBe(true));
    await eventually(() => expect(connectionsTo(server, "shared")).toBe(1));
    expect(opened).toHaveLength(1);
  });

  it("switches documents when the name changes, closing the previous one", async () => {
    await seed("monday", "Standup at 9");
    await seed("tuesday", "Retro at 4");
    const client = pool.create(server.url);
    const opened = recordOpens(client);
    const tree = (name: string) => (
      <TandemProvider client={client}>
        <Viewer name={name} label="day" />
      </TandemProvider>
    );
    const view = render(tree("monday"));
    await eventually(() =>
      expect(view.getByTestId("day").textContent).toBe("monday connected: Standup at 9"),
    );

    view.rerender(tree("tuesday"));
    await eventually(() =>
      expect(view.getByTestId("day").textContent).toBe("tuesday connected: Retro at 4"),
    );
    expect(opened.map((handle) => handle.name)).toEqual(["monday", "tuesday"]);
    await eventually(() => expect(opened[0]?.closed).toBe(true));
    await eventually(() => expect(connectionsTo(server, "monday")).toBe(0));
    await eventually(() => expect(connectionsTo(server, "tuesday")).toBe(1));

    // And back: a fresh handle, since the first one was closed.
    view.rerender(tree("monday"));
    await eventually(() =>
      expect(view.getByTestId("day").textContent).toBe("monday connected: Standup at 9"),
    );
    expect(opened.map((handle) => handle.name)).toEqual(["monday", "tuesday", "monday"]);
    await eventually(() => expect(connectionsTo(server, "tuesday")).toBe(0));
  });
});

describe("TandemProvider", () => {
  let server: TandemServer & { dispose(): Promise<void> };

  beforeEach(async () => {
    server = await startRealServer();
  });

  afterEach(async () => {
    cleanup();
    await server.dispose();
  });

  it("with options, creates one client that survives StrictMode and closes on unmount", async () => {
    const clients: TandemClient[] = [];
    const view = render(
      <StrictMode>
        <TandemProvider options={clientOptions(server.url)}>
          <ClientSpy seen={clients} />
          <Viewer name="owned" label="viewer" />
        </TandemProvider>
      </StrictMode>,
    );
    await eventually(() =>
      expect(view.getByTestId("viewer").textContent).toBe("owned connected: "),
    );
    expect(new Set(clients).size).toBe(1);
    await eventually(() => expect(server.hocuspocus.getConnectionsCount()).toBe(1));

    view.unmount();
    await eventually(() => expect(server.hocuspocus.getConnectionsCount()).toBe(0));
    expect(() => clients[0]?.open("owned")).toThrow(/client is closed/);
  });

  it("is required: useDocument outside of one says what is missing", () => {
    expect(() => render(<Viewer name="lonely" label="lonely" />)).toThrow(/no Tandem client here/);
  });
});
