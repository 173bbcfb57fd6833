import { crash } from "./crash.ts";
import { fanOut } from "./fan-out.ts";
import { largeDoc } from "./large-doc.ts";
import { manyDocs } from "./many-docs.ts";
import { overload } from "./overload.ts";
import { persistence } from "./persistence.ts";
import { presence } from "./presence.ts";
import { scaleOut } from "./scale-out.ts";
import { stalls } from "./stalls.ts";
import { throughput } from "./throughput.ts";
import type { AnyScenario } from "./types.ts";

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
  largeDoc,
  overload,
];

/** Each parameter of a scenario at its default or its tiny size. */
export function sizesOf(scenario: AnyScenario, size: "default" | "tiny"): Record<string, number> {
  return Object.fromEntries(Object.entries(scenario.params).map(([k, p]) => [k, p[size]]));
}
