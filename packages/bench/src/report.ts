import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AnyScenario, MetricSpec } from "./scenarios/index.ts";
import { median } from "./stats.ts";

const BENCH_DIR = fileURLToPath(new URL("..", import.meta.url));
export const REPO_ROOT = join(BENCH_DIR, "..", "..");

export interface Machine {
  cores: number;
  cpu: string;
  memoryGiB: number;
  os: string;
  node: string;
}

export function machine(): Machine {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${process.platform} ${release()}`,
    node: process.version,
  };
}

const PACKAGES = [
  "@tandem/server",
  "@hocuspocus/server",
  "@hocuspocus/provider",
  "@hocuspocus/extension-sqlite",
  "@y/websocket-server",
  "y-leveldb",
  "y-websocket",
  "yjs",
];

/** Versions of the servers and clients under test, and the repo commit Tandem came from. */
export function versions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PACKAGES) {
    try {
      const file = join(BENCH_DIR, "node_modules", name, "package.json");
      out[name] = (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
    } catch {
      out[name] = "unknown";
    }
  }
  try {
    const git = (args: string[]) =>
      execFileSync("git", ["-C", REPO_ROOT, ...args], { encoding: "utf8", stdio: "pipe" }).trim();
    const dirty = git(["status", "--porcelain", "--", "packages/server"]) !== "";
    out.commit = `${git(["rev-parse", "--short", "HEAD"])}${dirty ? "+uncommitted server changes" : ""}`;
  } catch {
    out.commit = "unknown";
  }
  return out;
}

export interface RunRecord {
  type: "run";
  id: string;
  scenario: string;
  server: string;
  protocol: string;
  run: number;
  startedAt: string;
  durationMs: number;
  params: Record<string, number>;
  metrics: Record<string, number | null>;
  checks: Record<string, boolean>;
  notes: string[];
  /** Readings over time, for scenarios that take them (soak). */
  series?: Record<string, number | null>[];
  error?: string;
}

export interface SummaryRecord {
  type: "summary";
  id: string;
  scenario: string;
  runs: number;
  /** Median of each metric over the runs, per server label. */
  medians: Record<string, Record<string, number | null>>;
  /** Tandem's median divided by each baseline's median, per baseline label. */
  ratios: Record<string, Record<string, number | null>>;
  machine: Machine;
  versions: Record<string, string>;
}

export interface HeaderRecord {
  type: "header";
  id: string;
  startedAt: string;
  argv: string[];
  machine: Machine;
  versions: Record<string, string>;
}

export type BenchRecord = HeaderRecord | RunRecord | SummaryRecord;

/** Appends JSON lines to one file per bench invocation. */
export class ResultsFile {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  append(record: BenchRecord): void {
    appendFileSync(this.path, `${JSON.stringify(record)}\n`);
  }
}

export function resultsPath(dir: string, startedAt: Date): string {
  const stamp = startedAt
    .toISOString()
    .replace(/[:.]/g, "-")
    .replace(/-\d{3}Z$/, "Z");
  return join(dir, `bench-${stamp}.jsonl`);
}

export const TANDEM_LABEL = "tandem";

/** Medians per server and Tandem/baseline ratios, from the runs of one scenario. */
export function summarize(
  id: string,
  scenario: AnyScenario,
  records: readonly RunRecord[],
  context: { machine: Machine; versions: Record<string, string> },
): SummaryRecord {
  const servers = [...new Set(records.map((r) => r.server))];
  const medians: SummaryRecord["medians"] = {};
  for (const server of servers) {
    const runs = records.filter((r) => r.server === server && r.error === undefined);
    medians[server] = Object.fromEntries(
      scenario.metrics.map((m) => {
        const values = runs
          .map((r) => r.metrics[m.key])
          .filter((v): v is number => typeof v === "number" && Number.isFinite(v));
        return [m.key, median(values)];
      }),
    );
  }
  const ratios: SummaryRecord["ratios"] = {};
  const tandem = medians[TANDEM_LABEL];
  if (tandem) {
    for (const server of servers) {
      if (server === TANDEM_LABEL) continue;
      const base = medians[server] ?? {};
      ratios[server] = Object.fromEntries(
        scenario.metrics.map((m) => {
          const t = tandem[m.key];
          const b = base[m.key];
          const ratio =
            t === null || t === undefined || b === null || b === undefined || b === 0
              ? null
              : Math.round((t / b) * 100) / 100;
          return [m.key, ratio];
        }),
      );
    }
  }
  return {
    type: "summary",
    id,
    scenario: scenario.name,
    runs: Math.max(0, ...records.map((r) => r.run)),
    medians,
    ratios,
    ...context,
  };
}

function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return "n/a";
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString("en-US");
  return value.toLocaleString("en-US", { maximumFractionDigits: Math.abs(value) < 1 ? 4 : 1 });
}

const label = (m: MetricSpec) => (m.unit ? `${m.label} (${m.unit})` : m.label);

/** A Markdown table: one row per metric, one column per server, ratios Tandem / baseline. */
export function formatTable(
  scenario: AnyScenario,
  summary: SummaryRecord,
  records: readonly RunRecord[],
): string {
  const servers = Object.keys(summary.medians);
  const header = ["metric", ...servers];
  const rows = scenario.metrics.map((m) => [
    label(m),
    ...servers.map((s) => {
      const value = formatNumber(summary.medians[s]?.[m.key]);
      const ratio = summary.ratios[s]?.[m.key];
      return ratio === undefined || ratio === null || m.better === "none"
        ? value
        : `${value} (×${formatNumber(ratio)})`;
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ")} |`;
  const out = [
    `### ${scenario.title} (median of ${summary.runs} run${summary.runs === 1 ? "" : "s"})`,
    "",
    line(header),
    // Separator in the layout Biome's Markdown formatter keeps.
    `| ${widths.map((w, i) => (i === 0 ? `:${"-".repeat(w - 1)}` : `${"-".repeat(w - 1)}:`)).join(" | ")} |`,
    ...rows.map(line),
  ];
  if (Object.keys(summary.ratios).length > 0) {
    out.push("", "(×r) = Tandem's figure / that server's figure, from the same invocation.");
  }
  const notes = new Map<string, Set<string>>();
  for (const r of records) {
    const set = notes.get(r.server) ?? new Set<string>();
    for (const n of r.notes) set.add(n);
    if (r.error) set.add(`error: ${r.error}`);
    const failed = Object.entries(r.checks)
      .filter(([, ok]) => !ok)
      .map(([k]) => k);
    if (failed.length > 0) set.add(`run ${r.run}: check failed: ${failed.join(", ")}`);
    notes.set(r.server, set);
  }
  const noteLines = [...notes].flatMap(([server, set]) => [...set].map((n) => `- ${server}: ${n}`));
  if (noteLines.length > 0) out.push("", ...noteLines);
  return out.join("\n");
}

export function formatContext(m: Machine, v: Record<string, string>): string {
  return [
    `Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}`,
    `Versions: ${Object.entries(v)
      .map(([k, value]) => `${k} ${value}`)
      .join(", ")}`,
  ].join("\n");
}
