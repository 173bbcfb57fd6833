// @vitest-environment jsdom
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { TandemServer } from "@tandem/server";
import { cleanup, fireEvent, render, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { App } from "../examples/notes.tsx";
import { clientOptions, eventually, startRealServer } from "./helpers.ts";

describe("the README's React example runs as written", () => {
  let server: TandemServer & { dispose(): Promise<void> };

  beforeEach(async () => {
    server = await startRealServer();
  });

  afterEach(async () => {
    cleanup();
    // The example's clients belong to its TandemProvider: unmounting closed them.
    await eventually(() => expect(server.hocuspocus.getConnectionsCount()).toBe(0));
    await server.dispose();
  });

  it("examples/notes.tsx: two people type in the notepad, see each other, and get it saved", async () => {
    // What a browser app passes is { url }; Node.js needs the ws package's WebSocket as well.
    const app = (id: string, name: string) =>
      within(render(<App server={clientOptions(server.url)} user={{ id, name }} />).container);
    const ada = app("ada", "Ada");
    const grace = app("grace", "Grace");
    await eventually(() => expect(ada.getByText("connected, saved")).toBeTruthy());
    await eventually(() => expect(ada.getByText("Also here: Grace")).toBeTruthy());
    await eventually(() => expect(grace.getByText("Also here: Ada")).toBeTruthy());

    const adaNotes = ada.getByLabelText("Notes") as HTMLTextAreaElement;
    const graceNotes = grace.getByLabelText("Notes") as HTMLTextAreaElement;
    fireEvent.change(adaNotes, { target: { value: "Ada was here." } });
    expect(ada.getByText("connected, saving…")).toBeTruthy();
    await eventually(() => expect(graceNotes.value).toBe("Ada was here."));

    // Grace edits in the middle: only that part changes, and Ada sees it.
    fireEvent.change(graceNotes, { target: { value: "Ada and Grace were here." } });
    await eventually(() => expect(adaNotes.value).toBe("Ada and Grace were here."));
    await eventually(() => expect(ada.getByText("connected, saved")).toBeTruthy());
    await eventually(() => expect(grace.getByText("connected, saved")).toBeTruthy());
  });
});

describe("the README", () => {
  it("shows examples/notes.tsx in its ### React section exactly as the file is", () => {
    // From this file's own path: in a DOM environment Vite rewrites `new URL(path,
    // import.meta.url)` into an http:// URL, but leaves import.meta.url itself alone.
    const here = dirname(fileURLToPath(import.meta.url));
    const read = (path: string) => readFileSync(resolve(here, path), "utf8");
    const readme = read("../../../README.md");
    const section = readme.slice(readme.indexOf("### React"), readme.indexOf("## Configuration"));
    const block = /```tsx\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBe(read("../examples/notes.tsx"));
  });
});
