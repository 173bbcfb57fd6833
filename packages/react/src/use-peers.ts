import type { Peer, TandemDocument } from "@tandem/provider";
import { useCallback, useSyncExternalStore } from "react";

/** The other users present in the document, sorted by name; re-renders when anyone changes. */
export function usePeers(handle: TandemDocument): readonly Peer[] {
  const subscribe = useCallback((onChange: () => void) => handle.on("peers", onChange), [handle]);
  const read = useCallback(() => peersSnapshot(handle), [handle]);
  return useSyncExternalStore(subscribe, read);
}

/** The last peers list returned per handle, with the JSON it was compared by. */
const snapshots = new WeakMap<TandemDocument, { json: string; peers: readonly Peer[] }>();

/**
 * handle.peers() builds a new array on every call, and useSyncExternalStore re-renders (or loops)
 * when a snapshot is not the same object as the last one: return the previous array while the
 * content is equal. Comparing content rather than counting events keeps it right even for changes
 * made while no component was subscribed. Peers lists are short.
 */
function peersSnapshot(handle: TandemDocument): readonly Peer[] {
  const peers = handle.peers();
  const json = JSON.stringify(peers);
  const last = snapshots.get(handle);
  if (last && last.json === json) return last.peers;
  snapshots.set(handle, { json, peers });
  return peers;
}
