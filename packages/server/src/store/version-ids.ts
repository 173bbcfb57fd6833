import type { RecordVersion, VersionKind } from "./document-store.ts";

/**
 * Version ids, the same in both stores: 16 hex digits of the time in milliseconds, then 4 hex
 * digits counting the versions recorded in the same millisecond. Fixed width, so ids sort
 * bytewise like (time, counter): a key range or an ORDER BY id lists versions in time order.
 *
 * A version is never recorded before the newest one: a clock that went back (or a caller's
 * `time` older than the newest version) is taken as the newest version's time, so the newest id
 * is always the version recorded last, which the stores rely on ("nothing stored since the
 * previous version").
 */

const TIME_DIGITS = 16;
const COUNTER_DIGITS = 4;
const MAX_COUNTER = 16 ** COUNTER_DIGITS - 1;
const ID = /^[0-9a-f]{20}$/;

export function versionId(time: number, counter: number): string {
  return (
    time.toString(16).padStart(TIME_DIGITS, "0") +
    counter.toString(16).padStart(COUNTER_DIGITS, "0")
  );
}

/** The time and counter of an id, or null for anything that is not a version id. */
export function parseVersionId(id: string): { time: number; counter: number } | null {
  if (!ID.test(id)) return null;
  const time = Number.parseInt(id.slice(0, TIME_DIGITS), 16);
  if (!Number.isSafeInteger(time)) return null;
  return { time, counter: Number.parseInt(id.slice(TIME_DIGITS), 16) };
}

/** The id and time of a version recorded at `requested` when `newestId` is the newest one. */
export function nextVersionId(
  requested: number,
  newestId: string | null,
): { id: string; time: number } {
  const newest = newestId === null ? null : parseVersionId(newestId);
  if (!newest || requested > newest.time) return { id: versionId(requested, 0), time: requested };
  if (newest.counter < MAX_COUNTER) {
    return { id: versionId(newest.time, newest.counter + 1), time: newest.time };
  }
  return { id: versionId(newest.time + 1, 0), time: newest.time + 1 };
}

const KINDS: readonly VersionKind[] = ["auto", "named", "restore"];

/** Checks a record request; returns its time (now by default) as a whole millisecond count. */
export function checkRecordRequest(request: RecordVersion, now: () => number): number {
  if (!KINDS.includes(request.kind)) {
    throw new RangeError(`unknown version kind ${JSON.stringify(request.kind)}`);
  }
  if (request.label !== undefined && typeof request.label !== "string") {
    throw new RangeError("a version label must be a string");
  }
  const time = Math.floor(request.time ?? now());
  if (!Number.isSafeInteger(time) || time < 0) {
    throw new RangeError(
      `a version time must be milliseconds since the epoch, not ${request.time}`,
    );
  }
  return time;
}
