export { seededRandom } from "../random.ts";

/**
 * A fresh seed for a request that gave none (stored with the generation, so it can be replayed).
 *
 * @example
 * const seed = request.seed ?? newSeed();
 */
export function newSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! & 0x7fffffff;
}
