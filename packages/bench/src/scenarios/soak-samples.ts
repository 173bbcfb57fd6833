import { isRunning, readHeapUsed, readOpenFds, readRss } from "../servers.ts";
import { linearSlope } from "../stats.ts";
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
  /** Least-squares slope per hour over the samples after warm-up. */
  perHour: number | null;
  /** First and last readings after warm-up. */
  first: number | null;
  last: number | null;
  /** Largest and smallest reading after warm-up. */
  max: number | null;
  min: number | null;
  /** Seconds of samples the trend is taken over. */
  spanS: number;
}

/**
 * How a quantity moved in the last server process (the longest, from the last restart to the
 * end), after its warm-up: a quarter of its life, at least 3 minutes when it lived 6 or more.
 * The clients' return after a restart (hundreds of reconnects and syncs at once) lifts memory
 * for a minute or two before the garbage collector gives it back; a fit that started there
 * would read that fall as a trend.
 */
export function trend(
  samples: readonly SoakSample[],
  pick: (s: SoakSample) => number | null,
): Trend {
  const segment = samples.at(-1)?.segment;
  const own = samples.filter((s) => s.segment === segment);
  const start = own[0]?.t ?? 0;
  const life = (own.at(-1)?.t ?? 0) - start;
  const warm = start + Math.max(life * 0.25, Math.min(180, life * 0.5));
  const points = own.flatMap((s) => {
    const y = pick(s);
    return s.t >= warm && y !== null ? [{ t: s.t, y }] : [];
  });
  const slope = linearSlope(points);
  const ys = points.map((p) => p.y);
  return {
    perHour: slope === null ? null : round(slope * 3600),
    first: points[0]?.y ?? null,
    last: points.at(-1)?.y ?? null,
    max: ys.length > 0 ? Math.max(...ys) : null,
    min: ys.length > 0 ? Math.min(...ys) : null,
    spanS: Math.round((points.at(-1)?.t ?? 0) - (points[0]?.t ?? 0)),
  };
}

const round = (x: number): number => Math.round(x * 10) / 10;
