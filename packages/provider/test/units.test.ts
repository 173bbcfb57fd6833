import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Backoff } from "../src/backoff.ts";
import { colorFor, createClient, TandemError } from "../src/index.ts";
import { peersFrom } from "../src/presence.ts";
import { TokenPacer, TokenSource } from "../src/token.ts";

const url = "ws://127.0.0.1:1";

describe("createClient() options", () => {
  const invalid = (options: unknown): string => {
    try {
      // biome-ignore lint/suspicious/noExplicitAny: deliberately passing what TypeScript forbids
      createClient(options as any);
    } catch (error) {
      expect(error).toBeInstanceOf(TandemError);
      expect((error as TandemError).code).toBe("invalid-option");
      return (error as Error).message;
    }
    throw new Error("expected createClient to throw");
  };

  it("names the option and what it accepts", () => {
    expect(invalid({ url: "http://example.com", WebSocketPolyfill: WebSocket })).toBe(
      'invalid url: "http://example.com" (accepted: a ws:// or wss:// URL, or a non-empty array of them)',
    );
    expect(invalid({ url, WebSocketPolyfill: WebSocket, token: 42 })).toBe(
      "invalid token: 42 (accepted: a string, or a function returning a string or a promise of one)",
    );
    expect(invalid({ url, WebSocketPolyfill: WebSocket, offline: "no" })).toBe(
      'invalid offline: "no" (accepted: true or false)',
    );
    expect(
      invalid({
        url,
        WebSocketPolyfill: WebSocket,
        reconnect: { minDelayMs: 1000, maxDelayMs: 10 },
      }),
    ).toBe(
      "invalid reconnect.maxDelayMs: 10 (accepted: an integer no smaller than reconnect.minDelayMs (1000))",
    );
    expect(
      invalid({ url, WebSocketPolyfill: WebSocket, reconnect: { silenceTimeoutMs: 100 } }),
    ).toBe("invalid reconnect.silenceTimeoutMs: 100 (accepted: an integer from 300 to 600000)");
    expect(invalid({ url, WebSocketPolyfill: WebSocket, presence: { typingTimeoutMs: -1 } })).toBe(
      "invalid presence.typingTimeoutMs: -1 (accepted: an integer from 1 to 600000)",
    );
    expect(invalid({ url, WebSocketPolyfill: WebSocket, reconect: {} })).toBe(
      'unknown createClient option "reconect" (accepted: url, token, offline, WebSocketPolyfill, reconnect, presence)',
    );
  });

  it("asks for a WebSocket implementation where there is none", () => {
    expect(typeof (globalThis as { WebSocket?: unknown }).WebSocket).toBe("undefined");
    expect(invalid({ url })).toMatch(/option "WebSocketPolyfill" is required here/);
  });

  it("has no offline cache in Node.js unless IndexedDB exists", async () => {
    expect(typeof (globalThis as { indexedDB?: unknown }).indexedDB).toBe("undefined");
    const client = createClient({ url, WebSocketPolyfill: WebSocket });
    expect(client.offline).toBe(false);
    await client.close();
  });

  it("checks document names and open() options", async () => {
    const client = createClient({ url, WebSocketPolyfill: WebSocket });
    expect(() => client.open("")).toThrow(
      'invalid document name: "" (accepted: a non-empty string without NUL characters)',
    );
    expect(() => client.open("doc", { user: { id: "u" } as never })).toThrow(
      "invalid user.name: undefined (accepted: a non-empty string)",
    );
    await client.close();
    expect(() => client.open("doc")).toThrow(/this client is closed/);
  });
});

describe("Backoff", () => {
  it("grows exponentially up to the cap, with half of each delay random", () => {
    const low = new Backoff({ minDelayMs: 100, maxDelayMs: 1000, factor: 2 }, () => 0);
    expect([1, 2, 3, 4, 5, 6].map(() => low.next())).toEqual([50, 100, 200, 400, 500, 500]);
    const high = new Backoff({ minDelayMs: 100, maxDelayMs: 1000, factor: 2 }, () => 1);
    expect([1, 2, 3, 4, 5, 6].map(() => high.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    high.reset();
    expect(high.next()).toBe(100);
  });
});

describe("TokenPacer", () => {
  it("lets spaced calls through, and spaces out calls that come too soon, more and more", () => {
    let now = 0;
    const pacer = new TokenPacer({ minDelayMs: 500, factor: 2, maxDelayMs: 2_000 }, () => now);
    expect(pacer.next()).toBe(0);
    now = 1;
    expect(pacer.next()).toBe(499); // the call happens at 500
    now = 501;
    expect(pacer.next()).toBe(999); // spacing 1000: at 1500
    now = 1501;
    expect(pacer.next()).toBe(1999); // spacing 2000: at 3500
    now = 3501;
    expect(pacer.next()).toBe(1999); // capped at 2000
    // A refresh minutes later goes ahead at once, and the spacing starts over.
    now = 300_000;
    expect(pacer.next()).toBe(0);
    now = 300_100;
    expect(pacer.next()).toBe(400);
  });
});

describe("colorFor()", () => {
  it("gives every user id a stable #rrggbb colour", () => {
    expect(colorFor("alice")).toMatch(/^#[0-9a-f]{6}$/);
    expect(colorFor("alice")).toBe(colorFor("alice"));
    const colours = new Set(["u1", "u2", "u3", "u4", "u5", "u6"].map(colorFor));
    expect(colours.size).toBeGreaterThan(3);
  });
});

describe("peersFrom()", () => {
  const state = (id: string, name: string, lastActive: number, extra = {}) => ({
    user: { id, name, color: "#123456" },
    cursor: null,
    typing: false,
    lastActive,
    ...extra,
  });

  it("keeps one entry per user, the most recently active tab, and skips what is not a user", () => {
    const states = new Map<number, unknown>([
      [1, state("me", "Me", 5)],
      [2, state("me", "Me", 9)], // my other tab
      [3, state("bob", "Bob", 1)],
      [4, state("bob", "Bob", 7, { typing: true })],
      [5, state("ann", "Ann", 3)],
      [6, {}], // another tool on the same document
      [7, { user: { id: 42, name: "Broken" } }],
      [8, { user: { id: "zed", name: "Zed" } }], // no colour, no activity
    ]);
    const peers = peersFrom(states, 1, "me");
    expect(peers.map((p) => [p.id, p.clientId])).toEqual([
      ["ann", 5],
      ["bob", 4],
      ["zed", 8],
    ]);
    expect(peers[1]?.typing).toBe(true);
    expect(peers[2]).toMatchObject({ color: colorFor("zed"), lastActive: 0, typing: false });
  });
});

describe("TokenSource", () => {
  it("shares one call between requests that overlap, and calls again afterwards", async () => {
    let calls = 0;
    const source = new TokenSource(async () => `t${++calls}`);
    expect(await Promise.all([source.get(), source.get()])).toEqual(["t1", "t1"]);
    expect(await source.get()).toBe("t2");
  });

  it("reports a token function that returns something else than a string", async () => {
    const source = new TokenSource((() => undefined) as unknown as () => string);
    await expect(source.get()).rejects.toThrow(
      "the token function must return a string (or a promise of one), not undefined",
    );
  });
});
