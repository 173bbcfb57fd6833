import type { WebSocket } from "ws";

/**
 * Finds sockets whose peer is gone without a word: a client whose network died, a laptop that
 * went to sleep, a NAT that forgot the flow. TCP tells nobody in those cases (a half-open socket),
 * and the server would keep its connection, its presence and its descriptor forever.
 *
 * Every message from a socket counts as a sign of life; a socket that has been quiet for a
 * while is sent a WebSocket ping, which every WebSocket implementation (browsers, `ws`) answers
 * with a pong by itself, whatever the application does. A socket that sent neither a message
 * nor a pong for `timeoutMs` is reported to `onSilent` once, and no longer watched.
 *
 * Sweeps run every timeoutMs / 4, so a dead socket is found between timeoutMs and 1.25 ×
 * timeoutMs after it last spoke. When the server itself was stalled (a sweep ran late, its event
 * loop busy), the stall is not held against the sockets: their answers may be unread in the
 * kernel, so they get a fresh ping instead. Nor is a pause: a socket the server stopped reading
 * (it is behind on the socket's updates) counts as heard until it reads again.
 */
export class SocketLiveness {
  private readonly lastHeard = new Map<WebSocket, { at: number; onSilent: (ms: number) => void }>();
  private readonly interval: number;
  private readonly timer: NodeJS.Timeout;
  private lastSweep = Date.now();

  constructor(private readonly timeoutMs: number) {
    this.interval = Math.max(25, Math.floor(timeoutMs / 4));
    this.timer = setInterval(() => this.sweep(), this.interval);
    this.timer.unref();
  }

  /** Starts watching a socket; it is forgotten when it closes. */
  watch(ws: WebSocket, onSilent: (silentMs: number) => void): void {
    this.lastHeard.set(ws, { at: Date.now(), onSilent });
    ws.on("pong", () => this.heard(ws));
    ws.once("close", () => this.lastHeard.delete(ws));
  }

  /** The socket sent something. */
  heard(ws: WebSocket): void {
    const entry = this.lastHeard.get(ws);
    if (entry) entry.at = Date.now();
  }

  /** Sockets being watched. */
  get size(): number {
    return this.lastHeard.size;
  }

  stop(): void {
    clearInterval(this.timer);
    this.lastHeard.clear();
  }

  private sweep(): void {
    const now = Date.now();
    const late = now - this.lastSweep > 2 * this.interval;
    this.lastSweep = now;
    for (const [ws, entry] of this.lastHeard) {
      // The server stopped reading it (inbound-window.ts): its messages and pongs wait unread.
      if (ws.isPaused) entry.at = now;
      if (late) entry.at = Math.max(entry.at, now - this.interval);
      const silentMs = now - entry.at;
      if (silentMs > this.timeoutMs) {
        this.lastHeard.delete(ws);
        entry.onSilent(silentMs);
      } else if (silentMs >= this.interval && ws.readyState === ws.OPEN) {
        ws.ping();
      }
    }
  }
}
