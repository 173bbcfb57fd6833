import type { Redis } from "ioredis";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import type { PresenceChannel, PresenceHandlers } from "../document-store.ts";

/**
 * Presence over Redis pub/sub: one channel per document, `<prefix>presence:<name>`, to which
 * every instance with the document open subscribes. Pub/sub is at-most-once, which suits
 * awareness: states are renewed every 15 s and expire after 30 s.
 *
 * Message (lib0): varString instance id, varUint kind (0 update, 1 query), varUint8Array
 * payload (the awareness update; empty for a query). An instance skips its own messages.
 *
 * A killed instance says nothing, and its users would linger on the others until their states
 * time out (30 s). So every instance keeps a heartbeat key, `<prefix>instance:<id>`, set with a
 * TTL of HEARTBEAT_TTL_MS and renewed every HEARTBEAT_MS; and every instance remembers, per
 * document, which instance relayed each awareness client it holds (from the messages: no extra
 * Redis traffic per change). Every CHECK_MS it asks Redis whether those instances' keys still
 * exist; the clients of one whose key is gone are reported to `gone`, which removes their
 * states. Worst case from a SIGKILL: TTL + one check, about 6 s.
 *
 * A missing key is judged only once this instance has been connected to Redis for a full TTL:
 * after Redis itself restarted (or this instance lost it), live instances need a renewal to
 * bring their keys back. A wrong verdict costs little: the users' next renewal (15 s) brings
 * them back. A gracefully stopping instance deletes its key; its clients' removals are relayed
 * as they leave anyway.
 */

const UPDATE = 0;
const QUERY = 1;

export const HEARTBEAT_MS = 1500;
export const HEARTBEAT_TTL_MS = 5000;
const CHECK_MS = 1000;

export class PresenceRelay {
  private readonly channels = new Map<string, Set<PresenceHandlers>>();
  private readonly subscribed = new Map<string, Promise<unknown>>();
  /** Per channel: the instance that relayed each awareness client this instance holds. */
  private readonly owners = new Map<string, Map<number, string>>();
  private readonly timers: NodeJS.Timeout[];
  /** Since when the publisher connection is up (performance.now()); null while it is down. */
  private connectedSince: number | null = performance.now();
  private checking = false;

  constructor(
    /** A connection of its own: a subscribed connection can do nothing else. */
    private readonly subscriber: Redis,
    private readonly publisher: Redis,
    private readonly channelOf: (name: string) => string,
    private readonly instanceId: string,
    private readonly heartbeatKey: (instanceId: string) => string,
  ) {
    subscriber.on("messageBuffer", (channel: Buffer, message: Buffer) => {
      this.receive(channel.toString(), message);
    });
    publisher.on("ready", () => {
      this.connectedSince = performance.now();
      this.beat();
    });
    publisher.on("close", () => {
      this.connectedSince = null;
    });
    this.beat();
    this.timers = [
      setInterval(() => this.beat(), HEARTBEAT_MS),
      setInterval(() => void this.checkOwners(), CHECK_MS),
    ];
    for (const timer of this.timers) timer.unref();
  }

  private beat(): void {
    this.publisher
      .set(this.heartbeatKey(this.instanceId), "1", "PX", HEARTBEAT_TTL_MS)
      .catch(() => {}); // Redis away: the others judge nobody meanwhile (see above)
  }

  /** Reports the clients of every instance whose heartbeat key has expired. */
  private async checkOwners(): Promise<void> {
    const since = this.connectedSince;
    if (this.checking || since === null || performance.now() - since < HEARTBEAT_TTL_MS) return;
    const instances = new Set<string>();
    for (const owners of this.owners.values()) for (const id of owners.values()) instances.add(id);
    if (instances.size === 0) return;
    this.checking = true;
    try {
      const ids = [...instances];
      const pipeline = this.publisher.pipeline();
      for (const id of ids) pipeline.exists(this.heartbeatKey(id));
      const replies = (await pipeline.exec()) ?? [];
      if (this.connectedSince !== since) return; // Redis went away meanwhile: judge nothing
      const dead = new Set(
        ids.filter((_, i) => {
          const [error, exists] = replies[i] ?? [new Error("no reply"), 1];
          return error === null && Number(exists) === 0;
        }),
      );
      if (dead.size === 0) return;
      for (const [channel, owners] of this.owners) {
        const clients = [...owners].filter(([, id]) => dead.has(id)).map(([client]) => client);
        if (clients.length === 0) continue;
        for (const client of clients) owners.delete(client);
        for (const handler of this.channels.get(channel) ?? []) handler.gone?.(clients);
      }
    } catch {
      // Redis away: try again at the next check.
    } finally {
      this.checking = false;
    }
  }

  open(name: string, handlers: PresenceHandlers): PresenceChannel {
    const channel = this.channelOf(name);
    let set = this.channels.get(channel);
    if (!set) {
      set = new Set();
      this.channels.set(channel, set);
      this.subscribed.set(
        channel,
        this.subscriber.subscribe(channel).catch(() => {}),
      );
    }
    set.add(handlers);
    let closed = false;
    return {
      publish: (update) => {
        if (!closed) this.send(channel, UPDATE, update);
      },
      query: () => {
        // Answers go to the channel: ask only once subscribed to it.
        void this.subscribed.get(channel)?.then(() => {
          if (!closed) this.send(channel, QUERY, new Uint8Array());
        });
      },
      close: () => {
        if (closed) return;
        closed = true;
        const current = this.channels.get(channel);
        current?.delete(handlers);
        if (current?.size === 0) {
          this.channels.delete(channel);
          this.owners.delete(channel);
          this.subscribed.delete(channel);
          this.subscriber.unsubscribe(channel).catch(() => {});
        }
      },
    };
  }

  close(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.channels.clear();
    this.owners.clear();
    this.subscriber.disconnect();
    // Leaving for good: the others need not wait for the key to expire.
    this.publisher.del(this.heartbeatKey(this.instanceId)).catch(() => {});
  }

  private send(channel: string, kind: number, payload: Uint8Array): void {
    const encoder = encoding.createEncoder();
    encoding.writeVarString(encoder, this.instanceId);
    encoding.writeVarUint(encoder, kind);
    encoding.writeVarUint8Array(encoder, payload);
    const bytes = encoding.toUint8Array(encoder);
    this.publisher
      .publish(channel, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
      .catch(() => {}); // presence may be lost; the next renewal carries it
  }

  private receive(channel: string, message: Buffer): void {
    const handlers = this.channels.get(channel);
    if (!handlers) return;
    let origin: string;
    let kind: number;
    let payload: Uint8Array;
    try {
      const decoder = decoding.createDecoder(new Uint8Array(message));
      origin = decoding.readVarString(decoder);
      kind = decoding.readVarUint(decoder);
      payload = decoding.readVarUint8Array(decoder);
    } catch {
      return; // not ours
    }
    if (origin === this.instanceId) return;
    if (kind === UPDATE) this.noteOwners(channel, origin, payload);
    for (const handler of handlers) {
      if (kind === UPDATE) handler.update(payload);
      else if (kind === QUERY) handler.query();
    }
  }

  /** Remembers which instance relayed each client of an awareness update (y-protocols format). */
  private noteOwners(channel: string, origin: string, update: Uint8Array): void {
    let owners = this.owners.get(channel);
    if (!owners) {
      owners = new Map();
      this.owners.set(channel, owners);
    }
    try {
      const decoder = decoding.createDecoder(update);
      const count = decoding.readVarUint(decoder);
      for (let i = 0; i < count; i++) {
        const client = decoding.readVarUint(decoder);
        decoding.readVarUint(decoder); // clock
        const state = decoding.readVarString(decoder);
        if (state === "null") owners.delete(client);
        else owners.set(client, origin);
      }
    } catch {
      // Not an awareness update: the handlers ignore it too.
    }
  }
}
