import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import WebSocket from "ws";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";
import type { BenchClient, ConnectOptions, IdleSocket, ProtocolAdapter } from "./types.ts";

// In Node, y-websocket's provider adds a process "exit" listener per instance; the bench runs
// hundreds of providers in one process on purpose, so the default limit of 10 would only warn.
process.setMaxListeners(0);

// y-websocket wire constants (y-protocols/sync inside message type 0).
const SYNC = 0;
const SYNC_STEP1 = 0;
const SYNC_STEP2 = 1;

export const yWebsocketAdapter: ProtocolAdapter = {
  protocol: "y-websocket",

  connect(url: string, docName: string, options: ConnectOptions = {}): BenchClient {
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(url, docName, doc, {
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      // Clients of one process would otherwise sync through a BroadcastChannel, not the server.
      disableBc: true,
      maxBackoffTime: 500,
    });
    if (options.awareness === false) provider.awareness.setLocalState(null);
    let destroyed = false;
    let disconnects = 0;
    provider.on("status", ({ status }: { status: string }) => {
      if (status === "disconnected" && provider.synced && !destroyed) disconnects++;
    });
    return {
      doc,
      awareness: provider.awareness,
      // The protocol has no acknowledgement; scenarios measure what a peer received instead.
      acknowledges: false,
      get synced() {
        return provider.synced;
      },
      acked: 0,
      unacked: 0,
      get connected() {
        return provider.wsconnected;
      },
      get disconnects() {
        return disconnects;
      },
      destroy() {
        if (destroyed) return;
        destroyed = true;
        provider.destroy();
      },
    };
  },

  openIdle(url: string, docName: string, timeoutMs: number): Promise<IdleSocket> {
    return new Promise<IdleSocket>((resolve, reject) => {
      const ws = new WebSocket(`${url.replace(/\/+$/, "")}/${docName}`);
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`idle socket for ${docName} did not sync within ${timeoutMs} ms`));
      }, timeoutMs);
      const syncFrame = (step: number, payload: Uint8Array) => {
        const e = encoding.createEncoder();
        encoding.writeVarUint(e, SYNC);
        encoding.writeVarUint(e, step);
        encoding.writeVarUint8Array(e, payload);
        return encoding.toUint8Array(e);
      };
      ws.on("open", () => ws.send(syncFrame(SYNC_STEP1, new Uint8Array([0]))));
      ws.on("message", (data: Buffer) => {
        const d = decoding.createDecoder(new Uint8Array(data));
        if (decoding.readVarUint(d) !== SYNC) return;
        const step = decoding.readVarUint(d);
        if (step === SYNC_STEP1) ws.send(syncFrame(SYNC_STEP2, new Uint8Array([0, 0])));
        else if (step === SYNC_STEP2) {
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
