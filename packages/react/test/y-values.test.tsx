// @vitest-environment jsdom
import type { TandemServer } from "@tandem/server";
import { cleanup, render } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { TandemProvider, useDocument, useYArray, useYMap, useYText } from "../src/index.ts";
import { clientPool, eventually, startRealServer } from "./helpers.ts";

interface Card {
  title: string;
  done?: boolean;
}

interface Seen {
  title: string;
  meta: Readonly<Record<string, string>>;
  cards: readonly Card[];
}

/** A board: a title (Y.Text), metadata (Y.Map) and cards (Y.Array of Y.Maps). */
function Board({ seen }: { seen: Seen[] }) {
  const board = useDocument("board");
  const title = useYText(board, "title");
  const meta = useYMap<string>(board, "meta");
  const cards = useYArray<Card>(board, "cards");
  seen.push({ title, meta, cards });
  const list = cards.map((card) => `${card.title}${card.done ? " (done)" : ""}`).join(", ");
  return <p data-testid="board">{`${title} | ${meta.owner ?? "-"} | ${list}`}</p>;
}

describe("useYText, useYMap and useYArray", () => {
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

  it("render what another client writes, nested changes included, with stable snapshots", async () => {
    const seen: Seen[] = [];
    const view = render(
      <TandemProvider client={pool.create(server.url)}>
        <Board seen={seen} />
      </TandemProvider>,
    );
    const shown = () => view.getByTestId("board").textContent;
    expect(shown()).toBe(" | - | ");

    // The other side is a plain SDK client, as a Node.js service would be.
    const writer = pool.create(server.url).open("board");
    await writer.whenSynced();
    writer.doc.getText("title").insert(0, "Sprint");
    writer.doc.getMap("meta").set("owner", "Ada");
    await eventually(() => expect(shown()).toBe("Sprint | Ada | "));

    const card = new Y.Map<unknown>();
    card.set("title", "Write tests");
    writer.doc.getArray("cards").push([card]);
    await eventually(() => expect(shown()).toBe("Sprint | Ada | Write tests"));

    // A change inside the nested map (observeDeep) is a new array snapshot.
    card.set("done", true);
    await eventually(() => expect(shown()).toBe("Sprint | Ada | Write tests (done)"));
    expect(seen.at(-1)?.cards).toEqual([{ title: "Write tests", done: true }]);

    // A change to the title alone re-renders with the very same map and array objects.
    const before = seen.at(-1) as Seen;
    const renders = seen.length;
    writer.doc.getText("title").insert(6, " 12");
    await eventually(() => expect(shown()).toBe("Sprint 12 | Ada | Write tests (done)"));
    const after = seen.at(-1) as Seen;
    expect(seen.length).toBeGreaterThan(renders);
    expect(after.meta).toBe(before.meta);
    expect(after.cards).toBe(before.cards);
    expect(after.title).not.toBe(before.title);
  });
});
