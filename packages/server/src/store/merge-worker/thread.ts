import { parentPort } from "node:worker_threads";
import { mergeStoredDocument } from "../merge.ts";
import { withStateParts } from "../state-chunks.ts";
import type { MergeReply, MergeRequest } from "./handover.ts";
import { mergeWarm, WarmDocs } from "./warm-docs.ts";

/**
 * The merge thread (started by merge-worker.ts): merges each stored document it is sent, one at
 * a time, with the same function the main thread would use, and hands the result back without
 * copying it. A compaction's merge is kept for the document's next one (warm-docs.ts).
 */
const port = parentPort;
if (!port) throw new Error("merge-worker/thread.ts runs as a worker thread only");

/**
 * Encoded bytes of kept merges: a few documents being written, about 14-26 MB of the thread's
 * heap when full (see WarmDocs).
 */
const WARM_BUDGET_BYTES = 2 * 1024 * 1024;
const warmDocs = new WarmDocs(WARM_BUDGET_BYTES);

port.on("message", ({ id, document, stateParts, warm }: MergeRequest) => {
  let reply: MergeReply;
  try {
    reply = warm
      ? { id, ...mergeWarm(warmDocs, document, stateParts, warm) }
      : {
          id,
          ...mergeStoredDocument(withStateParts(document, stateParts)),
          reused: false,
          kept: false,
        };
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
