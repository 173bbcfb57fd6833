import { MessageType } from "@hocuspocus/server";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import type { WebSocket } from "ws";
import type { RawSocket } from "../limits/send-buffer.ts";

/**
 * The stock y-websocket protocol (`new WebsocketProvider("ws://HOST:PORT/y-websocket", name,
 * doc, { params: { token } })`), spoken over the same Hocuspocus documents, store, auth and
 * limits as Tandem's own clients. A y-websocket socket carries one document, named by the URL
 * path, and its messages lack the document name that every Hocuspocus frame starts with, so this
 * module only translates frames:
 *
 *   y-websocket (client)            Hocuspocus frame
 *   varUint type, payload    <->    varString name, varUint type, payload
 *
 * Types 0 (sync), 1 (awareness) and 3 (query awareness) mean the same in both. Towards the
 * client, Hocuspocus's sync reply (4) becomes a sync message; its permission-denied becomes
 * y-websocket's auth message (2, 0, reason) and the socket closes with 4403; a document close
 * (7) closes the socket (y-websocket has one document per socket); messages y-websocket has no
 * word for (acknowledgements, stateless messages, "authenticated", pings) are not sent. Since
 * y-websocket cannot send an auth message, the server writes the first one for it, with the
 * token from the `token` query parameter.
 */

export const Y_WEBSOCKET_PREFIX = "/y-websocket/";

/** y-websocket's message types (y-websocket/src/y-websocket.js). */
const Y_SYNC = 0;
const Y_AWARENESS = 1;
const Y_AUTH = 2;
const Y_QUERY_AWARENESS = 3;

/** Hocuspocus auth message sub-types (@hocuspocus/common). */
const AUTH_TOKEN = 0;
const AUTH_PERMISSION_DENIED = 1;

/** The document a y-websocket upgrade asks for, or null when the path is not one. */
export function yWebsocketDocument(url: string | undefined): string | null {
  const path = (url ?? "").split("?")[0] ?? "";
  if (!path.startsWith(Y_WEBSOCKET_PREFIX)) return null;
  try {
    const name = decodeURIComponent(path.slice(Y_WEBSOCKET_PREFIX.length));
    return name.length > 0 ? name : null;
  } catch {
    return null;
  }
}

export class YWebsocketDialect {
  private readonly prefix: Uint8Array;

  constructor(readonly documentName: string) {
    const encoder = encoding.createEncoder();
    encoding.writeVarString(encoder, documentName);
    this.prefix = encoding.toUint8Array(encoder);
  }

  /** The auth message a Hocuspocus client would send first. */
  authFrame(token: string): Uint8Array {
    const encoder = encoding.createEncoder();
    encoding.writeUint8Array(encoder, this.prefix);
    encoding.writeVarUint(encoder, MessageType.Auth);
    encoding.writeVarUint(encoder, AUTH_TOKEN);
    encoding.writeVarString(encoder, token);
    return encoding.toUint8Array(encoder);
  }

  /** A client message as a Hocuspocus frame, or null for a type clients may not send. */
  incoming(message: Uint8Array): Uint8Array | null {
    if (message.length === 0) return null;
    const type = message[0];
    if (type !== Y_SYNC && type !== Y_AWARENESS && type !== Y_QUERY_AWARENESS) return null;
    const frame = new Uint8Array(this.prefix.length + message.length);
    frame.set(this.prefix, 0);
    frame.set(message, this.prefix.length);
    return frame;
  }

  /** What to do with a Hocuspocus frame on its way to a y-websocket client. */
  outgoing(frame: Uint8Array): Outgoing {
    const decoder = decoding.createDecoder(frame);
    decoding.readVarString(decoder);
    const start = decoder.pos;
    const type = decoding.readVarUint(decoder);
    switch (type) {
      case MessageType.Sync:
      case MessageType.Awareness:
      case MessageType.QueryAwareness:
        // Same type number, same payload: the frame without the name.
        return { send: frame.subarray(start) };
      case MessageType.SyncReply: {
        const out = new Uint8Array(frame.length - decoder.pos + 1);
        out[0] = Y_SYNC;
        out.set(frame.subarray(decoder.pos), 1);
        return { send: out };
      }
      case MessageType.Auth: {
        if (decoding.readVarUint(decoder) !== AUTH_PERMISSION_DENIED) return { drop: true };
        const reason = decoding.readVarString(decoder);
        const encoder = encoding.createEncoder();
        encoding.writeVarUint(encoder, Y_AUTH);
        encoding.writeVarUint(encoder, 0);
        encoding.writeVarString(encoder, reason);
        return { send: encoding.toUint8Array(encoder), close: { code: 4403, reason } };
      }
      case MessageType.CLOSE:
        return { drop: true, close: { code: 1000, reason: decoding.readVarString(decoder) } };
      default:
        return { drop: true };
    }
  }
}

export type Outgoing = (
  | { send: Uint8Array; drop?: undefined }
  | { drop: true; send?: undefined }
) & { close?: { code: number; reason: string } };

/**
 * The socket Tandem's send buffer writes to, for a y-websocket client: translates each frame,
 * and completes the send callback at once for a frame the client never gets.
 */
export function translatingSocket(ws: WebSocket, dialect: YWebsocketDialect): RawSocket {
  return {
    get readyState() {
      return ws.readyState;
    },
    OPEN: ws.OPEN,
    close: (code, reason) => ws.close(code, reason),
    send: (message, callback) => {
      const out = dialect.outgoing(message);
      if (out.send) ws.send(out.send, callback);
      else queueMicrotask(() => callback());
      if (out.close) ws.close(out.close.code, out.close.reason.slice(0, 120));
    },
  };
}
