import { performance } from "node:perf_hooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { accessFor, globMatches } from "../src/auth/permissions.ts";
import { MAX_TIMEOUT_MS, setLongTimeout } from "../src/long-timeout.ts";
import { documentNameProblem, frameAddressProblem } from "../src/protocol/document-name.ts";
import { isOwnOrigin } from "../src/websocket-gateway.ts";

describe("glob matching", () => {
  it.each([
    ["team-a/*", "team-a/plan", true],
    ["team-a/*", "team-a/deep/plan", false],
    ["team-a/**", "team-a/deep/plan", true],
    ["team-a/**", "team-a/", true],
    ["team-a/**", "team-b/x", false],
    ["*", "plan", true],
    ["*", "a/b", false],
    ["**", "a/b/c", true],
    ["*-*", "a-b", true],
    ["*-*", "-", true],
    ["*-*", "a/-b", false],
    ["a/**/z", "a/b/c/z", true],
    ["a/**/z", "a/z", false],
    ["a/*/*.md", "a/b/c.md", true],
    ["a/*/*.md", "a/b/c/d.md", false],
    ["***", "x/y", true],
    ["a.b", "aXb", false],
    ["(x)+*", "(x)+y", true],
  ])("%s against %s: %s", (pattern, name, expected) => {
    expect(globMatches(pattern, name)).toBe(expected);
  });

  it("the strongest matching entry wins", () => {
    expect(accessFor({ "a/*": "read", "a/**": "write" }, "a/b")).toBe("write");
    expect(accessFor({ "a/*": "read" }, "a/b")).toBe("read");
    expect(accessFor({ "b/*": "write" }, "a/b")).toBeNull();
  });

  it("takes linear time on the names that made a backtracking regex quadratic", () => {
    // "*-*" against dashes that end in a second segment: every split of the first "*" fails.
    const timeOf = (length: number) => {
      const name = `${"-".repeat(length)}/x`;
      let best = Number.POSITIVE_INFINITY;
      for (let run = 0; run < 3; run++) {
        const start = performance.now();
        for (let i = 0; i < 5; i++) globMatches("*-*", name);
        best = Math.min(best, (performance.now() - start) / 5);
      }
      return best;
    };
    timeOf(1000); // warm up the JIT
    const short = timeOf(40_000);
    const long = timeOf(160_000);
    // The regex took 1.3 s for the short one alone, and 16× that for 4× the input.
    console.log(
      `glob *-*: 40 KB name ${short.toFixed(2)} ms, 160 KB ${long.toFixed(2)} ms, ratio ${(long / short).toFixed(2)}`,
    );
    expect(short).toBeLessThan(50);
    // Linear is 4; the quadratic regex was 16. A loaded machine stretched a linear run to 8.1.
    expect(long / short).toBeLessThan(11);
  });
});

describe("setLongTimeout", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("waits past setTimeout's limit instead of firing at once", () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    setLongTimeout(fired, 30 * 86_400_000);
    vi.advanceTimersByTime(1);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(MAX_TIMEOUT_MS);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(30 * 86_400_000 - MAX_TIMEOUT_MS - 2);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it("can be cleared, also after it re-armed", () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    const timer = setLongTimeout(fired, MAX_TIMEOUT_MS * 2);
    vi.advanceTimersByTime(MAX_TIMEOUT_MS + 10);
    timer.clear();
    vi.advanceTimersByTime(MAX_TIMEOUT_MS * 2);
    expect(fired).not.toHaveBeenCalled();
  });
});

describe("document names", () => {
  it.each([
    ["plain", "team-a/notes", null],
    ["unicode", "Café ☕ / 日本語", null],
    ["emoji with joiners", "👩‍👩‍👧", null],
    ["empty", "", "empty document name"],
    ["at the limit", "x".repeat(256), null],
    ["one byte over", "x".repeat(257), "document name longer than 256 bytes"],
    ["multibyte over", "é".repeat(129), "document name longer than 256 bytes"],
    ["newline", "a\nb", "document name contains control characters"],
    ["escape", "a\u001b[2J", "document name contains control characters"],
    ["DEL", "a\u007f", "document name contains control characters"],
    ["line separator", "a\u2028b", "document name contains control characters"],
    ["bidi isolate", "a\u2066b", "document name contains control characters"],
    ["lone surrogate", "a\ud800b", "document name contains control characters"],
  ])("%s", (_what, name, problem) => {
    expect(documentNameProblem(name, 256)).toBe(problem);
  });

  it("checks a frame's address from its bytes, with or without a session id", () => {
    const frame = (address: Uint8Array) => new Uint8Array([address.length, ...address, 2, 0, 0]);
    const utf8 = (text: string) => new TextEncoder().encode(text);
    expect(frameAddressProblem(frame(utf8("doc")), 256)).toBeNull();
    expect(frameAddressProblem(frame(utf8("doc\0session-1")), 256)).toBeNull();
    expect(frameAddressProblem(frame(utf8("doc\0ses\nsion")), 256)).toContain("session id");
    expect(frameAddressProblem(frame(new Uint8Array([0x64, 0xc3])), 256)).toBe(
      "document name is not valid UTF-8",
    );
    // A length past the limit is refused without reading the name.
    expect(frameAddressProblem(new Uint8Array([0xff, 0xff, 0x03]), 256)).toBe(
      "document name longer than 256 bytes",
    );
  });
});

describe("own origin under --auth none", () => {
  it.each([
    ["http://127.0.0.1:1234", "127.0.0.1:1234", true],
    ["http://localhost:1234", "127.0.0.1:1234", true],
    ["http://[::1]:1234", "[::1]:1234", true],
    ["http://192.168.1.5:1234", "192.168.1.5:1234", true],
    ["https://127.0.0.1", "127.0.0.1:1234", false],
    ["http://localhost:5173", "127.0.0.1:1234", false],
    ["http://192.168.1.5:1234", "192.168.1.6:1234", false],
    ["http://tandem.local:1234", "tandem.local:1234", false],
    ["https://evil.example", "127.0.0.1:1234", false],
    ["null", "127.0.0.1:1234", false],
    ["file://", "127.0.0.1:1234", false],
  ])("%s with Host %s: %s", (origin, host, expected) => {
    expect(isOwnOrigin(origin, host, 1234)).toBe(expected);
  });
});
