/**
 * A seeded generator (mulberry32): the same seed draws the same numbers in [0, 1). Written by
 * hand because it is a few lines and must never change between versions: palettes, the demo
 * corpus bytes and generation's reference choice all depend on its exact sequence.
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
