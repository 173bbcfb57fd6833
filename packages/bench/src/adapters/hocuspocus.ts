import { HocuspocusProvider, HocuspocusProviderWebsocket } from "@hocuspocus/provider";
import { QuietWebSocket } from "@tandem/testkit/providers";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import WebSocket from "ws";
import * as Y from "yjs";
import type { BenchClient, ConnectOptions, IdleSocket, ProtocolAdapter } from "./types.ts";

// Hocuspocus wire constants (MessageType in @hocuspocus/common), used by the idle sockets.
const SYNC = 0;
const AUTH = 2;
const AUTH_TOKEN = 0;
const PING = 9;
const PONG = 10;
const SYNC_STEP1 = 0;
const SYNC_STEP2 = 1;
/** The provider version the idle sockets announce, as @hocuspocus/provider 4.7 does. */
const PROVIDER_VERSION = "4.7.0";

export const hocuspocusAdapter: ProtocolAdapter = {
  protocol: "hocuspocus",

  connect(url: string, docName: string, options: ConnectOptions = {}): BenchClient {
    const doc = new Y.Doc();
    const socket = new HocuspocusProviderWebsocket({
      url,
      // ws with a standing "error" listener: the provider closes a socket that may still be
      // connecting after removing its own listeners, which would throw in the bench.
      WebSocketPolyfill: QuietWebSocket,
      // Reconnect quickly: the crash scenario restarts servers and waits for nothing else.
      delay: 50,
      minDelay: 20,
      maxDelay: 500,
      factor: 1.5,
    });
    const provider = new HocuspocusProvider({
      websocketProvider: socket,
      name: docName,
      document: doc,
    });
    if (options.awareness === false) provider.awareness?.setLocalState(null);
    let counting = false;
    let countingEnded = false;
    let acked = 0;
    let previous = 0;
    let connected = false;
    let destroyed = false;
    let disconnects = 0;
    const ackListeners: ((acked: number) => void)[] = [];
    provider.on("unsyncedChanges", ({ number }: { number: number }) => {
      // Only SyncStatus lowers the count, by one per acknowledged update.
      if (counting && number < previous) {
        acked += previous - number;
        for (const listener of ackListeners) listener(acked);
      }
      previous = number;
      if (!counting && !countingEnded && connected && provider.isSynced && number === 0) {
        // The first sync's own acknowledgement just arrived; count local edits from here on.
        counting = true;
      }
    });
    provider.on("status", ({ status }: { status: string }) => {
      connected = status === "connected";
      // A reconnect resets the counter (resetUnsyncedChanges) and resends everything.
      if (!connected && counting) {
        counting = false;
        countingEnded = true;
      }
      if (!destroyed && countingEnded && status === "disconnected") disconnects++;
    });
    provider.attach();
    return {
      doc,
      awareness: provider.awareness as NonNullable<typeof provider.awareness>,
      acknowledges: true,
      get synced() {
        return provider.isSynced && (counting || provider.unsyncedChanges === 0);
      },
      get acked() {
        return acked;
      },
      get unacked() {
        return provider.unsyncedChanges;
      },
      onAcked(listener) {
        ackListeners.push(listener);
      },
      get connected() {
        return connected;
      },
      get disconnects() {
        return disconnects;
      },
      destroy() {
        if (destroyed) return;
        destroyed = true;
        provider.destroy();
        socket.destroy();
      },
    };
  },

  openIdle(url: string, docName: string, timeoutMs: number): Promise<IdleSocket> {
    return new Promise<IdleSocket>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.binaryType = "nodebuffer";
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`idle socket for ${docName} did not sync within ${timeoutMs} ms`));
      }, timeoutMs);
      const frame = (write: (e: encoding.Encoder) => void) => {
        const e = encoding.createEncoder();
        encoding.writeVarString(e, docName);
        write(e);
        return encoding.toUint8Array(e);
      };
      ws.on("open", () => {
        ws.send(
          frame((e) => {
            encoding.writeVarUint(e, AUTH);
            encoding.writeVarUint(e, AUTH_TOKEN);
            encoding.writeVarString(e, "");
            encoding.writeVarString(e, PROVIDER_VERSION);
          }),
        );
        ws.send(
          frame((e) => {
            encoding.writeVarUint(e, SYNC);
            encoding.writeVarUint(e, SYNC_STEP1);
            encoding.writeVarUint8Array(e, new Uint8Array([0]));
          }),
        );
      });
      ws.on("message", (data: Buffer) => {
        if (data.length === 1 && data[0] === PING) {
          ws.send(new Uint8Array([PONG]));
          return;
        }
        const d = decoding.createDecoder(new Uint8Array(data));
        decoding.readVarString(d);
        if (decoding.readVarUint(d) !== SYNC) return;
        const step = decoding.readVarUint(d);
        if (step === SYNC_STEP1) {
          // Answer the server's state vector with our (empty) state, as a provider would.
          ws.send(
            frame((e) => {
              encoding.writeVarUint(e, SYNC);
              encoding.writeVarUint(e, SYNC_STEP2);
              encoding.writeVarUint8Array(e, new Uint8Array([0, 0]));
            }),
          );
        } else if (step === SYNC_STEP2) {
          clearTimeout(timer);
          resolve({ close: () => ws.terminate() });
        }
      });
      ws.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  },
};
