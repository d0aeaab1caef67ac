/**
 * `ingest.palette`: the dominant colours of an image — k-means in CIE Lab on a 100×100 copy,
 * seeded k-means++ so the same image always gives the same palette; 2k clusters are found, then
 * near-duplicates (ΔE < 10) and slivers (< 2% of pixels) are folded into their neighbours and the
 * k heaviest kept. Hand-written: no maintained package does seeded k-means in Lab over sharp's pixels.
 */
import sharp, { type Sharp } from "sharp";
import { SPAN, type Telemetry } from "../telemetry/index.ts";
import { deltaE, labToRgb, rgbToHex, rgbToLab, type Lab } from "./color.ts";
import { seededRandom } from "../random.ts";

export interface PaletteOptions {
  /** Colours to find (at most this many are returned). */
  k?: number;
  /** Side of the square copy the colours are read from. */
  sample?: number;
  /** Clusters closer than this (CIE76 ΔE) are merged into one colour. */
  mergeDistance?: number;
  /** Clusters with a smaller share of the pixels (edge blends, noise) fold into their nearest colour. */
  minShare?: number;
  maxIterations?: number;
  seed?: number;
}

const DEFAULTS = { k: 5, sample: 100, mergeDistance: 10, minShare: 0.02, maxIterations: 30, seed: 0x5eed } as const;

/**
 * The opaque pixels as weighted points in Lab: pixels are binned at 5 bits per channel and each
 * bin is represented by the mean of its pixels (exact for flat colours, fewer points for photos).
 */
function histogram(raw: Uint8Array, channels: number): { points: Float64Array; weights: Float64Array } {
  const bins = new Map<number, [count: number, r: number, g: number, b: number]>();
  for (let i = 0; i < raw.length; i += channels) {
    if (channels === 4 && raw[i + 3] === 0) continue;
    const r = raw[i]!;
    const g = raw[i + 1]!;
    const b = raw[i + 2]!;
    const key = ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3);
    const bin = bins.get(key);
    if (bin) {
      bin[0]++;
      bin[1] += r;
      bin[2] += g;
      bin[3] += b;
    } else {
      bins.set(key, [1, r, g, b]);
    }
  }
  const points = new Float64Array(bins.size * 3);
  const weights = new Float64Array(bins.size);
  let j = 0;
  for (const [count, r, g, b] of bins.values()) {
    const lab = rgbToLab(Math.round(r / count), Math.round(g / count), Math.round(b / count));
    points[j * 3] = lab[0];
    points[j * 3 + 1] = lab[1];
    points[j * 3 + 2] = lab[2];
    weights[j] = count;
    j++;
  }
  return { points, weights };
}

function dist2(points: Float64Array, i: number, centres: Float64Array, c: number): number {
  const dl = points[i * 3]! - centres[c * 3]!;
  const da = points[i * 3 + 1]! - centres[c * 3 + 1]!;
  const db = points[i * 3 + 2]! - centres[c * 3 + 2]!;
  return dl * dl + da * da + db * db;
}

/** Weighted k-means++ seeding. */
function seedCentres(points: Float64Array, weights: Float64Array, k: number, random: () => number): Float64Array {
  const n = weights.length;
  const centres = new Float64Array(k * 3);
  const nearest = new Float64Array(n).fill(Infinity);
  const pick = (scores: Float64Array): number => {
    let total = 0;
    for (let i = 0; i < n; i++) total += scores[i]!;
    let target = random() * total;
    for (let i = 0; i < n; i++) {
      target -= scores[i]!;
      if (target < 0) return i;
    }
    return n - 1;
  };
  const scores = new Float64Array(weights);
  for (let c = 0; c < k; c++) {
    const chosen = pick(scores);
    centres.set(points.subarray(chosen * 3, chosen * 3 + 3), c * 3);
    for (let i = 0; i < n; i++) {
      const d = dist2(points, i, centres, c);
      if (d < nearest[i]!) nearest[i] = d;
      scores[i] = weights[i]! * nearest[i]!;
    }
  }
  return centres;
}

interface Cluster {
  lab: Lab;
  weight: number;
}

const CONVERGED_SHIFT = 1;

function kmeans(points: Float64Array, weights: Float64Array, k: number, maxIterations: number, random: () => number): Cluster[] {
  const n = weights.length;
  const centres = seedCentres(points, weights, k, random);
  const assignment = new Int32Array(n).fill(-1);
  const sums = new Float64Array(k * 3);
  const mass = new Float64Array(k);
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    let changed = false;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        const d = dist2(points, i, centres, c);
        if (d < bestD) {
          bestD = d;
          best = c;
        }
      }
      if (assignment[i] !== best) {
        assignment[i] = best;
        changed = true;
      }
    }
    if (!changed && iteration > 0) break;
    sums.fill(0);
    mass.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assignment[i]!;
      const w = weights[i]!;
      sums[c * 3] = sums[c * 3]! + points[i * 3]! * w;
      sums[c * 3 + 1] = sums[c * 3 + 1]! + points[i * 3 + 1]! * w;
      sums[c * 3 + 2] = sums[c * 3 + 2]! + points[i * 3 + 2]! * w;
      mass[c] = mass[c]! + w;
    }
    let maxShift2 = 0;
    for (let c = 0; c < k; c++) {
      if (mass[c] === 0) continue;
      const l = sums[c * 3]! / mass[c]!;
      const a = sums[c * 3 + 1]! / mass[c]!;
      const b = sums[c * 3 + 2]! / mass[c]!;
      const shift2 = (l - centres[c * 3]!) ** 2 + (a - centres[c * 3 + 1]!) ** 2 + (b - centres[c * 3 + 2]!) ** 2;
      if (shift2 > maxShift2) maxShift2 = shift2;
      centres[c * 3] = l;
      centres[c * 3 + 1] = a;
      centres[c * 3 + 2] = b;
    }
    // Converged once no centre moves by a perceptible amount (1 ΔE76, under the ~2.3 JND).
    if (maxShift2 < CONVERGED_SHIFT * CONVERGED_SHIFT) break;
  }
  mass.fill(0);
  for (let i = 0; i < n; i++) {
    const c = assignment[i]!;
    mass[c] = mass[c]! + weights[i]!;
  }
  const clusters: Cluster[] = [];
  for (let c = 0; c < k; c++) {
    if (mass[c]! > 0) clusters.push({ lab: [centres[c * 3]!, centres[c * 3 + 1]!, centres[c * 3 + 2]!], weight: mass[c]! });
  }
  return clusters;
}

/**
 * Folds each cluster into a heavier one closer than `distance`, and each cluster lighter than
 * `minWeight` into its nearest heavier one; heaviest first.
 */
function mergeNear(clusters: Cluster[], distance: number, minWeight: number): Cluster[] {
  const sorted = [...clusters].sort((a, b) => b.weight - a.weight);
  const kept: Cluster[] = [];
  for (const cluster of sorted) {
    let near = kept.find((k) => deltaE(k.lab, cluster.lab) < distance);
    if (!near && cluster.weight < minWeight && kept.length > 0) {
      near = kept.reduce((best, k) => (deltaE(k.lab, cluster.lab) < deltaE(best.lab, cluster.lab) ? k : best));
    }
    if (!near) {
      kept.push({ ...cluster });
      continue;
    }
    const total = near.weight + cluster.weight;
    near.lab = [
      (near.lab[0] * near.weight + cluster.lab[0] * cluster.weight) / total,
      (near.lab[1] * near.weight + cluster.lab[1] * cluster.weight) / total,
      (near.lab[2] * near.weight + cluster.lab[2] * cluster.weight) / total,
    ];
    near.weight = total;
  }
  return kept.sort((a, b) => b.weight - a.weight);
}

/** A palette colour with its share of the opaque pixels (0–1). */
export interface PaletteColor {
  hex: string;
  share: number;
}

/**
 * Dominant colours with their pixel shares, most dominant first. Fully transparent pixels are
 * ignored; an image with none opaque gives an empty list.
 *
 * @example
 * const colors = await extractPaletteWithShares(bytes); // [{ hex: "#d62828", share: 0.6 }, ...]
 */
export async function extractPaletteWithShares(input: Uint8Array | Sharp, options: PaletteOptions = {}): Promise<PaletteColor[]> {
  const o = { ...DEFAULTS, ...options };
  const image = input instanceof Uint8Array ? sharp(input, { failOn: "error" }) : input.clone();
  const { data, info } = await image
    .resize(o.sample, o.sample, { fit: "fill", kernel: "cubic" })
    .toColourspace("srgb")
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { points, weights } = histogram(data, info.channels);
  if (weights.length === 0) return [];
  // Over-cluster, then merge near-duplicates: with exactly k clusters, k-means blends distinct
  // minor colours into the dominant ones and reports muddy averages.
  const k = Math.min(o.k * 2, weights.length);
  const total = weights.reduce((sum, w) => sum + w, 0);
  const clusters = mergeNear(kmeans(points, weights, k, o.maxIterations, seededRandom(o.seed)), o.mergeDistance, o.minShare * total);
  return clusters.slice(0, o.k).map((c) => ({ hex: rgbToHex(labToRgb(c.lab)), share: c.weight / total }));
}

/**
 * Up to `k` dominant colours as `#rrggbb`, most dominant first; deterministic for the same
 * pixels. Generation reuses this for generated images.
 *
 * @example
 * const hexColors = await extractPalette(bytes); // ["#d62828", "#1d3557", "#ffffff"]
 */
export async function extractPalette(input: Uint8Array | Sharp, k = 5): Promise<string[]> {
  return (await extractPaletteWithShares(input, { k })).map((c) => c.hex);
}

/**
 * The `ingest.palette` stage: the palette inside its span, with the colours as an attribute.
 *
 * @example
 * const hexColors = await paletteStage(telemetry, decoded.pixels);
 */
export function paletteStage(telemetry: Telemetry, image: Uint8Array | Sharp): Promise<string[]> {
  return telemetry.tracedSpan(SPAN.ingestPalette, {}, async (span) => {
    const colors = await extractPalette(image);
    span.setAttribute("image.palette", colors);
    return colors;
  });
}
