import { dayAndTime } from "../time.ts";
import type { Version, VersionAuthor } from "./api.ts";

/** How versions and their authors are called in the panel and its dialogs. */

/** The list's heading for a version: its name, or its time for an automatic one. */
export function versionTitle(version: Version): string {
  return version.label ? readableLabel(version.label) : dayAndTime(version.time);
}

/**
 * The server names the version it records before a restore "Before restoring <label or time>",
 * the time as ISO 8601 (it knows no reader's locale): shown here as the list shows times.
 */
function readableLabel(label: string): string {
  return label.replace(/\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\b/g, (iso) => {
    const time = Date.parse(iso);
    return Number.isNaN(time) ? iso : dayAndTime(time);
  });
}

/** A version inside a sentence: “Sent to legal” (Today 14:05), or the version of Today 14:05. */
export function versionInSentence(version: Version): string {
  const time = dayAndTime(version.time);
  return version.label ? `“${readableLabel(version.label)}” (${time})` : `the version of ${time}`;
}

export const KIND_TEXT: Record<Version["kind"], string> = {
  auto: "Saved automatically",
  named: "Named",
  restore: "Saved before a restore",
};

export function authorName(author: VersionAuthor): string {
  return author.name ?? "Someone";
}

/** "Ada", "Ada and Grace", "Ada, Grace and 2 others". */
export function namesSentence(names: string[]): string {
  if (names.length <= 1) return names[0] ?? "";
  if (names.length === 2) return `${names[0]} and ${names[1]}`;
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]}`;
  return `${names[0]}, ${names[1]} and ${names.length - 2} others`;
}
