import { MessageType } from "@hocuspocus/server";
import { CloseCode } from "@tandem/protocol";
import * as decoding from "lib0/decoding";
import { messageYjsSyncStep1, messageYjsSyncStep2, messageYjsUpdate } from "y-protocols/sync";
import * as Y from "yjs";

/**
 * Checks every binary frame before Hocuspocus sees it, so that a malformed frame closes the
 * socket that sent it with a precise code, and never reaches a document or the store.
 *
 * Frame format (Hocuspocus protocol, lib0 encoding):
 *   varString address  (document name, optionally "\0" + session id)
 *   varUint   type     (MessageType)
 *   ...                per type, below
 * except the connection-level Pong, which is the single byte 10.
 */

export type ScreenResult =
  | { verdict: "forward" }
  | { verdict: "ignore" }
  | { verdict: "reject"; code: number; reason: string };

const FORWARD: ScreenResult = { verdict: "forward" };
const IGNORE: ScreenResult = { verdict: "ignore" };
const reject = (reason: string): ScreenResult => ({
  verdict: "reject",
  code: CloseCode.InvalidFrame,
  reason,
});

export function screenFrame(frame: Uint8Array): ScreenResult {
  if (frame.length === 1 && frame[0] === MessageType.Pong) return IGNORE;
  try {
    return screen(decoding.createDecoder(frame));
  } catch {
    // lib0 throws when a length runs past the end or a varint overflows.
    return reject("truncated or malformed frame");
  }
}

function screen(decoder: decoding.Decoder): ScreenResult {
  const address = decoding.readVarString(decoder);
  if (address.length === 0 || address.startsWith("\0")) return reject("empty document name");
  const type = decoding.readVarUint(decoder);
  switch (type) {
    case MessageType.Sync:
    case MessageType.SyncReply:
      return screenSync(decoder);
    case MessageType.Awareness:
      return screenAwareness(decoding.readVarUint8Array(decoder));
    case MessageType.Auth:
      decoding.readVarUint(decoder);
      decoding.readVarString(decoder);
      return FORWARD;
    case MessageType.Stateless:
      decoding.readVarString(decoder);
      return FORWARD;
    case MessageType.QueryAwareness:
    case MessageType.CLOSE:
      return FORWARD;
    default:
      return reject(`message type ${type} is not accepted from clients`);
  }
}

function screenSync(decoder: decoding.Decoder): ScreenResult {
  const step = decoding.readVarUint(decoder);
  const payload = decoding.readVarUint8Array(decoder);
  if (step === messageYjsSyncStep1) {
    Y.decodeStateVector(payload);
    return FORWARD;
  }
  if (step === messageYjsSyncStep2 || step === messageYjsUpdate) {
    return isDecodableUpdate(payload) ? FORWARD : reject("document update does not decode");
  }
  return reject(`sync message type ${step} is unknown`);
}

/** Decodes every struct and the delete set: what Y.applyUpdate will read before integrating. */
export function isDecodableUpdate(update: Uint8Array): boolean {
  try {
    Y.decodeUpdate(update);
    return true;
  } catch {
    return false;
  }
}

/** y-protocols awareness: varUint count, then per client varUint id, varUint clock, JSON state. */
function screenAwareness(update: Uint8Array): ScreenResult {
  const decoder = decoding.createDecoder(update);
  const count = decoding.readVarUint(decoder);
  for (let i = 0; i < count; i++) {
    decoding.readVarUint(decoder);
    decoding.readVarUint(decoder);
    const state = decoding.readVarString(decoder);
    try {
      JSON.parse(state);
    } catch {
      return reject("awareness state is not JSON");
    }
  }
  return FORWARD;
}
