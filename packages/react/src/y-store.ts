import type * as Y from "yjs";

/** The shared types the hooks read: a top-level Y.Text, Y.Map or Y.Array. */
export type SharedType = Y.Text | Y.Map<unknown> | Y.Array<unknown>;

/** What useSyncExternalStore needs, both functions stable for the life of the type. */
export interface SharedStore<T> {
  subscribe(onChange: () => void): () => void;
  getSnapshot(): T;
}

const stores = new WeakMap<SharedType, SharedStore<unknown>>();

/**
 * The store of one shared type: its value as `read` returns it, read again only after the type
 * changed.
 *
 * useSyncExternalStore wants the same object back until something changes, and toJSON() builds
 * a new one on every call. One deep observer per type, added with the store and kept for the
 * type's life, marks the value stale and then tells the subscribers: it sees changes made while
 * no component is subscribed (between a render and its effect) as well, and the value is never
 * read before it was marked. The read itself happens only when a component asks for the value.
 *
 * One `read` per type: a top-level name is a Text, a Map or an Array, never two of them.
 */
export function storeOf<S extends SharedType, T>(type: S, read: (type: S) => T): SharedStore<T> {
  const existing = stores.get(type);
  // Stored by this function for this type, with the one `read` of this type: a SharedStore<T>.
  if (existing) return existing as SharedStore<T>;

  const listeners = new Set<() => void>();
  let value = read(type);
  let stale = false;
  // Deep: a change inside a nested map or array changes the value too.
  type.observeDeep(() => {
    stale = true;
    for (const listener of [...listeners]) listener();
  });
  const store: SharedStore<T> = {
    subscribe(onChange) {
      listeners.add(onChange);
      return () => listeners.delete(onChange);
    },
    getSnapshot() {
      if (stale) {
        value = read(type);
        stale = false;
      }
      return value;
    },
  };
  stores.set(type, store);
  return store;
}
