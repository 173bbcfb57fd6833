import { MessageType } from "@hocuspocus/server";
import * as decoding from "lib0/decoding";

/** The address, message type and, for sync and auth messages, the step of a Hocuspocus frame. */
export interface FrameHead {
  address: string;
  type: number;
  /** The sync or auth step; -1 for other types. */
  step: number;
}

/**
 * Reads a frame's head, or null when it does not parse. Incoming frames were screened before;
 * an outgoing one that does not parse is none of the messages the readers look for. The gateway
 * reads each frame's head once and hands it to every reader (sync-coalescer.ts,
 * limits/inbound-window.ts).
 */
export function frameHead(frame: Uint8Array): FrameHead | null {
  try {
    const decoder = decoding.createDecoder(frame);
    const address = decoding.readVarString(decoder);
    const type = decoding.readVarUint(decoder);
    const hasStep =
      type === MessageType.Sync || type === MessageType.SyncReply || type === MessageType.Auth;
    const step = hasStep ? decoding.readVarUint(decoder) : -1;
    return { address, type, step };
  } catch {
    return null;
  }
}

/**
 * Whether the server's message ends the document connection of its address: a close, or a
 * refused authentication (Auth step 1, permission denied). Hocuspocus then discards the
 * address's queued messages, so none of them will be answered.
 */
export const endsDocumentConnection = (head: FrameHead): boolean =>
  head.type === MessageType.CLOSE || (head.type === MessageType.Auth && head.step === 1);

/**
 * Whether the server's message tells the client a document connection is authenticated (Auth
 * step 2). Hocuspocus sends it once the onAuthenticate hooks pass, before it loads the document.
 */
export const grantsAuthentication = (head: FrameHead): boolean =>
  head.type === MessageType.Auth && head.step === 2;
