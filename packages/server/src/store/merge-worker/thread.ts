import { parentPort } from "node:worker_threads";
import { mergeStoredDocument } from "../merge.ts";
import { withStateParts } from "../state-chunks.ts";
import type { MergeReply, MergeRequest } from "./handover.ts";

/**
 * The merge thread (started by merge-worker.ts): merges each stored document it is sent, one at
 * a time, with the same function the main thread would use, and hands the result back without
 * copying it.
 */
const port = parentPort;
if (!port) throw new Error("merge-worker/thread.ts runs as a worker thread only");

port.on("message", ({ id, document, stateParts }: MergeRequest) => {
  let reply: MergeReply;
  try {
    const { update, failed } = mergeStoredDocument(withStateParts(document, stateParts));
    reply = { id, update, failed };
  } catch (error) {
    reply = { id, error: error instanceof Error ? error.message : String(error) };
  }
  const transfer =
    "update" in reply && ownsItsBuffer(reply.update) ? [reply.update.buffer as ArrayBuffer] : [];
  port.postMessage(reply, transfer);
});

/** Only a buffer the update alone uses may be transferred (lib0's encoder makes such ones). */
const ownsItsBuffer = (view: Uint8Array): boolean =>
  view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
