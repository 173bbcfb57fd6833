import { fileURLToPath } from "node:url";
import { startTestServer, type TestServer, waitFor } from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { runScript, type Script } from "./spawn.ts";

const NOTES = fileURLToPath(new URL("../examples/notes.ts", import.meta.url));

describe("examples run as written", () => {
  let server: TestServer | undefined;
  const scripts: Script[] = [];

  afterEach(async () => {
    for (const script of scripts.splice(0)) script.kill();
    await server?.dispose();
  });

  it("examples/notes.ts: two people share the notepad and leave with Ctrl+C", async () => {
    server = await startTestServer();
    const ada = runScript(NOTES, ["Ada", server.url]);
    scripts.push(ada);
    await ada.waitForLine("saved on the server", 40_000);
    const grace = runScript(NOTES, ["Grace", server.url]);
    scripts.push(grace);
    await grace.waitForLine("saved on the server", 40_000);

    const both = "text: Ada was here. Grace was here. ";
    await ada.waitForLine(both);
    await ada.waitForLine("also here: Grace");
    await grace.waitForLine("also here: Ada");
    await grace.waitForLine(both);

    grace.child.kill("SIGINT");
    await waitFor("grace to exit", () => grace.exited());
    await ada.waitForLine("also here: nobody");
    ada.child.kill("SIGINT");
    await waitFor("ada to exit", () => ada.exited());
    // The signal too: a script that dies of one (code null) says which, and its stderr.
    const ends = [ada, grace].map((s) => ({ ...s.exited(), at: undefined, stderr: s.stderr() }));
    expect(ends).toEqual([
      { code: 0, signal: null, at: undefined, stderr: "" },
      { code: 0, signal: null, at: undefined, stderr: "" },
    ]);
    expect(ada.stderr() + grace.stderr()).toBe("");
  });
});
