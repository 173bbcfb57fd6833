import { readStorage, writeStorage } from "./dom.ts";

/** The documents recently opened in this browser, newest first, for the home page. */
export interface RecentDocument {
  name: string;
  openedAt: number;
}

const KEY = "tandem.recent";
const LIMIT = 20;

export function recentDocuments(): RecentDocument[] {
  try {
    const parsed: unknown = JSON.parse(readStorage("local", KEY) ?? "[]");
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (entry): entry is RecentDocument =>
        typeof entry === "object" &&
        entry !== null &&
        typeof (entry as RecentDocument).name === "string" &&
        typeof (entry as RecentDocument).openedAt === "number",
    );
  } catch {
    return [];
  }
}

export function rememberDocument(name: string, now = Date.now()): void {
  const others = recentDocuments().filter((entry) => entry.name !== name);
  save([{ name, openedAt: now }, ...others].slice(0, LIMIT));
}

export function forgetDocument(name: string): void {
  save(recentDocuments().filter((entry) => entry.name !== name));
}

function save(entries: RecentDocument[]): void {
  writeStorage("local", KEY, JSON.stringify(entries));
}
