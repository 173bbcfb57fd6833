import { MessageType } from "@hocuspocus/server";
import { messageYjsSyncStep2, messageYjsUpdate } from "y-protocols/sync";
import { endsDocumentConnection, type FrameHead } from "../protocol/frame-head.ts";

/**
 * Bounds what a socket's updates cost the server before it has handled them. The server reads
 * a socket as fast as the network delivers, and Hocuspocus queues each document connection's
 * messages to handle them one at a time; when clients send faster than the server applies and
 * stores (writers at twice its capacity), those queues grew without bound (the overload
 * scenario's memory peak). Sending is not the problem, unanswered sending is: so once a
 * socket's updates that have not been answered yet (the SyncStatus every update and SyncStep2
 * gets, once durable) cost more than `maxBytes`, the server stops reading the socket, and
 * starts again once they are down to half. TCP then holds the client back: its edits wait in
 * its own send buffer (a provider keeps them as unsynced anyway), nothing is dropped, and
 * nobody is closed. Its other messages (presence, requests) wait with them; the answers the
 * server owes it and everyone else's updates still reach it.
 *
 * An update that alone costs more than the limit is read and handled as usual; the socket
 * pauses behind it. Only an answer ends what a message costs; an answer that will never come
 * (Hocuspocus closed the document connection, or refused its authentication, and discarded
 * its queue) ends the cost of everything queued for that address.
 *
 * Costs are per address (a document, with a session id when the client multiplexes), kept in
 * arrival order: Hocuspocus answers one address's updates in order (ack-gate.ts).
 */

/** What a queued message costs besides its bytes: the objects that hold it. */
export const MESSAGE_OVERHEAD_BYTES = 256;

/** The socket to hold back: ws's pause() and resume() stop and restart reading it. */
export interface Flow {
  pause(): void;
  resume(): void;
}

export interface InboundWindowEvents {
  /** The socket was paused with this many bytes unanswered. */
  paused?(bytes: number): void;
}

export class InboundWindow {
  /**
   * Per address, the cost of each unanswered update, oldest first. None on a socket that only
   * did its sync handshake (its SyncStep2 is answered at once), since an empty Map costs about
   * 220 bytes on every open socket and most sockets are idle; kept once a socket writes updates,
   * so a writer does not make a new one for each.
   */
  private unanswered: Map<string, number[]> | undefined;
  /** The socket sent an update (not only a SyncStep2): its map stays. */
  private writes = false;
  private bytes = 0;
  private isPaused = false;
  private stopped = false;

  constructor(
    private readonly maxBytes: number,
    private readonly flow: Flow,
    private readonly events: InboundWindowEvents = {},
  ) {}

  /** Unanswered bytes (with each message's overhead). */
  get unansweredBytes(): number {
    return this.bytes;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  /**
   * The server closes the socket: read it again, for good. ws waits for the client's close
   * frame, which a paused socket would leave unread until ws's 30 s close timer cut it.
   */
  stop(): void {
    this.stopped = true;
    if (this.isPaused) {
      this.isPaused = false;
      this.flow.resume();
    }
  }

  /** A frame the gateway hands to Hocuspocus (its head, and its length). */
  received(head: FrameHead | null, length: number): void {
    if (this.stopped || !head || !isUpdate(head)) return;
    const cost = length + MESSAGE_OVERHEAD_BYTES;
    if (head.step === messageYjsUpdate) this.writes = true;
    if (!this.unanswered) this.unanswered = new Map();
    const unanswered = this.unanswered;
    const queue = unanswered.get(head.address);
    if (queue) queue.push(cost);
    else unanswered.set(head.address, [cost]);
    this.bytes += cost;
    if (this.bytes > this.maxBytes && !this.isPaused) {
      this.isPaused = true;
      this.flow.pause();
      this.events.paused?.(this.bytes);
    }
  }

  /** A message the server sends on the socket (its head). */
  sent(head: FrameHead | null): void {
    const unanswered = this.unanswered;
    if (!head || !unanswered) return;
    if (head.type === MessageType.SyncStatus) {
      const queue = unanswered.get(head.address);
      const cost = queue?.shift();
      if (cost === undefined) return;
      if (queue?.length === 0) this.forget(unanswered, head.address);
      this.bytes -= cost;
    } else if (endsDocumentConnection(head)) {
      const queue = unanswered.get(head.address);
      if (!queue) return;
      this.forget(unanswered, head.address);
      for (const cost of queue) this.bytes -= cost;
    } else {
      return;
    }
    if (this.isPaused && this.bytes <= this.maxBytes / 2) {
      this.isPaused = false;
      this.flow.resume();
    }
  }

  private forget(unanswered: Map<string, number[]>, address: string): void {
    unanswered.delete(address);
    if (unanswered.size === 0 && !this.writes) this.unanswered = undefined;
  }
}

/** A client's update or SyncStep2: what Hocuspocus answers with a SyncStatus. */
function isUpdate(head: FrameHead): boolean {
  const isSync = head.type === MessageType.Sync || head.type === MessageType.SyncReply;
  return isSync && (head.step === messageYjsSyncStep2 || head.step === messageYjsUpdate);
}
