import { fileURLToPath } from "node:url";
import { startTestServer, type TestServer, waitFor } from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { runScript, type Script } from "./spawn.ts";

const SCRIPT = fileURLToPath(new URL("./fixtures/close-and-exit.ts", import.meta.url));

/** Leaked timers in the script are 30 s or more away; a clean exit takes milliseconds. */
const EXIT_WITHIN_MS = 15_000;

describe("client.close()", () => {
  const servers: TestServer[] = [];
  const scripts: Script[] = [];

  afterEach(async () => {
    for (const script of scripts.splice(0)) script.kill();
    for (const server of servers.splice(0)) await server.dispose();
  });

  it("leaves nothing behind: a Node.js process using the SDK exits by itself", async () => {
    const server = await startTestServer();
    const doomed = await startTestServer();
    servers.push(server, doomed);

    const script = runScript(SCRIPT, [server.url, doomed.url]);
    scripts.push(script);
    await script.waitForLine("ready to lose the server", 40_000);
    await doomed.stop();
    await script.waitForLine("closed while waiting to retry");
    await waitFor("the process to exit by itself", () => script.exited(), {
      timeoutMs: EXIT_WITHIN_MS,
    });

    expect(script.stderr()).toBe("");
    expect(script.lines).toEqual([
      "closed online",
      "closed while connecting",
      "ready to lose the server",
      "closed while waiting to retry",
    ]);
    expect(script.exited()?.code).toBe(0);
    expect((script.exited()?.at ?? 0) - script.lastLineAt()).toBeLessThan(EXIT_WITHIN_MS);
  });
});
