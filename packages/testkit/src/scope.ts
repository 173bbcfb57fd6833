import { tempDir } from "./temp.ts";

/**
 * What a test file makes and must undo: temp directories and anything else, undone in reverse
 * order by cleanup() (in afterEach), so a failing test leaves nothing behind for the next.
 */
export function cleanupScope() {
  const cleanups: (() => Promise<void> | void)[] = [];
  return {
    defer(cleanup: () => Promise<void> | void): void {
      cleanups.push(cleanup);
    },
    /** A fresh temp directory, removed at cleanup. */
    async dir(): Promise<string> {
      const made = await tempDir();
      cleanups.push(made.remove);
      return made.path;
    },
    async cleanup(): Promise<void> {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    },
  };
}
