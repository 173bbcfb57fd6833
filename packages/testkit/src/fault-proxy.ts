import { createConnection, createServer, type Server, type Socket } from "node:net";

/**
 * A network link between clients and a server, made bad on demand: a TCP proxy on 127.0.0.1
 * that forwards both ways to 127.0.0.1:`targetPort`, and can
 * - `delay(ms)`: hold every chunk that long in each direction (in order), like a slow link;
 * - `drop()`: reset every connection open through it (RST, as a NAT or router that lost its
 *   state); new connections go through;
 * - `blackhole()`: stop forwarding both ways without closing anything, as a cable pulled out or
 *   a laptop gone to sleep: nothing is read, so what either side sends stays in the kernel's
 *   buffers (TCP's own flow control), and neither side is told. New connections are accepted
 *   but go nowhere (their handshake hangs);
 * - `heal()`: forward again, with no delay; what was held during a blackhole flows on, as TCP
 *   retransmits it once the network is back, and an end or reset that happened meanwhile
 *   reaches the other side then.
 * One proxy is one link: put each client that should fail on its own behind its own proxy.
 */
export interface FaultProxy {
  /** ws://127.0.0.1:PORT of the proxy. */
  readonly url: string;
  readonly port: number;
  /** Connections currently open through the proxy. */
  readonly connections: number;
  /** Connections ever accepted (reconnects show up here). */
  readonly accepted: number;
  delay(ms: number): void;
  drop(): void;
  blackhole(): void;
  heal(): void;
  /** Resets every connection and stops listening. */
  close(): Promise<void>;
}

type Mode = "forward" | "blackhole";

/** One client connection and its upstream twin. */
interface Pair {
  client: Socket;
  upstream: Socket | null;
  /** Starts the upstream connection (held back while blackholed). */
  open(): void;
  pause(): void;
  resume(): void;
  reset(): void;
}

export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  let mode: Mode = "forward";
  let delayMs = 0;
  let accepted = 0;
  const pairs = new Set<Pair>();

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    accepted++;
    const pair = makePair(
      client,
      targetPort,
      () => delayMs,
      () => pairs.delete(pair),
    );
    pairs.add(pair);
    if (mode === "forward") pair.open();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  const port = address.port;

  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    get connections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    delay(ms) {
      delayMs = ms;
    },
    drop() {
      for (const pair of [...pairs]) pair.reset();
    },
    blackhole() {
      mode = "blackhole";
      for (const pair of pairs) pair.pause();
    },
    heal() {
      mode = "forward";
      delayMs = 0;
      for (const pair of [...pairs]) {
        if (pair.upstream === null) pair.open();
        else pair.resume();
      }
    },
    async close() {
      for (const pair of [...pairs]) pair.reset();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function makePair(
  client: Socket,
  targetPort: number,
  delayMs: () => number,
  forget: () => void,
): Pair {
  let closed = false;
  const pair: Pair = {
    client,
    upstream: null,
    open() {
      if (closed || pair.upstream) return;
      const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
      pair.upstream = upstream;
      upstream.setNoDelay(true);
      client.setNoDelay(true);
      forward(client, upstream, delayMs);
      forward(upstream, client, delayMs);
      // A reset on one side resets the other (what a router that loses the flow does).
      upstream.on("error", () => pair.reset());
      upstream.on("close", () => finish());
      client.resume();
    },
    pause() {
      client.pause();
      pair.upstream?.pause();
    },
    resume() {
      client.resume();
      pair.upstream?.resume();
    },
    reset() {
      if (closed) return;
      closed = true;
      forget();
      client.resetAndDestroy();
      pair.upstream?.resetAndDestroy();
    },
  };
  const finish = () => {
    // Both directions ended (each end was forwarded) or one side is gone: let go of the pair.
    if ((client.destroyed || client.readableEnded) && (pair.upstream?.destroyed ?? true)) {
      if (!closed) {
        closed = true;
        forget();
      }
    }
  };
  client.on("error", () => pair.reset());
  client.on("close", () => {
    if (pair.upstream === null) pair.reset();
    else finish();
  });
  return pair;
}

/**
 * Pipes `from` into `to`, each chunk (and the end) `delayMs()` later, in order. Writes ignore
 * back-pressure: test traffic is small, and a blackhole pauses reading instead.
 */
function forward(from: Socket, to: Socket, delayMs: () => number): void {
  let last = 0;
  const later = (action: () => void) => {
    const ms = delayMs();
    if (ms <= 0 && last <= Date.now()) {
      action();
      return;
    }
    // Never before the chunk ahead of it: a delay that shrinks must not reorder the stream.
    const due = Math.max(Date.now() + ms, last);
    last = due;
    setTimeout(action, due - Date.now());
  };
  from.on("data", (chunk: Buffer) =>
    later(() => {
      if (!to.destroyed) to.write(chunk);
    }),
  );
  from.on("end", () =>
    later(() => {
      if (!to.destroyed) to.end();
    }),
  );
}
