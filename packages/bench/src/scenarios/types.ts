import type { Target } from "../target.ts";
import type { Progress } from "../util.ts";

/** A scenario size setting: its flag is `--<scenario>-<kebab-case key>`. */
export interface ParamSpec {
  default: number;
  /** The size `pnpm test` and `--tiny` use: seconds, not minutes. */
  tiny: number;
  help: string;
}

export interface MetricSpec {
  key: string;
  label: string;
  unit: string;
  /** Which direction is better, for reading ratios; "none" for counts. */
  better: "lower" | "higher" | "none";
}

export interface ScenarioContext<K extends string = string> {
  target: Target;
  params: Record<K, number>;
  /** Prefix for document names, unique per run, so runs against one server never collide. */
  docPrefix: string;
  /** --trace FILE, if given. */
  tracePath: string | null;
  progress: Progress;
}

export interface ScenarioResult {
  /** Keys of the scenario's MetricSpecs; null when not measurable on this server. */
  metrics: Record<string, number | null>;
  /** Outcomes that must hold (smoke tests assert them): convergence, nothing lost, ... */
  checks: Record<string, boolean>;
  /** What a figure means on this server when it differs from the others. */
  notes: string[];
}

export interface Scenario<K extends string = string> {
  name: string;
  title: string;
  params: Record<K, ParamSpec>;
  metrics: readonly MetricSpec[];
  run(ctx: ScenarioContext<K>): Promise<ScenarioResult>;
}

/** Keeps the parameter keys typed inside a scenario and erases them for the registry. */
export const defineScenario = <K extends string>(scenario: Scenario<K>): Scenario =>
  scenario as unknown as Scenario;
