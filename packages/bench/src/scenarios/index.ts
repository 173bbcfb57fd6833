import { crash } from "./crash.ts";
import { fanOut } from "./fan-out.ts";
import { manyDocs } from "./many-docs.ts";
import { persistence } from "./persistence.ts";
import { presence } from "./presence.ts";
import { throughput } from "./throughput.ts";
import type { Scenario } from "./types.ts";

export type { MetricSpec, ParamSpec, Scenario, ScenarioContext, ScenarioResult } from "./types.ts";

/** Every scenario, in the order `pnpm bench` runs them. */
export const SCENARIOS: readonly Scenario[] = [
  fanOut,
  manyDocs,
  throughput,
  persistence,
  crash,
  presence,
];

/** Each parameter of a scenario at its default or its tiny size. */
export function sizesOf(scenario: Scenario, size: "default" | "tiny"): Record<string, number> {
  return Object.fromEntries(Object.entries(scenario.params).map(([k, p]) => [k, p[size]]));
}
