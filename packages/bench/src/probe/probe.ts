import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Protocol } from "../adapters/index.ts";
import { percentile } from "../stats.ts";

/** What the bench tells the probe process. */
export type ProbeCommand =
  | { type: "connect"; protocol: Protocol; url: string; docName: string; intervalMs: number }
  | { type: "phase"; name: string }
  | { type: "disconnect" }
  | { type: "stop" };

/** What the probe process tells the bench. */
export type ProbeReport =
  | { type: "connected" }
  | { type: "error"; message: string }
  | { type: "samples"; phases: Record<string, number[]> };

const PROBE_BIN = fileURLToPath(new URL("../../bin/probe.mjs", import.meta.url));

export interface PhaseFigures {
  samples: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

/**
 * The server's responsiveness, measured from outside: a separate process (so nothing the bench
 * itself does delays it) times round trips to the server on a small document of its own, about
 * every `intervalMs`, and files each under the phase the scenario names (see probe-process.ts).
 */
export class Probe {
  private readonly child: ChildProcess;
  private readonly reports: ProbeReport[] = [];
  private readonly waiters: (() => void)[] = [];
  private readonly exited: Promise<void>;

  private constructor(
    private readonly protocol: Protocol,
    private readonly docName: string,
    private readonly intervalMs: number,
  ) {
    this.child = fork(PROBE_BIN, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
    this.child.on("message", (report: ProbeReport) => {
      this.reports.push(report);
      for (const wake of this.waiters.splice(0)) wake();
    });
    void this.exited.then(() => {
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async start(
    protocol: Protocol,
    url: string,
    docName: string,
    intervalMs: number,
  ): Promise<Probe> {
    const probe = new Probe(protocol, docName, intervalMs);
    try {
      await probe.connect(url);
    } catch (error) {
      probe.child.kill();
      throw error;
    }
    return probe;
  }

  /** (Re)connects to `url` (a restarted server has a new port) and waits for the first round. */
  async connect(url: string): Promise<void> {
    this.reports.length = 0;
    this.command({
      type: "connect",
      protocol: this.protocol,
      url,
      docName: this.docName,
      intervalMs: this.intervalMs,
    });
    const report = await this.next(30_000);
    if (report.type !== "connected") {
      throw new Error(`probe: ${report.type === "error" ? report.message : "no connection"}`);
    }
  }

  /** Round trips sent from now on count for `name`. */
  phase(name: string): void {
    this.command({ type: "phase", name });
  }

  /** Stops probing until the next connect (e.g. while the server restarts). */
  disconnect(): void {
    this.command({ type: "disconnect" });
  }

  /** Stops the probe and returns every phase's figures, in ms. */
  async stop(): Promise<Record<string, PhaseFigures>> {
    this.reports.length = 0;
    this.command({ type: "stop" });
    const report = await this.next(10_000);
    this.child.kill();
    await this.exited;
    if (report.type !== "samples") throw new Error("probe: no samples");
    const figures: Record<string, PhaseFigures> = {};
    for (const [name, values] of Object.entries(report.phases)) {
      const sorted = Float64Array.from(values).sort();
      figures[name] = {
        samples: sorted.length,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        max: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : null,
      };
    }
    return figures;
  }

  /** Kills the probe process (cleanup after a failure). */
  kill(): void {
    this.child.kill();
  }

  private command(command: ProbeCommand): void {
    if (this.child.connected) this.child.send(command);
  }

  private async next(timeoutMs: number): Promise<ProbeReport> {
    const deadline = performance.now() + timeoutMs;
    while (this.reports.length === 0) {
      if (!this.child.connected || performance.now() > deadline) {
        throw new Error("probe: no answer from the probe process");
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - performance.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.reports.shift() as ProbeReport;
  }
}
