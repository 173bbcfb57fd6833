import { isRunning, readHeapUsed, readOpenFds, readRss } from "../servers.ts";
import { type SegmentPoint, withinSegmentSlope } from "../stats.ts";
import type { Target } from "../target.ts";

/** One reading of the server process during a soak. */
export interface SoakSample {
  /** Seconds since the soak started. */
  t: number;
  pid: number | null;
  /** Which server process this is: 0 for the first, +1 at each restart the soak made. */
  segment: number;
  rssMiB: number | null;
  heapMiB: number | null;
  fds: number | null;
  /** Client sessions open at that moment. */
  sessions: number;
}

const MiB = 1024 * 1024;

/** Reads the server's RSS, heap and open descriptors every `everyMs`, until stop(). */
export class SoakSampler {
  readonly samples: SoakSample[] = [];
  private segment = 0;
  /** Set when a sample found the process gone, or a pid the soak did not start. */
  unexpectedExit = false;
  private knownPid: number | null;
  private timer: NodeJS.Timeout | null = null;
  private everyMs = 5_000;
  private reading: Promise<void> = Promise.resolve();

  constructor(
    private readonly target: Target,
    private readonly sessions: () => number,
    private readonly t0: number,
  ) {
    this.knownPid = target.pid;
  }

  start(everyMs: number): void {
    this.everyMs = everyMs;
    const tick = () => {
      this.reading = this.read().finally(() => {
        if (this.timer !== null) this.timer = setTimeout(tick, everyMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Restarts the server with sampling paused: later samples belong to a new segment. */
  async around(restart: () => Promise<void>): Promise<void> {
    await this.stop();
    await restart();
    this.segment++;
    this.knownPid = this.target.pid;
    this.start(this.everyMs);
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.reading;
  }

  private async read(): Promise<void> {
    const pid = this.target.pid;
    // The process the soak last started is gone, or another one took its place.
    if (pid !== this.knownPid || (pid !== null && !(await isRunning(pid)))) {
      this.unexpectedExit = true;
    }
    const [rss, heap, fds] = await Promise.all([
      pid === null ? null : readRss(pid),
      readHeapUsed(this.target.url),
      pid === null ? null : readOpenFds(pid),
    ]);
    this.samples.push({
      t: Math.round((performance.now() - this.t0) / 100) / 10,
      pid,
      segment: this.segment,
      rssMiB: rss === null ? null : round(rss / MiB),
      heapMiB: heap === null ? null : round(heap / MiB),
      fds,
      sessions: this.sessions(),
    });
  }
}

export interface Trend {
  /** Slope per hour after warm-up, fitted within each server process's life. */
  perHour: number | null;
  /** First and last readings after warm-up (of the last process). */
  first: number | null;
  last: number | null;
  /** Largest and smallest reading after warm-up in any one process. */
  max: number | null;
  min: number | null;
}

/**
 * How a quantity moved after warm-up: the first `warmupShare` of each process's life (at least
 * `minWarmupS` seconds) is left out, while documents load and clients come back after a restart.
 */
export function trend(
  samples: readonly SoakSample[],
  pick: (s: SoakSample) => number | null,
  warmupShare: number,
  minWarmupS: number,
): Trend {
  const points: SegmentPoint[] = [];
  const segments = [...new Set(samples.map((s) => s.segment))];
  for (const segment of segments) {
    const own = samples.filter((s) => s.segment === segment);
    const start = own[0]?.t ?? 0;
    const end = own.at(-1)?.t ?? 0;
    const warm = start + Math.max(minWarmupS, (end - start) * warmupShare);
    for (const s of own) {
      const y = pick(s);
      if (s.t >= warm && y !== null) points.push({ segment, t: s.t, y });
    }
  }
  const slope = withinSegmentSlope(points);
  const lastSegment = points.at(-1)?.segment;
  const ofLast = points.filter((p) => p.segment === lastSegment);
  const ys = points.map((p) => p.y);
  return {
    perHour: slope === null ? null : round(slope * 3600),
    first: ofLast[0]?.y ?? null,
    last: ofLast.at(-1)?.y ?? null,
    max: ys.length > 0 ? Math.max(...ys) : null,
    min: ys.length > 0 ? Math.min(...ys) : null,
  };
}

const round = (x: number): number => Math.round(x * 10) / 10;
