/**
 * Colour words in a query ("yellow flowers", "a dark green door") as a fusion signal: the
 * candidates whose stored palette holds the colour, by the same CIEDE2000 distance and threshold
 * as the `color` filter, form a ranked list fused beside the text and vector branches with its
 * own weight (`SEARCH_COLOR_WORD_WEIGHT`). A boost, never a filter: an image without the colour
 * keeps what the branches gave it. The words and their Lab anchors: src/ingest/color-names.ts.
 */
import { colorName, type ColorAnchor } from "../ingest/color-names.ts";
import { hexToLab, paletteDistance } from "./color.ts";
import { normalizeQuery } from "./expand.ts";
import type { CandidateSignal } from "./fuse.ts";

/** A colour a query names. */
export interface QueryColor {
  /** The words as written ("grey", "light blue"). */
  words: string;
  /** The listed colour ("gray", "light blue"). */
  name: string;
  anchors: readonly ColorAnchor[];
}

/**
 * The colours a query names, in order, each once. "light"/"pale"/"dark"/"deep" before a colour
 * pick CSS's shade of it where there is one.
 *
 * @example
 * colorWordsIn("Yellow flowers by a light-blue door").map((c) => c.name); // ["yellow", "light blue"]
 */
export function colorWordsIn(query: string): QueryColor[] {
  const words = normalizeQuery(query).split(" ");
  const found = new Map<string, QueryColor>();
  words.forEach((word, i) => {
    const color = colorName(word, words[i - 1]);
    if (!color || found.has(color.name)) return;
    const shaded = color.name.includes(" ");
    found.set(color.name, { words: shaded ? `${words[i - 1]} ${word}` : word, name: color.name, anchors: color.anchors });
  });
  return [...found.values()];
}

/**
 * The `color` filter's `#rrggbb` as a query colour anchored at itself, so the reranker scores
 * palettes against a filter and against colour words the same way.
 *
 * @example
 * paletteMatch([filterColor("#c0392b")], ["#c13a2c"], 20).score; // ≈ 1
 */
export function filterColor(hex: string): QueryColor {
  const lab = hexToLab(hex);
  if (!lab) throw new RangeError(`not a #rrggbb colour: ${hex}`);
  return { words: hex, name: hex, anchors: [{ keyword: hex, hex, lab }] };
}

/** How well one palette holds the query's colours. */
export interface PaletteMatch {
  /** Mean over the query's colours of max(0, 1 − ΔE00 / threshold), in [0, 1]. */
  score: number;
  /** Per colour, the smallest CIEDE2000 distance from any of its anchors to any palette colour. */
  distances: Record<string, number>;
  /** Per colour, max(0, 1 − distance / threshold). */
  closeness: Record<string, number>;
}

/**
 * Scores a palette against the query's colours: each colour's nearest anchor-to-palette
 * CIEDE2000 distance (the `color` filter's `paletteDistance`), turned into a closeness that is 0
 * at `threshold` and beyond.
 *
 * @example
 * paletteMatch(colorWordsIn("yellow flowers"), ["#ffd60a", "#386641"], 20).score; // ≈ 0.6
 */
export function paletteMatch(colors: readonly QueryColor[], palette: readonly string[], threshold: number): PaletteMatch {
  const distances: Record<string, number> = {};
  const closeness: Record<string, number> = {};
  let sum = 0;
  for (const color of colors) {
    const d = paletteDistance(color.anchors.map((a) => a.lab), palette);
    distances[color.name] = Math.round(d * 100) / 100;
    closeness[color.name] = Number.isFinite(d) ? Math.max(0, 1 - d / Math.max(threshold, 1e-6)) : 0;
    sum += closeness[color.name]!;
  }
  return { score: colors.length === 0 ? 0 : sum / colors.length, distances, closeness };
}

/** The query's colours against the candidates' palettes, for one request (see `colorMatch`). */
export interface ColorMatch {
  colors: readonly QueryColor[];
  /** `paletteMatch(colors, palette, threshold).score`, remembered per palette. */
  score(palette: readonly string[]): number;
  /**
   * Each query word that is part of a colour's name ("light", "blue" of "light blue") → how close a
   * palette comes to that colour, in [0, 1]: the reranker counts the word as covered by the palette.
   */
  words: ReadonlyMap<string, (palette: readonly string[]) => number>;
  /** The colours as a fusion signal named `color`: the candidates whose palette scores above 0, best first. */
  signal(weight: number): CandidateSignal;
}

/**
 * One request's colour matching: fuse (the `color` signal) and rerank (the `color` feature and
 * colour-word coverage) score each candidate's palette once, remembered by the palette array of
 * its record (both stages hold the same record).
 *
 * @example
 * const match = colorMatch(colorWordsIn("yellow car"), 20);
 * fuseStage(deps, { ..., signals: [match.signal(1)] });
 */
export function colorMatch(colors: readonly QueryColor[], threshold: number): ColorMatch {
  const memo = new WeakMap<readonly string[], PaletteMatch>();
  const match = (palette: readonly string[]) => {
    let m = memo.get(palette);
    if (!m) memo.set(palette, (m = paletteMatch(colors, palette, threshold)));
    return m;
  };
  const score = (palette: readonly string[]) => match(palette).score;
  const words = new Map<string, (palette: readonly string[]) => number>();
  for (const color of colors) {
    const closeness = (palette: readonly string[]) => match(palette).closeness[color.name] ?? 0;
    for (const word of color.words.split(" ")) if (!words.has(word)) words.set(word, closeness);
  }
  return {
    colors,
    score,
    words,
    signal: (weight) => ({
      name: "color",
      weight,
      rank: (candidates) =>
        candidates
          .map((image) => ({ id: image.id, score: score(image.hexColors) }))
          .filter((hit) => hit.score > 0)
          .sort((a, b) => b.score - a.score),
    }),
  };
}
