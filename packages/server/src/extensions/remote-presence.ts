import type { afterLoadDocumentPayload, Document, Extension } from "@hocuspocus/server";
import {
  applyAwarenessUpdate,
  encodeAwarenessUpdate,
  removeAwarenessStates,
} from "y-protocols/awareness";
import type { DocumentStore } from "../store/document-store.ts";
import { REMOTE_ORIGIN } from "./remote-updates.ts";

/**
 * Presence across server instances: the awareness changes of this instance's clients go to the
 * other instances that have the document open, theirs come here and reach this instance's
 * clients. When a document opens here, the others are asked for their clients' states, so a
 * newcomer sees everyone at once rather than at the next renewal (15 s).
 *
 * What is relayed is the document's awareness as Hocuspocus holds it, after Authentication has
 * filtered it (hidden viewers, impersonation), so nothing a local client may not see leaves.
 * A store only one instance uses has no presence channel, and this does nothing.
 */
export class RemotePresence implements Extension {
  extensionName = "tandem-remote-presence";
  priority = 900;

  constructor(private readonly store: DocumentStore) {}

  async afterLoadDocument({ documentName, document }: afterLoadDocumentPayload): Promise<void> {
    const awareness = document.awareness;
    const channel = this.store.presence?.(documentName, {
      update: (update) => {
        if (document.isDestroyed) return;
        try {
          applyAwarenessUpdate(awareness, update, REMOTE_ORIGIN);
        } catch {
          // A malformed message from another instance: presence is best effort.
        }
      },
      query: () => {
        const clients = localClients(document);
        if (clients.length > 0) channel?.publish(encodeAwarenessUpdate(awareness, clients));
      },
      // The instance these users were on died: remove them now (the removal reaches this
      // instance's clients), except any that have reconnected here meanwhile.
      gone: (clients) => {
        if (document.isDestroyed) return;
        const local = new Set(localClients(document));
        const leaving = clients.filter((id) => !local.has(id) && awareness.states.has(id));
        if (leaving.length > 0) removeAwarenessStates(awareness, leaving, REMOTE_ORIGIN);
      },
    });
    if (!channel) return;
    const relay = (
      changes: { added: number[]; updated: number[]; removed: number[] },
      origin: unknown,
    ) => {
      if (origin === REMOTE_ORIGIN) return;
      const changed = [...changes.added, ...changes.updated, ...changes.removed];
      if (changed.length > 0) channel.publish(encodeAwarenessUpdate(awareness, changed));
    };
    awareness.on("update", relay);
    channel.query();
    document.once("destroy", () => {
      awareness.off("update", relay);
      channel.close();
    });
  }
}

/** The awareness client ids of this instance's own connections to the document. */
function localClients(document: Document): number[] {
  const ids: number[] = [];
  for (const { clients } of document.connections.values()) ids.push(...clients);
  return ids;
}
