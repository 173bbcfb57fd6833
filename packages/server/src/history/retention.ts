import type { VersionInfo } from "../store/document-store.ts";

/**
 * Which automatic versions are kept as they age (--version-retention). A policy is a list of
 * tiers, youngest first: `AGE:KEEP` separated by commas, where AGE is how old a version may be
 * to fall in the tier (a duration, or `forever`) and KEEP is `all` or a duration: one version per
 * period of that length. For example
 *
 *   24h:all,7d:1h,forever:1d
 *
 * keeps every automatic version for 24 hours, one per hour until it is 7 days old, then one per
 * day. Without a `forever` tier, automatic versions older than the last tier's age are deleted.
 * Durations are an integer with a unit: ms, s, m, h, d, w. Periods are aligned to the epoch (UTC:
 * an hour is a clock hour, a day runs from midnight UTC), and in each period the newest version
 * of the tier is kept: the state the document had when that period ended. Named and restore
 * versions are never deleted by retention.
 */
export interface RetentionPolicy {
  /** Youngest first; `maxAgeMs` strictly increasing, Infinity only last. */
  tiers: RetentionTier[];
}

export interface RetentionTier {
  /** Versions younger than this (and not younger than the previous tier's) fall in the tier. */
  maxAgeMs: number;
  /** null: keep all; else keep the newest version of each period of this many ms. */
  periodMs: number | null;
}

export const DEFAULT_RETENTION = "24h:all,7d:1h,forever:1d";

/** A policy that does not parse; the message says which part and why. */
export class RetentionError extends Error {
  override name = "RetentionError";
}

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

function parseDuration(text: string, what: string): number {
  const match = /^(\d+)([a-z]+)$/.exec(text);
  if (!match) {
    throw new RetentionError(
      `${what} ${JSON.stringify(text)} is not a duration (an integer and a unit: ms, s, m, h, d or w, e.g. 24h)`,
    );
  }
  const unit = UNITS[match[2] as string];
  if (unit === undefined) {
    throw new RetentionError(
      `${what} ${JSON.stringify(text)} has an unknown unit ${JSON.stringify(match[2])} (use ms, s, m, h, d or w)`,
    );
  }
  const ms = Number(match[1]) * unit;
  if (ms <= 0 || !Number.isSafeInteger(ms)) {
    throw new RetentionError(`${what} ${JSON.stringify(text)} must be above 0 and finite`);
  }
  return ms;
}

/** Parses a policy such as "24h:all,7d:1h,forever:1d"; throws RetentionError naming the fault. */
export function parseRetention(text: string): RetentionPolicy {
  const trimmed = text.trim();
  if (trimmed === "") {
    throw new RetentionError(
      `the policy is empty (write tiers AGE:KEEP separated by commas, e.g. ${DEFAULT_RETENTION})`,
    );
  }
  const tiers: RetentionTier[] = [];
  const parts = trimmed.split(",").map((part) => part.trim());
  for (const [index, part] of parts.entries()) {
    const where = `tier ${index + 1} ${JSON.stringify(part)}`;
    const fields = part.split(":");
    if (fields.length !== 2 || fields[0] === "" || fields[1] === "") {
      throw new RetentionError(`${where} is not AGE:KEEP (e.g. 7d:1h, forever:1d, 24h:all)`);
    }
    const [age, keep] = fields as [string, string];
    const maxAgeMs = age === "forever" ? Number.POSITIVE_INFINITY : parseDuration(age, "age");
    const periodMs = keep === "all" ? null : parseDuration(keep, "period");
    const previous = tiers.at(-1);
    if (previous && previous.maxAgeMs === Number.POSITIVE_INFINITY) {
      throw new RetentionError(`${where} follows "forever", which must be the last tier`);
    }
    if (previous && maxAgeMs <= previous.maxAgeMs) {
      throw new RetentionError(
        `${where}: ages must increase from tier to tier (${age} is not older than the tier before)`,
      );
    }
    if (previous && (periodMs ?? 0) < (previous.periodMs ?? 0)) {
      throw new RetentionError(
        `${where}: an older tier cannot keep more versions than a younger one (its period ${keep} is shorter than the tier before)`,
      );
    }
    if (periodMs !== null && maxAgeMs !== Number.POSITIVE_INFINITY && periodMs > maxAgeMs) {
      throw new RetentionError(`${where}: the period ${keep} is longer than the age ${age}`);
    }
    tiers.push({ maxAgeMs, periodMs });
  }
  return { tiers };
}

/**
 * The ids of the automatic versions the policy no longer keeps at `now`. Pure: the same versions,
 * policy and time give the same answer, in any order of `versions`. A version from the future (a
 * clock set back) counts as brand new.
 */
export function expiredVersions(
  versions: readonly VersionInfo[],
  policy: RetentionPolicy,
  now: number,
): string[] {
  const expired: string[] = [];
  /** Per tier and period, the newest version seen so far. */
  const newest = new Map<string, VersionInfo>();
  for (const version of versions) {
    if (version.kind !== "auto") continue;
    const age = Math.max(0, now - version.time);
    const tierIndex = policy.tiers.findIndex((tier) => age < tier.maxAgeMs);
    const tier = policy.tiers[tierIndex];
    if (!tier) {
      expired.push(version.id);
      continue;
    }
    if (tier.periodMs === null) continue;
    const key = `${tierIndex}:${Math.floor(version.time / tier.periodMs)}`;
    const kept = newest.get(key);
    if (!kept) {
      newest.set(key, version);
    } else if (isNewer(version, kept)) {
      expired.push(kept.id);
      newest.set(key, version);
    } else {
      expired.push(version.id);
    }
  }
  return expired;
}

/** Ids sort like times (document-store.ts); they break ties between versions of the same ms. */
const isNewer = (a: VersionInfo, b: VersionInfo): boolean =>
  a.time !== b.time ? a.time > b.time : a.id > b.id;
