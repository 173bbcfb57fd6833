import type { DocumentStatus, TandemDocument } from "@tandem/provider";
import { h } from "../dom.ts";

/** What the indicator shows; also its `data-state`, which the end-to-end tests read. */
export type ConnectionView =
  | "connecting"
  | "connected"
  | "reconnecting"
  | "offline"
  | "unauthorized";

const LABELS: Record<ConnectionView, string> = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
  unauthorized: "Not authorized",
};

/**
 * The connection and save state, side by side:
 * - connection: connected / reconnecting / offline (the SDK's status; "reconnecting" is a
 *   lost connection being retried, "connecting" the very first attempt);
 * - saving: "Saved" only when the SDK says every local edit is acknowledged by the server,
 *   which acknowledges only what is on its disk. Otherwise "Saving…" while connected, or the
 *   number of edits waiting for the server.
 *
 * The SDK says whether everything is stored, not how much is not; the count here is the local
 * Yjs transactions (typing, formatting, undo) since the last moment everything was stored.
 * Edits restored from the offline cache after a reload are unsaved too but were counted by the
 * page that made them, so they show as "Unsaved changes" without a number.
 */
export function createStatusIndicator(document: TandemDocument): {
  element: HTMLElement;
  setReadOnly(readOnly: boolean): void;
} {
  const connection = h("span", { class: "status__label", "data-testid": "connection" });
  const saved = h("span", { class: "status__saved", "data-testid": "save-state" });
  const element = h(
    "div",
    { class: "status", "data-testid": "status", role: "status", "aria-live": "polite" },
    h("span", { class: "status__dot", "aria-hidden": "true" }),
    connection,
    h("span", { class: "status__separator", "aria-hidden": "true" }, "·"),
    saved,
  );

  let everConnected = false;
  let unsaved = 0;
  let readOnly = false;

  const view = (status: DocumentStatus): ConnectionView => {
    if (status === "connected") return "connected";
    if (status === "connecting") return everConnected ? "reconnecting" : "connecting";
    return status;
  };

  const render = () => {
    const status = document.status;
    if (status === "connected") everConnected = true;
    const state = view(status);
    const isStored = document.stored;
    element.dataset.state = state;
    element.dataset.saved = String(isStored);
    connection.textContent = LABELS[state];
    if (readOnly && status === "connected") saved.textContent = "Read only";
    else if (isStored) saved.textContent = "Saved";
    else if (status === "connected") saved.textContent = "Saving…";
    else saved.textContent = unsavedText(unsaved, state === "offline");
    element.title =
      state === "connected"
        ? "Connected: edits are shared as you type."
        : "Edits are kept in this browser and sent when the connection is back.";
  };

  document.doc.on("update", (_update, _origin, _doc, transaction) => {
    // transaction.local is false for what the server and the offline cache applied.
    if (transaction.local && !document.stored) {
      unsaved++;
      render();
    }
  });
  document.on("stored", (isStored) => {
    if (isStored) unsaved = 0;
    render();
  });
  document.on("status", render);
  render();

  return {
    element,
    setReadOnly(value) {
      readOnly = value;
      render();
    },
  };
}

function unsavedText(count: number, offline: boolean): string {
  const suffix = offline ? " (offline)" : "";
  if (count === 0) return `Unsaved changes${suffix}`;
  return `${count} unsaved change${count === 1 ? "" : "s"}${suffix}`;
}
