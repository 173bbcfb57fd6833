import {
  type beforeHandleMessagePayload,
  type Extension,
  MessageType,
  OutgoingMessage,
} from "@hocuspocus/server";
import * as decoding from "lib0/decoding";

/**
 * Answers a client's QueryAwareness with the document's presence states. Hocuspocus 4.7 reads
 * the message but hands its MessageReceiver no way to reply on a connection, so the query went
 * unanswered. Tandem's SDK asks it of a link that has been quiet for a while: the answer shows
 * the link is alive (a read-only viewer, whose own presence the server does not relay, would get
 * no other message on a quiet document). Only an established document connection gets here, so
 * only someone allowed to see the document's presence is answered.
 */
export class AwarenessQuery implements Extension {
  extensionName = "tandem-awareness-query";

  async beforeHandleMessage({
    connection,
    document,
    update,
  }: beforeHandleMessagePayload): Promise<void> {
    if (!isQueryAwareness(update)) return;
    const answer = new OutgoingMessage(connection.messageAddress).createAwarenessUpdateMessage(
      document.awareness,
    );
    connection.send(answer.toUint8Array());
  }
}

function isQueryAwareness(frame: Uint8Array): boolean {
  try {
    const decoder = decoding.createDecoder(frame);
    decoding.readVarString(decoder);
    return decoding.readVarUint(decoder) === MessageType.QueryAwareness;
  } catch {
    return false;
  }
}
