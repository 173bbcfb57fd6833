/**
 * A small seeded PRNG (mulberry32), so a randomized test that fails can be replayed exactly:
 * tests print their seed and read TANDEM_SEED to reuse it.
 */
export interface Random {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  bytes(n: number): Uint8Array;
}

export function seededRandom(seed = seedFromEnv()): Random {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    seed,
    next,
    int,
    pick: (items) => {
      if (items.length === 0) throw new RangeError("pick from an empty list");
      return items[int(items.length)] as (typeof items)[number];
    },
    bytes: (n) => Uint8Array.from({ length: n }, () => int(256)),
  };
}

function seedFromEnv(): number {
  const fromEnv = Number(process.env.TANDEM_SEED);
  return Number.isInteger(fromEnv) ? fromEnv : Math.floor(Math.random() * 2 ** 31);
}
