/**
 * A seeded generator (mulberry32): the same seed draws the same numbers in [0, 1). Written by
 * hand because it is four lines and must never change between versions.
 *
 * @example
 * const random = seededRandom(42);
 * random(); // always the same first number for 42
 */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * A fresh seed for a request that gave none (stored with the generation, so it can be replayed).
 *
 * @example
 * const seed = request.seed ?? newSeed();
 */
export function newSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! & 0x7fffffff;
}
