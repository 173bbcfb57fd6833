import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";

/**
 * Hand-built Hocuspocus protocol frames, for tests that must send what no provider would:
 *   varString document name, varUint message type, then the body.
 */
export function frame(
  doc: string,
  type: number,
  body: (e: encoding.Encoder) => void = () => {},
): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarString(e, doc);
  encoding.writeVarUint(e, type);
  body(e);
  return encoding.toUint8Array(e);
}

/** Auth (2), Token (0): what a provider sends first for each document. */
export const authFrame = (doc: string, token: string) =>
  frame(doc, 2, (e) => {
    encoding.writeVarUint(e, 0);
    encoding.writeVarString(e, token);
  });

/** Sync (0) with a sync step: 0 state vector, 1 step-2 update, 2 update. */
export const syncFrame = (doc: string, step: number, payload: Uint8Array) =>
  frame(doc, 0, (e) => {
    encoding.writeVarUint(e, step);
    encoding.writeVarUint8Array(e, payload);
  });

/** A document update, as a provider sends a local edit. */
export const updateFrame = (doc: string, update: Uint8Array) => syncFrame(doc, 2, update);

/** SyncStep1 with an empty state vector: the server answers with the whole document. */
export const stateVectorFrame = (doc: string) => syncFrame(doc, 0, new Uint8Array([0]));

/** The parts of a frame the server sent: its document, its type, and what it says. */
export function readFrame(bytes: Uint8Array): {
  doc: string;
  type: number;
  decoder: decoding.Decoder;
} {
  const decoder = decoding.createDecoder(bytes);
  const doc = decoding.readVarString(decoder);
  const type = decoding.readVarUint(decoder);
  return { doc, type, decoder };
}

/** Names the server's messages, for asserting their order: auth:authenticated, sync, close:..., */
export function describeFrame(bytes: Uint8Array): string {
  const { type, decoder } = readFrame(bytes);
  switch (type) {
    case 2: {
      const kind = decoding.readVarUint(decoder);
      if (kind === 0) return "auth:token-request";
      if (kind === 1) return `auth:denied:${decoding.readVarString(decoder)}`;
      return "auth:authenticated";
    }
    case 7:
      return `close:${decoding.readVarString(decoder)}`;
    case 0:
    case 4:
      return "sync";
    case 1:
      return "awareness";
    case 8:
      return "sync-status";
    default:
      return `type-${type}`;
  }
}
