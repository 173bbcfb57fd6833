import { startTestServer, type TestServer, tempDir, waitFor } from "@tandem/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { clientPool } from "./helpers.ts";

/**
 * What the browser tells the SDK, simulated with the DOM's own EventTarget: `online` and
 * `offline` on window, `visibilitychange` on document, and navigator.onLine.
 */
const browser = {
  window: new EventTarget(),
  document: Object.assign(new EventTarget(), { visibilityState: "visible" }),
  navigator: { onLine: true },
};
const globals = globalThis as Record<string, unknown>;
const saved = { window: globals.window, document: globals.document, navigator: globals.navigator };

describe("browser signals", () => {
  const pool = clientPool();
  const servers: TestServer[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(() => {
    for (const key of ["window", "document", "navigator"] as const) {
      Object.defineProperty(globalThis, key, {
        value: browser[key],
        configurable: true,
        writable: true,
      });
    }
  });

  afterAll(() => {
    for (const key of ["window", "document", "navigator"] as const) {
      Object.defineProperty(globalThis, key, {
        value: saved[key],
        configurable: true,
        writable: true,
      });
    }
  });

  afterEach(async () => {
    browser.navigator.onLine = true;
    await pool.closeAll();
    for (const server of servers.splice(0)) await server.dispose();
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  /** A connected document whose server then goes away, with a retry a long way off. */
  async function droppedDocument() {
    const dir = await tempDir();
    cleanups.push(() => dir.remove());
    const server = await startTestServer({ data: dir.path });
    servers.push(server);
    const client = pool.create(server.url, {
      reconnect: { minDelayMs: 600_000, maxDelayMs: 600_000 },
    });
    const doc = client.open("signals");
    await doc.whenSynced();
    await server.stop();
    await waitFor("the client to notice", () => doc.status !== "connected");
    const restarted = await startTestServer({ port: server.port, data: dir.path });
    servers.push(restarted);
    return doc;
  }

  it("retries at once when the browser is back online", async () => {
    const doc = await droppedDocument();
    browser.window.dispatchEvent(new Event("online"));
    await doc.whenSynced();
    expect(doc.status).toBe("connected");
  });

  it("retries at once when the tab becomes visible again", async () => {
    const doc = await droppedDocument();
    browser.document.dispatchEvent(new Event("visibilitychange"));
    await doc.whenSynced();
    expect(doc.status).toBe("connected");
  });

  it("says offline as soon as the browser has no network", async () => {
    const doc = await droppedDocument();
    expect(doc.status).toBe("connecting");
    browser.navigator.onLine = false;
    browser.window.dispatchEvent(new Event("offline"));
    expect(doc.status).toBe("offline");
    browser.navigator.onLine = true;
    browser.window.dispatchEvent(new Event("online"));
    await doc.whenSynced();
  });
});
