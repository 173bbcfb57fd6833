import { crash } from "./crash.ts";
import { fanOut } from "./fan-out.ts";
import { largeDoc } from "./large-doc.ts";
import { manyDocs } from "./many-docs.ts";
import { overload } from "./overload.ts";
import { persistence } from "./persistence.ts";
import { presence } from "./presence.ts";
import { reconnect } from "./reconnect.ts";
import { scaleOut } from "./scale-out.ts";
import { soak } from "./soak.ts";
import { stalls } from "./stalls.ts";
import { throughput } from "./throughput.ts";
import type { AnyScenario } from "./types.ts";
import { versions } from "./versions.ts";

export {
  type AnyScenario,
  isSelfHosted,
  type MetricSpec,
  type ParamSpec,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  type SelfHostedScenario,
} from "./types.ts";

/** Every scenario, in the order `pnpm bench` runs them. */
export const SCENARIOS: readonly AnyScenario[] = [
  fanOut,
  manyDocs,
  throughput,
  persistence,
  crash,
  presence,
  scaleOut,
  stalls,
  versions,
  largeDoc,
  reconnect,
  overload,
];

/**
 * Scenarios that run only when named (`--scenario soak`): they take many minutes, and
 * `pnpm bench` with no --scenario runs SCENARIOS.
 */
export const ON_REQUEST: readonly AnyScenario[] = [soak];

/** Every scenario the bench knows. */
export const ALL_SCENARIOS: readonly AnyScenario[] = [...SCENARIOS, ...ON_REQUEST];

/** Each parameter of a scenario at its default or its tiny size. */
export function sizesOf(scenario: AnyScenario, size: "default" | "tiny"): Record<string, number> {
  return Object.fromEntries(Object.entries(scenario.params).map(([k, p]) => [k, p[size]]));
}
