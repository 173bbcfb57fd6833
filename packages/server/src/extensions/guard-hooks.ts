import type { Extension } from "@hocuspocus/server";
import type { Logger } from "../logger.ts";

/**
 * Hooks that Hocuspocus calls without awaiting the promise: a rejection in one of them would be
 * an unhandled rejection, which ends a Node.js process. (Awaited hooks are fine: Hocuspocus turns
 * their errors into a refused connection or a closed document.)
 */
const FIRE_AND_FORGET: ReadonlySet<string> = new Set([
  "onConfigure",
  "onChange",
  "onStateless",
  "beforeBroadcastStateless",
  "onAwarenessUpdate",
]);

type Hook = (payload: unknown) => unknown;

/**
 * Returns what Hocuspocus is given for the extension: its hooks, each called on the extension
 * itself, with the fire-and-forget ones logging their errors instead of rejecting. The
 * extension object is left untouched, and whatever its hooks set on `this` is on it (an object
 * inheriting from it would take those writes, out of sight of whoever holds the extension).
 */
export function guardHooks(extension: Extension, logger: Logger): Extension {
  const name = extension.extensionName ?? extension.constructor?.name ?? "extension";
  const guarded: Record<string, unknown> = { extensionName: name, priority: extension.priority };
  for (const hook of methodNames(extension)) {
    const original = (extension as unknown as Record<string, Hook>)[hook] as Hook;
    guarded[hook] = FIRE_AND_FORGET.has(hook)
      ? async (payload: unknown) => {
          try {
            return await original.call(extension, payload);
          } catch (error) {
            logger.error({ err: error, extension: name, hook }, "extension hook failed");
          }
        }
      : (payload: unknown) => original.call(extension, payload);
  }
  return guarded as Extension;
}

/** The names of the extension's functions, its own and its classes' (not Object's). */
function methodNames(extension: object): Set<string> {
  const names = new Set<string>();
  for (
    let o: object | null = extension;
    o && o !== Object.prototype;
    o = Object.getPrototypeOf(o)
  ) {
    for (const key of Object.getOwnPropertyNames(o)) {
      if (key === "constructor") continue;
      const value = Object.getOwnPropertyDescriptor(o, key)?.value;
      if (typeof value === "function") names.add(key);
    }
  }
  return names;
}
