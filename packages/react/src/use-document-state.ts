import type { DocumentStatus, TandemDocument } from "@tandem/provider";
import { useCallback, useSyncExternalStore } from "react";

/** The handle's properties that have an event of the same name, emitted when they change. */
type StateEvent = "status" | "synced" | "stored";

function useDocumentState<K extends StateEvent>(
  handle: TandemDocument,
  event: K,
): TandemDocument[K] {
  // on() returns the function that removes the listener, which is what React's subscribe wants.
  const subscribe = useCallback(
    (onChange: () => void) => handle.on(event, onChange),
    [handle, event],
  );
  // Strings and booleans: equal values are the same snapshot, so no caching is needed.
  const read = useCallback(() => handle[event], [handle, event]);
  return useSyncExternalStore(subscribe, read);
}

/** `connecting`, `connected`, `offline` or `unauthorized`; re-renders when it changes. */
export function useStatus(handle: TandemDocument): DocumentStatus {
  return useDocumentState(handle, "status");
}

/** True once the document holds the server's state; false while disconnected. */
export function useSynced(handle: TandemDocument): boolean {
  return useDocumentState(handle, "synced");
}

/** True when the server has acknowledged (stored on disk) every local change made so far. */
export function useStored(handle: TandemDocument): boolean {
  return useDocumentState(handle, "stored");
}
