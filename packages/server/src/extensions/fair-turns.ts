import type { Extension } from "@hocuspocus/server";

/** How long handling messages may hold the event loop before it lets I/O in. */
export const MAX_TURN_MS = 5;

/**
 * Hocuspocus handles a connection's queued messages one after another in a chain of promises,
 * which never returns to the event loop: a client that sent 64 updates of a large document held
 * it until all 64 were applied (stalls scenario: round trips of 60-90 ms while a 10 MB document
 * is written), and every other socket waited, unread. Before each message, once messages have
 * held the event loop for MAX_TURN_MS, this hook waits for setImmediate, which runs after the
 * loop has polled for I/O: other sockets' messages are read and handled in between. A
 * connection's own messages keep their order (Hocuspocus awaits this hook before the next one).
 *
 * A turn starts with the first message handled after the event loop came round (a setImmediate
 * scheduled then marks its end).
 */
export class FairTurns implements Extension {
  extensionName = "tandem-fair-turns";
  // First among the beforeHandleMessage hooks: a message that waits has not been looked at.
  priority = 10_000;
  private turnStartedAt = 0;
  private inTurn = false;

  async beforeHandleMessage(): Promise<void> {
    const now = performance.now();
    if (!this.inTurn) {
      this.inTurn = true;
      this.turnStartedAt = now;
      setImmediate(() => {
        this.inTurn = false;
      });
      return;
    }
    if (now - this.turnStartedAt < MAX_TURN_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
