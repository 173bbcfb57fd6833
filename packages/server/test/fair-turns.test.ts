import { describe, expect, it } from "vitest";
import { FairTurns, MAX_TURN_MS } from "../src/extensions/fair-turns.ts";

/** Holds the event loop, as applying updates of a large document does. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

describe("FairTurns", () => {
  it("lets the event loop come round before the next message once messages held it too long", async () => {
    const fair = new FairTurns();
    let pollRan = false;
    // Scheduled now, it runs once the event loop comes round, as reading other sockets does.
    setImmediate(() => {
      pollRan = true;
    });
    // The first message of a turn never waits.
    await fair.beforeHandleMessage();
    expect(pollRan).toBe(false);
    busy(MAX_TURN_MS + 1);
    // Past the turn's time, the next message waits for the loop to come round.
    await fair.beforeHandleMessage();
    expect(pollRan).toBe(true);
    // And starts a new turn: the message after it does not wait.
    let again = false;
    setImmediate(() => {
      again = true;
    });
    await fair.beforeHandleMessage();
    expect(again).toBe(false);
  });
});
