import type { Awareness } from "y-protocols/awareness";
import type * as Y from "yjs";

export type Protocol = "hocuspocus" | "y-websocket";
export const PROTOCOLS: readonly Protocol[] = ["hocuspocus", "y-websocket"];

/**
 * One real client (the protocol's own provider, one WebSocket) on one document. Scenarios edit
 * `doc`, watch `doc` and `awareness` for remote changes, and read the acknowledgement counters;
 * nothing here knows which server is on the other end.
 */
export interface BenchClient {
  readonly doc: Y.Doc;
  readonly awareness: Awareness;
  /** Whether the protocol acknowledges each update (Hocuspocus: SyncStatus). y-websocket: no. */
  readonly acknowledges: boolean;
  /** Whether the first sync with the server has finished. */
  readonly synced: boolean;
  /**
   * Local updates the server acknowledged on the first connection, counted after the first sync.
   * Acknowledgements come in the order the updates were sent, so updates 0..acked-1 are the
   * acknowledged ones. Counting stops at the first disconnect: after a reconnect the provider
   * resends its whole state and the count would no longer name particular updates.
   */
  readonly acked: number;
  /** Local updates sent and not yet acknowledged (always 0 without acknowledgements). */
  readonly unacked: number;
  /** Times the connection dropped after the first sync (the provider then reconnects). */
  readonly disconnects: number;
  /**
   * Calls `listener` with the new acknowledged count each time it grows (protocols with
   * acknowledgements only), so latencies are taken when the acknowledgement arrives.
   */
  onAcked?(listener: (acked: number) => void): void;
  /** Whether the socket is open right now. */
  readonly connected: boolean;
  destroy(): void;
}

/** A bare socket that did the sync handshake for one document and then only stays open. */
export interface IdleSocket {
  close(): void;
}

export interface ConnectOptions {
  /**
   * Publish a local awareness state (providers do by default). Off for clients that only write
   * or read, so hundreds of them do not flood each other with presence at connect time.
   */
  awareness?: boolean;
}

/** The only protocol-specific code: how to make clients and idle sockets for a server URL. */
export interface ProtocolAdapter {
  readonly protocol: Protocol;
  connect(url: string, docName: string, options?: ConnectOptions): BenchClient;
  /**
   * Opens one WebSocket, completes the sync handshake for `docName` with an empty document and
   * resolves; the socket then answers pings only. Thousands of these cost the load generator
   * far less than full providers, and the server sees a normal, synced, idle client.
   */
  openIdle(url: string, docName: string, timeoutMs: number): Promise<IdleSocket>;
}
