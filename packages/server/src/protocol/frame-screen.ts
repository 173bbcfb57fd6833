import { MessageType } from "@hocuspocus/server";
import { CloseCode } from "@tandem/protocol";
import * as decoding from "lib0/decoding";
import { messageYjsSyncStep1, messageYjsSyncStep2, messageYjsUpdate } from "y-protocols/sync";
import * as Y from "yjs";
import { analyzeStructure, scanUpdate } from "./update-scan.ts";

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

/** What an update may contain, judged from its bytes alone (the document is not needed). */
export interface UpdateLimits {
  /** Accept sub-document items (each costs a whole Y.Doc on the server). */
  allowSubdocuments: boolean;
  /** Deepest nesting of shared types an update may create. */
  maxNestingDepth: number;
  /** Most existing shared types one update may change. */
  maxChangedTypes: number;
}

export const DEFAULT_UPDATE_LIMITS: UpdateLimits = {
  allowSubdocuments: false,
  maxNestingDepth: 64,
  maxChangedTypes: 10_000,
};

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

export function screenFrame(
  frame: Uint8Array,
  limits: UpdateLimits = DEFAULT_UPDATE_LIMITS,
): ScreenResult {
  if (frame.length === 1 && frame[0] === MessageType.Pong) return IGNORE;
  try {
    return screen(decoding.createDecoder(frame), limits);
  } catch {
    // lib0 throws when a length runs past the end or a varint overflows.
    return reject("truncated or malformed frame");
  }
}

function screen(decoder: decoding.Decoder, limits: UpdateLimits): ScreenResult {
  const address = decoding.readVarString(decoder);
  if (address.length === 0 || address.startsWith("\0")) return reject("empty document name");
  const type = decoding.readVarUint(decoder);
  switch (type) {
    case MessageType.Sync:
    case MessageType.SyncReply:
      return screenSync(decoder, limits);
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

function screenSync(decoder: decoding.Decoder, limits: UpdateLimits): ScreenResult {
  const step = decoding.readVarUint(decoder);
  const payload = decoding.readVarUint8Array(decoder);
  if (step === messageYjsSyncStep1) {
    Y.decodeStateVector(payload);
    return FORWARD;
  }
  if (step === messageYjsSyncStep2 || step === messageYjsUpdate) {
    const problem = checkUpdate(payload, limits);
    return problem === null ? FORWARD : reject(problem);
  }
  return reject(`sync message type ${step} is unknown`);
}

/**
 * Checks an update with the structural scanner (update-scan.ts), which reads it as Yjs would
 * without building Y objects: null if it may go on to the document, otherwise why not.
 *
 * - It must decode (what Y.decodeUpdate accepts).
 * - No sub-documents unless allowed: each costs ~8 bytes on the wire and a whole Y.Doc on the
 *   server, and the scanner stops at the first one, before anything is allocated for it.
 * - Nesting and changed types: Yjs walks from every changed type up to the root when it ends a
 *   transaction, so one update's cost is (types changed) × (their depth). Both are bounded
 *   here as far as the bytes tell (depth within the update, distinct parents named by the
 *   update); UpdateGuard completes both with the document's own depth and parents.
 */
export function checkUpdate(update: Uint8Array, limits: UpdateLimits): string | null {
  const result = scanUpdate(update, { refuseSubdocuments: !limits.allowSubdocuments });
  if (!result.ok) return result.reason;
  const structure = analyzeStructure(result.scan);
  if (structure.maxDepth > limits.maxNestingDepth) {
    return `update nests shared types deeper than ${limits.maxNestingDepth}`;
  }
  if (structure.namedParents > limits.maxChangedTypes) {
    return `update changes more than ${limits.maxChangedTypes} shared types`;
  }
  return null;
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
