/** Order statistics over samples. Samples are few enough (at most millions) to sort. */

/** Nearest-rank percentile (p in 0..100) of the samples; null when there are none. */
export function percentile(sorted: readonly number[] | Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? null;
}

export function median(values: readonly number[]): number | null {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return null;
  const mid = Math.floor(n / 2);
  const hi = sorted[mid] as number;
  return n % 2 === 1 ? hi : ((sorted[mid - 1] as number) + hi) / 2;
}

/** A growable list of latency samples in a typed array (millions of numbers, little garbage). */
export class Samples {
  private data = new Float64Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  /** p50/p95/p99/max in the unit pushed; null values when there are no samples. */
  summary(): { p50: number | null; p95: number | null; p99: number | null; max: number | null } {
    const sorted = this.data.slice(0, this.length).sort();
    return {
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      max: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : null,
    };
  }
}

/** Least-squares slope of y over t; null with fewer than two distinct times. */
export function linearSlope(points: readonly { t: number; y: number }[]): number | null {
  if (points.length < 2) return null;
  const mt = points.reduce((sum, p) => sum + p.t, 0) / points.length;
  const my = points.reduce((sum, p) => sum + p.y, 0) / points.length;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.t - mt) * (p.y - my);
    sxx += (p.t - mt) ** 2;
  }
  return sxx === 0 ? null : sxy / sxx;
}
