/**
 * Sequence alignment for the diff: which items of `a` correspond to which of `b`, in order.
 * One dynamic programme serves both uses: exact matching (weight 1 for equal items, the longest
 * common subsequence) and pairing similar blocks (weight = similarity).
 */

/** Pairs [i, j], increasing in both, with the greatest total weight; weight ≤ 0 never pairs. */
export function alignBy(
  n: number,
  m: number,
  weight: (i: number, j: number) => number,
  /** Beyond n×m cells no pairs are found (the caller treats the range as replaced). */
  maxCells = 1_000_000,
): Array<[number, number]> {
  if (n === 0 || m === 0 || n * m > maxCells) return [];
  // best[(i * (m + 1)) + j]: the best total for a[i..] and b[j..].
  const width = m + 1;
  const best = new Float64Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      const w = weight(i, j);
      const skip = Math.max(best[(i + 1) * width + j] ?? 0, best[i * width + j + 1] ?? 0);
      const take = w > 0 ? w + (best[(i + 1) * width + j + 1] ?? 0) : 0;
      best[i * width + j] = Math.max(skip, take);
    }
  }
  const pairs: Array<[number, number]> = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    const here = best[i * width + j] ?? 0;
    const w = weight(i, j);
    if (w > 0 && here === w + (best[(i + 1) * width + j + 1] ?? 0)) {
      pairs.push([i, j]);
      i++;
      j++;
    } else if (here === (best[(i + 1) * width + j] ?? 0)) {
      i++;
    } else {
      j++;
    }
  }
  return pairs;
}

/** A stretch of the two sequences: equal items, or items of `a` replaced by items of `b`. */
export type Segment<T> = { equal: true; a: T[]; b: T[] } | { equal: false; a: T[]; b: T[] };

/**
 * The longest common subsequence of two keyed sequences as alternating segments. Common prefix
 * and suffix are cut first (edits are usually local), so the quadratic part only sees the
 * changed middle; past `maxCells` that middle counts as replaced as a whole.
 */
export function segments<T>(
  a: readonly T[],
  b: readonly T[],
  key: (item: T) => string,
  maxCells?: number,
): Segment<T>[] {
  const ka = a.map(key);
  const kb = b.map(key);
  let start = 0;
  while (start < a.length && start < b.length && ka[start] === kb[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && ka[endA - 1] === kb[endB - 1]) {
    endA--;
    endB--;
  }
  const pairs = alignBy(
    endA - start,
    endB - start,
    (i, j) => (ka[start + i] === kb[start + j] ? 1 : 0),
    maxCells,
  ).map(([i, j]): [number, number] => [start + i, start + j]);

  const out: Segment<T>[] = [];
  const push = (equal: boolean, ia: number, ja: number, ib: number, jb: number) => {
    if (ia === ja && ib === jb) return;
    const last = out[out.length - 1];
    if (last && last.equal === equal) {
      last.a.push(...a.slice(ia, ja));
      last.b.push(...b.slice(ib, jb));
      return;
    }
    out.push({ equal, a: a.slice(ia, ja), b: b.slice(ib, jb) } as Segment<T>);
  };
  push(true, 0, start, 0, start);
  let i = start;
  let j = start;
  for (const [pi, pj] of pairs) {
    push(false, i, pi, j, pj);
    push(true, pi, pi + 1, pj, pj + 1);
    i = pi + 1;
    j = pj + 1;
  }
  push(false, i, endA, j, endB);
  push(true, endA, a.length, endB, b.length);
  return out;
}
