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
 */

const UPDATE = 0;
const QUERY = 1;

export class PresenceRelay {
  private readonly channels = new Map<string, Set<PresenceHandlers>>();
  private readonly subscribed = new Map<string, Promise<unknown>>();

  constructor(
    /** A connection of its own: a subscribed connection can do nothing else. */
    private readonly subscriber: Redis,
    private readonly publisher: Redis,
    private readonly channelOf: (name: string) => string,
    private readonly instanceId: string,
  ) {
    subscriber.on("messageBuffer", (channel: Buffer, message: Buffer) => {
      this.receive(channel.toString(), message);
    });
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
          this.subscribed.delete(channel);
          this.subscriber.unsubscribe(channel).catch(() => {});
        }
      },
    };
  }

  close(): void {
    this.channels.clear();
    this.subscriber.disconnect();
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
    for (const handler of handlers) {
      if (kind === UPDATE) handler.update(payload);
      else if (kind === QUERY) handler.query();
    }
  }
}
