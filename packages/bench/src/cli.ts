import { join } from "node:path";
import { PROTOCOLS, type Protocol } from "./adapters/index.ts";
import { formatContext, formatTable, REPO_ROOT } from "./report.ts";
import { runBench } from "./runner.ts";
import {
  ALL_SCENARIOS,
  type AnyScenario,
  isSelfHosted,
  ON_REQUEST,
  SCENARIOS,
} from "./scenarios/index.ts";
import { buildServer, SERVER_KINDS, SERVER_SPECS, type ServerKind } from "./servers.ts";

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const paramFlag = (scenario: AnyScenario, key: string) => `--${scenario.name}-${kebab(key)}`;

function usage(): string {
  const sizes = ALL_SCENARIOS.flatMap((s) =>
    Object.entries(s.params).map(
      ([key, p]) =>
        `  ${paramFlag(s, key).padEnd(30)} ${p.help} (default ${p.default}, tiny ${p.tiny})`,
    ),
  );
  return `Usage: pnpm bench [options]

Load scenarios against Tandem and baseline servers, or any server by URL. Results go to
bench-results/ as JSON lines, and a table per scenario to stdout; progress goes to stderr.

Servers (each started in its own process on 127.0.0.1, fresh temp data dir per run):
  --compare                      Tandem and every baseline: ${SERVER_KINDS.join(", ")}
  --servers LIST                 a comma-separated subset (default: tandem)
  --url URL --protocol P         drive an already running server instead (P: ${PROTOCOLS.join(" or ")})
  --server-pid PID               with --url: the server's local process id, for /proc figures
  --server-data DIR              with --url: its data directory, for disk figures
  --tandem-args "ARGS"           extra flags for \`tandem serve\`, e.g. "--fsync"
  --server-node-flags "FLAGS"    node flags for every server process, e.g. "--cpu-prof"
  --sources                      run Tandem from its TypeScript sources (tsx) instead of the
                                 built JavaScript users install (built first when stale)

Scenarios:
  --scenario LIST                comma-separated (default: all): ${SCENARIOS.map((s) => s.name).join(", ")}
                                 only when named: ${ON_REQUEST.map((s) => s.name).join(", ")}
  --minutes N                    shorthand for --soak-minutes N
  --runs N                       runs per scenario and server; tables show medians (default 1)
  --tiny                         tiny sizes (what the smoke test runs)
  --trace FILE                   editing trace (.json or .json.gz) for the persistence and versions scenarios
${sizes.join("\n")}

Output:
  --out DIR                      where the JSON lines go (default: bench-results/ at the repo root)
  --quiet                        no progress lines
  --help
`;
}

class UsageError extends Error {}

interface Parsed {
  flags: Map<string, string>;
  switches: Set<string>;
}

const SWITCHES = new Set(["--compare", "--tiny", "--quiet", "--sources", "--help", "-h"]);

function parseArgv(argv: readonly string[]): Parsed {
  const flags = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (SWITCHES.has(arg)) {
      switches.add(arg);
      continue;
    }
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf("=");
    if (eq > 0) {
      flags.set(arg.slice(0, eq), arg.slice(eq + 1));
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined) throw new UsageError(`${arg} needs a value`);
    flags.set(arg, value);
    i++;
  }
  return { flags, switches };
}

const list = (value: string) =>
  value
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer`);
  return n;
}

/** Exit codes: 0 every run finished, 1 some run failed or a check did not hold, 2 bad usage. */
export async function main(argv: readonly string[]): Promise<number> {
  // y-websocket's provider adds a process "exit" listener per client; hundreds are expected here.
  process.setMaxListeners(0);
  let parsed: Parsed;
  try {
    parsed = parseArgv(argv);
  } catch (error) {
    process.stderr.write(`tandem-bench: ${(error as Error).message}\n`);
    return 2;
  }
  const { flags, switches } = parsed;
  if (switches.has("--help") || switches.has("-h")) {
    process.stdout.write(usage());
    return 0;
  }
  try {
    const known = new Set([
      "--servers",
      "--url",
      "--protocol",
      "--server-pid",
      "--server-data",
      "--tandem-args",
      "--server-node-flags",
      "--scenario",
      "--scenarios",
      "--runs",
      "--trace",
      "--out",
      "--minutes",
    ]);
    const scenarioFlags = new Map<string, [AnyScenario, string]>();
    for (const s of ALL_SCENARIOS)
      for (const key of Object.keys(s.params)) scenarioFlags.set(paramFlag(s, key), [s, key]);
    const minutes = flags.get("--minutes");
    if (minutes !== undefined) {
      if (flags.has("--soak-minutes")) throw new UsageError("give --minutes or --soak-minutes");
      flags.set("--soak-minutes", minutes);
    }
    for (const flag of flags.keys()) {
      if (!known.has(flag) && !scenarioFlags.has(flag))
        throw new UsageError(`unknown flag ${flag}`);
    }

    const scenarioNames = flags.get("--scenario") ?? flags.get("--scenarios");
    const scenarios = scenarioNames
      ? list(scenarioNames).map((name) => {
          const found = ALL_SCENARIOS.find((s) => s.name === name);
          if (!found) throw new UsageError(`unknown scenario ${name}`);
          return found;
        })
      : SCENARIOS;

    const url = flags.get("--url");
    const protocol = flags.get("--protocol");
    if (url && !protocol) throw new UsageError("--url needs --protocol hocuspocus|y-websocket");
    if (protocol && !PROTOCOLS.includes(protocol as Protocol)) {
      throw new UsageError(`--protocol must be one of ${PROTOCOLS.join(", ")}`);
    }
    if (url && (switches.has("--compare") || flags.has("--servers"))) {
      throw new UsageError(
        "--url drives one external server; it cannot be combined with --compare",
      );
    }
    let servers: ServerKind[] = ["tandem"];
    if (switches.has("--compare")) servers = [...SERVER_KINDS];
    const serverList = flags.get("--servers");
    if (serverList) {
      servers = list(serverList).map((name) => {
        if (!SERVER_KINDS.includes(name as ServerKind)) {
          throw new UsageError(`unknown server ${name} (known: ${SERVER_KINDS.join(", ")})`);
        }
        return name as ServerKind;
      });
    }

    const tiny = switches.has("--tiny");
    const params: Record<string, Record<string, number>> = {};
    for (const s of scenarios) {
      params[s.name] = Object.fromEntries(
        Object.entries(s.params).map(([key, p]) => {
          const flag = paramFlag(s, key);
          const given = flags.get(flag);
          return [
            key,
            given === undefined ? (tiny ? p.tiny : p.default) : positiveInt(flag, given),
          ];
        }),
      );
    }
    const split = (v: string | undefined) => (v ? v.split(/\s+/).filter(Boolean) : []);
    const quiet = switches.has("--quiet");
    const t0 = Date.now();
    const progress = (message: string) => {
      if (quiet) return;
      const s = Math.round((Date.now() - t0) / 1000);
      process.stderr.write(
        `[bench ${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}] ${message}\n`,
      );
    };

    // Tandem runs as users install it: the built JavaScript, not the sources through tsx
    // (which costs seconds at start and wraps functions at run time).
    const tandemFromDist = !url && !switches.has("--sources");
    if (tandemFromDist) buildServer(progress);

    const serverPid = flags.get("--server-pid");
    const serverData = flags.get("--server-data");
    const outcome = await runBench({
      scenarios,
      servers,
      ...(url
        ? {
            external: {
              url,
              protocol: protocol as Protocol,
              ...(serverPid ? { pid: positiveInt("--server-pid", serverPid) } : {}),
              ...(serverData ? { dataDir: serverData } : {}),
            },
          }
        : {}),
      runs: positiveInt("--runs", flags.get("--runs") ?? "1"),
      params,
      tracePath: flags.get("--trace") ?? null,
      outDir: flags.get("--out") ?? join(REPO_ROOT, "bench-results"),
      launch: {
        nodeFlags: split(flags.get("--server-node-flags")),
        tandemArgs: split(flags.get("--tandem-args")),
        tandemFromDist,
      },
      progress,
      argv: [...argv],
      onSummary: (scenario, summary, runs) => {
        process.stdout.write(`\n${formatTable(scenario, summary, runs)}\n`);
      },
    });
    const first = outcome.summaries[0];
    if (first) process.stdout.write(`\n${formatContext(first.machine, first.versions)}\n`);
    const driving = scenarios.some((s) => !isSelfHosted(s));
    const selfHosted = url ? [] : scenarios.filter(isSelfHosted);
    const described = [
      ...(!driving
        ? []
        : url
          ? [`external ${url} (${protocol})`]
          : servers.map((k) => `${SERVER_SPECS[k].label} = ${SERVER_SPECS[k].description}`)),
      ...selfHosted.map((s) => `${s.name}: ${s.describes}`),
    ];
    process.stdout.write(`Servers: ${described.join("; ")}\n`);
    if (outcome.file) process.stdout.write(`Results: ${outcome.file}\n`);
    const failed = outcome.runs.some((r) => r.error !== undefined);
    return failed ? 1 : 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`tandem-bench: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
