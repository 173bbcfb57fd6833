import type * as Y from "yjs";
import type { Random } from "./random.ts";

/**
 * Typing that can be checked for lost and duplicated text: each edit inserts a unique token
 * `<…>` at a random boundary between tokens (never inside one), so however edits interleave,
 * merge or are sent twice, the final text is a sequence of whole tokens and each one typed must
 * appear exactly once.
 */
export function insertToken(text: Y.Text, token: string, random: Random): void {
  if (!/^<[^<>]+>$/.test(token)) throw new Error(`not a token: ${token}`);
  const content = text.toString();
  const boundaries = [0];
  for (let i = content.indexOf(">"); i !== -1; i = content.indexOf(">", i + 1)) {
    boundaries.push(i + 1);
  }
  text.insert(random.pick(boundaries), token);
}

export interface TokenProblems {
  /** Typed, not in the text. */
  missing: string[];
  /** In the text more than once. */
  duplicated: string[];
  /** In the text, never typed. */
  unexpected: string[];
  /** Text outside any token (a token cut apart). */
  stray: string;
}

/** Compares a text with the tokens typed into it; every list is empty when nothing went wrong. */
export function tokenProblems(content: string, typed: Iterable<string>): TokenProblems {
  const found = content.match(/<[^<>]*>/g) ?? [];
  const expected = new Set(typed);
  const counts = new Map<string, number>();
  for (const token of found) counts.set(token, (counts.get(token) ?? 0) + 1);
  return {
    missing: [...expected].filter((token) => !counts.has(token)),
    duplicated: [...counts].filter(([, n]) => n > 1).map(([token]) => token),
    unexpected: [...counts.keys()].filter((token) => !expected.has(token)),
    stray: content.replace(/<[^<>]*>/g, ""),
  };
}

/** What tokenProblems returns for a text that holds every token once and nothing else. */
export const NO_TOKEN_PROBLEMS: TokenProblems = {
  missing: [],
  duplicated: [],
  unexpected: [],
  stray: "",
};
