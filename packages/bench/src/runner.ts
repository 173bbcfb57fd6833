import { randomBytes } from "node:crypto";
import type { Protocol } from "./adapters/index.ts";
import {
  type HeaderRecord,
  machine,
  ResultsFile,
  type RunRecord,
  resultsPath,
  type SummaryRecord,
  summarize,
  versions,
} from "./report.ts";
import {
  type AnyScenario,
  isSelfHosted,
  type Scenario,
  type SelfHostedScenario,
} from "./scenarios/index.ts";
import { type LaunchOptions, SERVER_SPECS, type ServerKind } from "./servers.ts";
import { externalTarget, startManagedTarget, type Target } from "./target.ts";
import type { Progress } from "./util.ts";

export interface BenchOptions {
  scenarios: readonly AnyScenario[];
  /** Servers the bench starts itself; ignored when `external` is set. */
  servers: readonly ServerKind[];
  external?: { url: string; protocol: Protocol; pid?: number; dataDir?: string };
  runs: number;
  /** Per scenario name, its parameter values. */
  params: Record<string, Record<string, number>>;
  tracePath: string | null;
  /** Directory for the JSON lines file; null writes none. */
  outDir: string | null;
  launch: LaunchOptions;
  progress: Progress;
  /** Called with each scenario's summary as soon as it is done. */
  onSummary?: (scenario: AnyScenario, summary: SummaryRecord, runs: readonly RunRecord[]) => void;
  argv?: string[];
}

export interface BenchOutcome {
  file: string | null;
  header: HeaderRecord;
  runs: RunRecord[];
  summaries: SummaryRecord[];
}

interface TargetSource {
  label: string;
  start: () => Promise<Target>;
}

/** A scenario that hangs is abandoned after this long, so a run always ends. */
const SCENARIO_TIMEOUT_MS = 15 * 60_000;

/**
 * Runs every scenario `runs` times on every server. Within one run the servers take turns (in a
 * rotating order), each on a fresh server process and data directory, so a ratio compares
 * figures taken minutes apart on the same machine, never across invocations.
 */
export async function runBench(options: BenchOptions): Promise<BenchOutcome> {
  const id = randomBytes(4).toString("hex");
  const startedAt = new Date();
  const context = { machine: machine(), versions: versions() };
  const file = options.outDir ? new ResultsFile(resultsPath(options.outDir, startedAt)) : null;
  const header: HeaderRecord = {
    type: "header",
    id,
    startedAt: startedAt.toISOString(),
    argv: options.argv ?? [],
    ...context,
  };
  file?.append(header);
  const allRuns: RunRecord[] = [];
  const summaries: SummaryRecord[] = [];

  const external = options.external;
  const targets: TargetSource[] = external
    ? [{ label: "external", start: () => Promise.resolve(externalTarget(external)) }]
    : options.servers.map((kind) => ({
        label: SERVER_SPECS[kind].label,
        start: () => startManagedTarget(kind, options.launch),
      }));

  for (const scenario of options.scenarios) {
    const records: RunRecord[] = [];
    if (isSelfHosted(scenario)) {
      if (external) {
        options.progress(`${scenario.name} skipped: it starts its own servers, --url has none`);
        continue;
      }
      const variants = scenario.variants(options.params[scenario.name] ?? {});
      for (let run = 1; run <= options.runs; run++) {
        for (const [index, label] of variants.entries()) {
          const record = await runVariant(id, scenario, run, index, label, options);
          records.push(record);
          file?.append(record);
        }
      }
    } else {
      for (let run = 1; run <= options.runs; run++) {
        const order = targets.map(
          (_, i) => targets[(i + run - 1) % targets.length] as TargetSource,
        );
        for (const source of order) {
          const record = await runOnce(id, scenario, run, source, options);
          records.push(record);
          file?.append(record);
        }
      }
    }
    const summary = summarize(id, scenario, records, context);
    file?.append(summary);
    summaries.push(summary);
    allRuns.push(...records);
    options.onSummary?.(scenario, summary, records);
  }
  return { file: file?.path ?? null, header, runs: allRuns, summaries };
}

/** Resolves with `work`, or rejects once the scenario timeout passed. */
async function bounded<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`gave up after ${SCENARIO_TIMEOUT_MS / 60_000} minutes`)),
        SCENARIO_TIMEOUT_MS,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

/** One variant of a scenario that starts its own servers; the variant's label is the column. */
async function runVariant(
  id: string,
  scenario: SelfHostedScenario,
  run: number,
  variant: number,
  label: string,
  options: BenchOptions,
): Promise<RunRecord> {
  const params = options.params[scenario.name] ?? {};
  const startedAt = new Date();
  const t0 = performance.now();
  const base = { type: "run" as const, id, scenario: scenario.name, run, params, server: label };
  options.progress(`${scenario.name} run ${run}/${options.runs}: ${label}`);
  try {
    const { complaints, ...result } = await bounded(
      scenario.runVariant(
        {
          params,
          docPrefix: `bench-${id}-${run}-${variant}-`,
          launch: options.launch,
          tracePath: options.tracePath,
          progress: options.progress,
        },
        variant,
      ),
    );
    return {
      ...base,
      protocol: "hocuspocus",
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - t0),
      ...result,
      notes: [...result.notes, ...complaints.slice(-5).map((line) => `server logged: ${line}`)],
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    options.progress(`${scenario.name} run ${run} failed on ${label}: ${message}`);
    return {
      ...base,
      protocol: "hocuspocus",
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - t0),
      metrics: {},
      checks: {},
      notes: [],
      error: message,
    };
  }
}

async function runOnce(
  id: string,
  scenario: Scenario,
  run: number,
  source: TargetSource,
  options: BenchOptions,
): Promise<RunRecord> {
  const params = options.params[scenario.name] ?? {};
  const startedAt = new Date();
  const t0 = performance.now();
  let target: Target | null = null;
  const base = { type: "run" as const, id, scenario: scenario.name, run, params };
  try {
    target = await source.start();
    options.progress(
      `${scenario.name} run ${run}/${options.runs} on ${target.label} (${target.url})`,
    );
    const result = await bounded(
      scenario.run({
        target,
        params,
        docPrefix: `bench-${id}-${run}-`,
        tracePath: options.tracePath,
        progress: options.progress,
      }),
    );
    // What the server itself logged as a warning or error explains odd figures.
    const said = target
      .complaints()
      .slice(-5)
      .map((line) => `server logged: ${line}`);
    return {
      ...base,
      server: target.label,
      protocol: target.protocol,
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - t0),
      ...result,
      notes: [...result.notes, ...said],
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    options.progress(`${scenario.name} run ${run} failed on ${source.label}: ${message}`);
    return {
      ...base,
      server: source.label,
      protocol: target?.protocol ?? "unknown",
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - t0),
      metrics: {},
      checks: {},
      notes: [],
      error: message,
    };
  } finally {
    await target?.close();
  }
}
