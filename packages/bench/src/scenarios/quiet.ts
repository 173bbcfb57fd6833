import { readCpuSeconds } from "../servers.ts";
import type { Target } from "../target.ts";
import { now, sleep } from "../util.ts";

/**
 * Waits until the server process has used less than `maxPct` % of a core over two windows of
 * `windowMs` in a row (at most `timeoutMs`): background work a previous phase left behind (a
 * compaction after the document went quiet, a debounced store) then does not count against the
 * next phase's CPU figures. Resolves with whether it got quiet; without a pid, at once.
 */
export async function serverQuiet(
  target: Target,
  { maxPct = 3, windowMs = 500, timeoutMs = 20_000 } = {},
): Promise<boolean> {
  const deadline = now() + timeoutMs;
  let quietWindows = 0;
  let last = target.pid === null ? null : await readCpuSeconds(target.pid);
  if (last === null) return true;
  while (now() < deadline) {
    await sleep(windowMs);
    const cpu = target.pid === null ? null : await readCpuSeconds(target.pid);
    if (cpu === null) return true;
    const pct = ((cpu - last) / (windowMs / 1000)) * 100;
    last = cpu;
    quietWindows = pct < maxPct ? quietWindows + 1 : 0;
    if (quietWindows >= 2) return true;
  }
  return false;
}
