import type { Extension } from "@hocuspocus/server";
import type { Logger } from "../logger.ts";

/**
 * Hooks that Hocuspocus calls without awaiting the promise: a rejection in one of them would be
 * an unhandled rejection, which ends a Node.js process. (Awaited hooks are fine: Hocuspocus turns
 * their errors into a refused connection or a closed document.)
 */
const FIRE_AND_FORGET = [
  "onConfigure",
  "onChange",
  "onStateless",
  "beforeBroadcastStateless",
  "onAwarenessUpdate",
] as const;

/**
 * Returns a copy of the extension whose fire-and-forget hooks log their errors instead of
 * rejecting. The extension object itself is left untouched.
 */
export function guardHooks(extension: Extension, logger: Logger): Extension {
  const guarded: Extension = Object.create(extension);
  const name = extension.extensionName ?? extension.constructor?.name ?? "extension";
  for (const hook of FIRE_AND_FORGET) {
    const original = extension[hook] as ((payload: unknown) => Promise<unknown>) | undefined;
    if (typeof original !== "function") continue;
    (guarded as Record<string, unknown>)[hook] = async (payload: unknown) => {
      try {
        return await original.call(guarded, payload);
      } catch (error) {
        logger.error({ err: error, extension: name, hook }, "extension hook failed");
      }
    };
  }
  return guarded;
}
