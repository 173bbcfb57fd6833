import type { OpenOptions, TandemDocument } from "@tandem/provider";
import { useEffect } from "react";
import { useTandemClient } from "./context.ts";
import { registryFor } from "./handles.ts";
import { useRerender } from "./rerender.ts";

/**
 * Opens the document `name` on the provider's client and returns its handle, open for as long
 * as the component is mounted. Components using the same name on the same client share one
 * handle, closed when the last of them unmounts; a new `name` switches to that document.
 *
 * `options.user` is who is editing: a later change of it is published with setUser(). Leave
 * closing to the hook: do not call close() on the handle.
 */
export function useDocument(name: string, options?: OpenOptions): TandemDocument {
  const registry = registryFor(useTandemClient());
  const handle = registry.handleFor(name, options);
  const rerender = useRerender();

  useEffect(() => {
    const release = registry.retain(handle);
    // The handle rendered was closed before this effect ran (a render that waited longer than
    // the hold, or a tree hidden by <Activity>): render again to open a fresh one.
    if (release === null) {
      rerender();
      return;
    }
    return release;
  }, [registry, handle, rerender]);

  useUserUpdates(handle, options);
  return handle;
}

/** Publishes a change of `options.user` on a handle opened with an earlier one (or none). */
function useUserUpdates(handle: TandemDocument, options: OpenOptions | undefined): void {
  // Primitives, not the object: callers write `{ user: { id, name } }` inline in every render.
  const id = options?.user?.id;
  const name = options?.user?.name;
  const color = options?.user?.color;
  useEffect(() => {
    if (id === undefined || name === undefined) return;
    const current = handle.user;
    const same =
      current !== null &&
      current.id === id &&
      current.name === name &&
      (color === undefined || current.color === color);
    if (!same) handle.setUser(color === undefined ? { id, name } : { id, name, color });
  }, [handle, id, name, color]);
}
