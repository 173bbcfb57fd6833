import type { TandemDocument } from "@tandem/provider";
import { useSyncExternalStore } from "react";
import type * as Y from "yjs";
import { storeOf } from "./y-store.ts";

/** The text of the top-level Y.Text `key`; re-renders when anyone changes it. */
export function useYText(handle: TandemDocument, key: string): string {
  const store = storeOf(handle.doc.getText(key), readText);
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}

/**
 * The content of the top-level Y.Map `key` as a plain object (nested shared types as JSON),
 * the same object until something in it changes. `T` is what the app stores there: unchecked.
 */
export function useYMap<T = unknown>(
  handle: TandemDocument,
  key: string,
): Readonly<Record<string, T>> {
  const store = storeOf(handle.doc.getMap<unknown>(key), readMap);
  return useSyncExternalStore(store.subscribe, store.getSnapshot) as Readonly<Record<string, T>>;
}

/**
 * The content of the top-level Y.Array `key` as a plain array (nested shared types as JSON),
 * the same array until something in it changes. `T` is what the app stores there: unchecked.
 */
export function useYArray<T = unknown>(handle: TandemDocument, key: string): readonly T[] {
  const store = storeOf(handle.doc.getArray<unknown>(key), readArray);
  return useSyncExternalStore(store.subscribe, store.getSnapshot) as readonly T[];
}

// Module-level functions: storeOf() keeps the first `read` it is given per type.
function readText(text: Y.Text): string {
  return text.toString();
}

function readMap(map: Y.Map<unknown>): Readonly<Record<string, unknown>> {
  return map.toJSON();
}

function readArray(array: Y.Array<unknown>): readonly unknown[] {
  return array.toJSON();
}
