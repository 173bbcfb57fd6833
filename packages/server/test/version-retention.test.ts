import type { VersionInfo, VersionKind } from "@tandem/server";
import {
  ConfigError,
  DEFAULT_RETENTION,
  expiredVersions,
  parseRetention,
  RetentionError,
  resolveConfig,
} from "@tandem/server";
import { describe, expect, it } from "vitest";

const H = 3_600_000;
const D = 24 * H;
const NOW = Date.UTC(2025, 0, 31, 12, 0, 0);

let nextId = 0;
const version = (time: number, kind: VersionKind = "auto"): VersionInfo => ({
  id: `${String(time).padStart(16, "0")}-${String(nextId++).padStart(4, "0")}`,
  time,
  kind,
  authors: [],
  bytes: 10,
});

describe("--version-retention syntax", () => {
  it("parses the default: all for 24 h, hourly for 7 days, daily after", () => {
    expect(parseRetention(DEFAULT_RETENTION).tiers).toEqual([
      { maxAgeMs: D, periodMs: null },
      { maxAgeMs: 7 * D, periodMs: H },
      { maxAgeMs: Number.POSITIVE_INFINITY, periodMs: D },
    ]);
    expect(parseRetention(" 30m:all , 2w:1d ").tiers).toEqual([
      { maxAgeMs: 30 * 60_000, periodMs: null },
      { maxAgeMs: 14 * D, periodMs: D },
    ]);
    expect(parseRetention("forever:all").tiers).toEqual([
      { maxAgeMs: Number.POSITIVE_INFINITY, periodMs: null },
    ]);
  });

  it.each([
    ["", /the policy is empty/],
    ["24h", /tier 1 "24h" is not AGE:KEEP/],
    ["24h:all:1", /tier 1 "24h:all:1" is not AGE:KEEP/],
    ["24h:all,7d:", /tier 2 "7d:" is not AGE:KEEP/],
    ["24x:all", /age "24x" has an unknown unit "x"/],
    ["24h:all,7d:1hour", /period "1hour" has an unknown unit "hour"/],
    ["1.5h:all", /age "1.5h" is not a duration/],
    ["0h:all", /age "0h" must be above 0/],
    ["forever:1d,30d:1w", /tier 2 "30d:1w" follows "forever"/],
    ["7d:all,24h:1h", /tier 2 "24h:1h": ages must increase/],
    ["24h:1h,7d:all", /tier 2 "7d:all": an older tier cannot keep more/],
    ["24h:2d,7d:1w", /tier 1 "24h:2d": the period 2d is longer than the age 24h/],
  ])("refuses %j precisely", (text, message) => {
    expect(() => parseRetention(text)).toThrow(RetentionError);
    expect(() => parseRetention(text)).toThrow(message);
  });
});

describe("version history settings", () => {
  it("have defaults, flags and environment variables; a bad policy is a precise config error", () => {
    const defaults = resolveConfig({ argv: [], env: {} });
    expect(defaults).toMatchObject({
      versions: true,
      versionIdle: 60_000,
      versionInterval: 600_000,
      versionRetention: DEFAULT_RETENTION,
    });
    const flags = resolveConfig({
      argv: ["--no-versions", "--version-idle", "500", "--version-retention=1h:all,30d:1d"],
      env: { TANDEM_VERSION_INTERVAL: "5000" },
    });
    expect(flags).toMatchObject({
      versions: false,
      versionIdle: 500,
      versionInterval: 5000,
      versionRetention: "1h:all,30d:1d",
    });
    const bad = () =>
      resolveConfig({ argv: [], env: { TANDEM_VERSION_RETENTION: "7d:all,24h:1h" } });
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(
      'invalid --version-retention "7d:all,24h:1h": tier 2 "24h:1h": ages must increase',
    );
    expect(() => resolveConfig({ argv: ["--version-idle", "5"], env: {} })).toThrow(
      /invalid --version-idle: "5" \(accepted: an integer from 10 to 86400000\)/,
    );
  });
});

describe("which automatic versions retention deletes", () => {
  const policy = parseRetention(DEFAULT_RETENTION);

  it("keeps every version younger than 24 h", () => {
    const versions = [0, 1, 5, 60, 600, 23 * 60].map((minutes) => version(NOW - minutes * 60_000));
    expect(expiredVersions(versions, policy, NOW)).toEqual([]);
  });

  it("keeps the newest version of each clock hour between 24 h and 7 d, of each UTC day after", () => {
    // Three versions in one clock hour two days ago, two in another, one alone.
    const hour = Math.floor((NOW - 2 * D) / H) * H;
    const a1 = version(hour + 5 * 60_000);
    const a2 = version(hour + 30 * 60_000);
    const a3 = version(hour + 59 * 60_000);
    const b1 = version(hour - H + 10 * 60_000);
    const b2 = version(hour - H + 20 * 60_000);
    const c = version(hour - 5 * H);
    // Ten days ago: three in one UTC day.
    const day = Math.floor((NOW - 10 * D) / D) * D;
    const d1 = version(day + H);
    const d2 = version(day + 12 * H);
    const d3 = version(day + 23 * H);
    const all = [a1, a2, a3, b1, b2, c, d1, d2, d3];
    const expired = expiredVersions(all, policy, NOW);
    expect(new Set(expired)).toEqual(new Set([a1.id, a2.id, b1.id, d1.id, d2.id]));
    // The same answer whatever the order.
    expect(new Set(expiredVersions([...all].reverse(), policy, NOW))).toEqual(new Set(expired));
    // Applying it again deletes nothing more: the survivors are a fixed point.
    const kept = all.filter((v) => !expired.includes(v.id));
    expect(expiredVersions(kept, policy, NOW)).toEqual([]);
  });

  it("never deletes named or restore versions, however old", () => {
    const named = version(NOW - 400 * D, "named");
    const restore = version(NOW - 400 * D + 1, "restore");
    const auto = version(NOW - 400 * D + 2);
    const strict = parseRetention("1h:all");
    expect(expiredVersions([named, restore, auto], strict, NOW)).toEqual([auto.id]);
    expect(expiredVersions([named, restore], policy, NOW)).toEqual([]);
  });

  it("without a forever tier deletes automatic versions older than the last tier", () => {
    const p = parseRetention("24h:all,30d:1d");
    const young = version(NOW - 29 * D);
    const old = version(NOW - 31 * D);
    expect(expiredVersions([young, old], p, NOW)).toEqual([old.id]);
  });

  it("treats a version from the future (a clock set back) as brand new", () => {
    const future = version(NOW + H);
    expect(expiredVersions([future], parseRetention("1h:1h"), NOW)).toEqual([]);
  });

  it("thins a long history as it ages: one version per minute for 30 days", () => {
    const versions: VersionInfo[] = [];
    for (let t = NOW - 30 * D; t <= NOW; t += 60_000) versions.push(version(t));
    const expired = new Set(expiredVersions(versions, policy, NOW));
    const kept = versions.filter((v) => !expired.has(v.id));
    // 24 h of minutes, about 6 days of hours, about 23 days of days (boundaries add one each).
    const lastDay = kept.filter((v) => NOW - v.time < D).length;
    const week = kept.filter((v) => NOW - v.time >= D && NOW - v.time < 7 * D).length;
    const older = kept.filter((v) => NOW - v.time >= 7 * D).length;
    expect(lastDay).toBe(24 * 60);
    expect(week).toBeGreaterThanOrEqual(6 * 24);
    expect(week).toBeLessThanOrEqual(6 * 24 + 1);
    expect(older).toBeGreaterThanOrEqual(23);
    expect(older).toBeLessThanOrEqual(24);
  });
});
