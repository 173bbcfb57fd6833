// @vitest-environment jsdom
import type { TandemServer } from "@tandem/server";
import { cleanup, fireEvent, render, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import {
  TandemProvider,
  useDocument,
  usePeers,
  useStatus,
  useStored,
  useSynced,
  useYText,
} from "../src/index.ts";
import { clientPool, eventually, startRealServer } from "./helpers.ts";

/** One user's view of the document "notes": every hook, and a button that adds a line. */
function Notes({ name, id = name.toLowerCase() }: { name: string; id?: string }) {
  const notes = useDocument("notes", { user: { id, name } });
  const text = useYText(notes, "body");
  const status = useStatus(notes);
  const synced = useSynced(notes);
  const stored = useStored(notes);
  const peers = usePeers(notes);
  return (
    <section>
      <output data-testid="text">{text}</output>
      <span data-testid="status">{status}</span>
      <span data-testid="synced">{synced ? "synced" : "not synced"}</span>
      <span data-testid="stored">{stored ? "stored" : "storing"}</span>
      <span data-testid="peers">{peers.map((peer) => peer.name).join(", ") || "nobody"}</span>
      <button
        type="button"
        onClick={() => {
          const body = notes.doc.getText("body");
          body.insert(body.length, `${name} was here. `);
        }}
      >
        sign
      </button>
    </section>
  );
}

describe("hooks over a real server", () => {
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

  /** One "app": its own client, as two browser tabs would have. */
  const app = (name: string) => {
    const client = pool.create(server.url);
    const view = render(
      <TandemProvider client={client}>
        <Notes name={name} />
      </TandemProvider>,
    );
    // Queries scoped to this app's container: both apps are in the same document.body.
    return { ...within(view.container), rerender: view.rerender, unmount: view.unmount, client };
  };

  it("two apps edit one text through useYText, converge, and both render it", async () => {
    const ada = app("Ada");
    const grace = app("Grace");
    for (const view of [ada, grace]) {
      await eventually(() => expect(view.getByTestId("status").textContent).toBe("connected"));
      await eventually(() => expect(view.getByTestId("synced").textContent).toBe("synced"));
    }

    fireEvent.click(ada.getByRole("button"));
    fireEvent.click(grace.getByRole("button"));

    const both = "Ada was here. Grace was here. ".length;
    await eventually(() => {
      const text = ada.getByTestId("text").textContent ?? "";
      expect(text).toHaveLength(both);
      expect(grace.getByTestId("text").textContent).toBe(text);
    });
    const text = ada.getByTestId("text").textContent;
    expect(text).toContain("Ada was here. ");
    expect(text).toContain("Grace was here. ");
  });

  it("useStored turns false on an edit and true once the server has it on disk", async () => {
    const ada = app("Ada");
    await eventually(() => expect(ada.getByTestId("synced").textContent).toBe("synced"));
    expect(ada.getByTestId("stored").textContent).toBe("stored");

    fireEvent.click(ada.getByRole("button"));
    // The acknowledgement needs a round trip, which cannot have happened within the click.
    expect(ada.getByTestId("stored").textContent).toBe("storing");
    await eventually(() => expect(ada.getByTestId("stored").textContent).toBe("stored"));

    const onDisk = new Y.Doc();
    Y.applyUpdate(onDisk, (await server.store.read("notes")) as Uint8Array);
    expect(onDisk.getText("body").toString()).toBe("Ada was here. ");
  });

  it("usePeers shows the other user, a new name, and nobody once they leave", async () => {
    const ada = app("Ada");
    const grace = app("Grace");
    await eventually(() => expect(ada.getByTestId("peers").textContent).toBe("Grace"));
    await eventually(() => expect(grace.getByTestId("peers").textContent).toBe("Ada"));

    // A new user in the options reaches the other side (useDocument calls setUser).
    grace.rerender(
      <TandemProvider client={grace.client}>
        <Notes name="Grace Hopper" id="grace" />
      </TandemProvider>,
    );
    await eventually(() => expect(ada.getByTestId("peers").textContent).toBe("Grace Hopper"));

    grace.unmount();
    await eventually(() => expect(ada.getByTestId("peers").textContent).toBe("nobody"));
  });
});
