import type { LaunchOptions } from "../servers.ts";
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

export interface SelfHostedContext<K extends string = string> {
  params: Record<K, number>;
  docPrefix: string;
  /** How the bench starts servers (node flags, extra Tandem flags). */
  launch: LaunchOptions;
  /** --trace FILE, if given. */
  tracePath: string | null;
  progress: Progress;
}

/**
 * A scenario that starts its own servers (scale-out: a cluster of Tandem instances and its
 * engines) instead of driving the server under test. The runner runs it once per variant (one
 * configuration, e.g. "2 instances"); each variant is a column of its table. It needs to start
 * processes, so it is skipped with --url.
 */
export interface SelfHostedScenario<K extends string = string> {
  name: string;
  title: string;
  params: Record<K, ParamSpec>;
  metrics: readonly MetricSpec[];
  /** The columns, in order: a label per variant. */
  variants(params: Record<K, number>): string[];
  /** What it starts or opens, for the report's "Servers:" line. */
  describes: string;
  runVariant(ctx: SelfHostedContext<K>, variant: number): Promise<SelfHostedResult>;
}

export interface SelfHostedResult extends ScenarioResult {
  /** What the servers it started logged as warnings or errors. */
  complaints: string[];
}

export const defineSelfHosted = <K extends string>(
  scenario: SelfHostedScenario<K>,
): SelfHostedScenario => scenario as unknown as SelfHostedScenario;

export type AnyScenario = Scenario | SelfHostedScenario;

export const isSelfHosted = (scenario: AnyScenario): scenario is SelfHostedScenario =>
  "runVariant" in scenario;
