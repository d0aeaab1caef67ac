/**
 * Colour words and where they sit in CIE Lab: the fixed list the search uses to read "yellow
 * flowers" as a wish for yellow in the palette, and ingest uses to keep "an orange sunset" from
 * being expanded into fruit.
 *
 * Source: the sRGB values of the CSS Color Module Level 4 named colours (W3C, §6.1 "Named
 * Colors"), converted to Lab (D65) by `hexToLab`. A word is anchored at the keyword of the same
 * name and at the nearby keywords listed with it (a colour word names a range, not a point):
 * "green" is CSS green, forestgreen, seagreen, limegreen and olivedrab. Words CSS has no keyword
 * for (cream, lilac, mint, peach, amber) are anchored at the CSS colours closest in meaning.
 */
import { hexToLab, type Lab } from "./color.ts";

/** The CSS Color 4 named colours this list uses (keyword → sRGB). */
const CSS_COLORS: Record<string, string> = {
  red: "#ff0000", crimson: "#dc143c", firebrick: "#b22222", darkred: "#8b0000",
  orange: "#ffa500", darkorange: "#ff8c00", orangered: "#ff4500",
  yellow: "#ffff00", gold: "#ffd700", lightyellow: "#ffffe0", goldenrod: "#daa520", darkgoldenrod: "#b8860b",
  green: "#008000", forestgreen: "#228b22", seagreen: "#2e8b57", limegreen: "#32cd32", olivedrab: "#6b8e23", darkgreen: "#006400", lightgreen: "#90ee90",
  blue: "#0000ff", mediumblue: "#0000cd", royalblue: "#4169e1", dodgerblue: "#1e90ff", steelblue: "#4682b4", cornflowerblue: "#6495ed",
  darkblue: "#00008b", lightblue: "#add8e6", skyblue: "#87ceeb", deepskyblue: "#00bfff",
  navy: "#000080", midnightblue: "#191970",
  purple: "#800080", rebeccapurple: "#663399", mediumpurple: "#9370db", darkviolet: "#9400d3", blueviolet: "#8a2be2", violet: "#ee82ee", orchid: "#da70d6",
  plum: "#dda0dd", thistle: "#d8bfd8", indigo: "#4b0082",
  pink: "#ffc0cb", hotpink: "#ff69b4", deeppink: "#ff1493", lightpink: "#ffb6c1", palevioletred: "#db7093",
  magenta: "#ff00ff", darkmagenta: "#8b008b", mediumvioletred: "#c71585",
  brown: "#a52a2a", saddlebrown: "#8b4513", sienna: "#a0522d", chocolate: "#d2691e", peru: "#cd853f", maroon: "#800000", tan: "#d2b48c",
  black: "#000000",
  white: "#ffffff", whitesmoke: "#f5f5f5", snow: "#fffafa", ivory: "#fffff0",
  gray: "#808080", darkgray: "#a9a9a9", dimgray: "#696969", lightgray: "#d3d3d3", slategray: "#708090", silver: "#c0c0c0", gainsboro: "#dcdcdc",
  teal: "#008080", darkcyan: "#008b8b", lightseagreen: "#20b2aa",
  turquoise: "#40e0d0", mediumturquoise: "#48d1cc", darkturquoise: "#00ced1",
  cyan: "#00ffff", lightcyan: "#e0ffff",
  beige: "#f5f5dc", wheat: "#f5deb3", antiquewhite: "#faebd7", cornsilk: "#fff8dc", lemonchiffon: "#fffacd",
  olive: "#808000", darkolivegreen: "#556b2f",
  salmon: "#fa8072", darksalmon: "#e9967a", lightsalmon: "#ffa07a", coral: "#ff7f50", lightcoral: "#f08080",
  peachpuff: "#ffdab9", aquamarine: "#7fffd4", mediumaquamarine: "#66cdaa", palegreen: "#98fb98",
};

/** Colour word → the CSS keywords it is anchored at (the first is its own keyword where CSS has one). */
const WORD_ANCHORS: Record<string, readonly string[]> = {
  red: ["red", "crimson", "firebrick"],
  orange: ["orange", "darkorange", "orangered"],
  yellow: ["yellow", "gold"],
  green: ["green", "forestgreen", "seagreen", "limegreen", "olivedrab"],
  blue: ["blue", "mediumblue", "royalblue", "dodgerblue", "steelblue", "cornflowerblue", "deepskyblue"],
  navy: ["navy", "midnightblue"],
  purple: ["purple", "rebeccapurple", "mediumpurple", "darkviolet"],
  violet: ["violet", "blueviolet", "darkviolet", "orchid"],
  indigo: ["indigo"],
  pink: ["pink", "hotpink", "deeppink", "lightpink", "palevioletred"],
  magenta: ["magenta", "mediumvioletred", "darkmagenta"],
  brown: ["brown", "saddlebrown", "sienna", "chocolate", "peru"],
  maroon: ["maroon", "darkred"],
  tan: ["tan"],
  black: ["black"],
  white: ["white", "whitesmoke", "snow", "ivory"],
  gray: ["gray", "darkgray", "dimgray", "lightgray", "slategray"],
  silver: ["silver", "gainsboro"],
  gold: ["gold", "goldenrod", "darkgoldenrod"],
  teal: ["teal", "darkcyan", "lightseagreen"],
  turquoise: ["turquoise", "mediumturquoise", "darkturquoise"],
  cyan: ["cyan", "darkturquoise"],
  beige: ["beige", "wheat", "antiquewhite"],
  cream: ["ivory", "cornsilk", "lemonchiffon"],
  olive: ["olive", "olivedrab", "darkolivegreen"],
  salmon: ["salmon", "darksalmon", "lightsalmon"],
  coral: ["coral", "lightcoral"],
  lilac: ["plum", "thistle", "orchid"],
  mint: ["mediumaquamarine", "aquamarine", "palegreen"],
  peach: ["peachpuff", "lightsalmon"],
  amber: ["orange", "goldenrod", "darkorange"],
};

/** Other spellings and adjective forms of the words above. */
const ALIASES: Record<string, string> = {
  grey: "gray", golden: "gold", aqua: "cyan", fuchsia: "magenta", crimson: "red", scarlet: "red", reddish: "red", bluish: "blue", blueish: "blue",
  greenish: "green", yellowish: "yellow", pinkish: "pink", purplish: "purple", brownish: "brown", orangey: "orange", greyish: "gray", grayish: "gray",
};

/**
 * Berlin and Kay's eleven basic colour terms of English (and "grey"): words whose first meaning is
 * the colour, so ingest never expands them as nouns (the label "orange" is not a fruit).
 *
 * @example
 * BASIC_COLOR_TERMS.has("orange"); // true
 */
export const BASIC_COLOR_TERMS: ReadonlySet<string> = new Set(["black", "white", "red", "green", "yellow", "blue", "brown", "purple", "pink", "orange", "gray", "grey"]);

/** Modifiers that pick CSS's light or dark variant of a word ("light blue" → lightblue) where it has one. */
const SHADES: Record<string, "light" | "dark"> = { light: "light", pale: "light", dark: "dark", deep: "dark" };

/** One point a colour word is anchored at. */
export interface ColorAnchor {
  /** The CSS keyword. */
  keyword: string;
  hex: string;
  lab: Lab;
}

/** A colour word with its anchors. */
export interface ColorName {
  /** The word as listed (`gray` for "grey"; `light blue` for a shade). */
  name: string;
  anchors: readonly ColorAnchor[];
}

function anchor(keyword: string): ColorAnchor {
  const hex = CSS_COLORS[keyword];
  if (!hex) throw new Error(`not in the CSS colour table: ${keyword}`);
  return { keyword, hex, lab: hexToLab(hex)! };
}

/**
 * Every colour word (aliases included) → its name and anchors.
 *
 * @example
 * COLOR_NAMES.get("grey")!.name; // "gray"
 * COLOR_NAMES.has("orange"); // true
 */
export const COLOR_NAMES: ReadonlyMap<string, ColorName> = new Map(
  [...Object.keys(WORD_ANCHORS), ...Object.keys(ALIASES)].map((word) => {
    const name = ALIASES[word] ?? word;
    return [word, { name, anchors: WORD_ANCHORS[name]!.map(anchor) }];
  }),
);

/**
 * The colour a word names, or a shade of it when `modifier` is light/pale/dark/deep and CSS has
 * that variant; undefined when `word` is not a colour word.
 *
 * @example
 * colorName("blue", "light")!.anchors[0]!.keyword; // "lightblue"
 * colorName("teal", "pale")!.name; // "teal" (CSS has no lightteal)
 */
export function colorName(word: string, modifier?: string): ColorName | undefined {
  const base = COLOR_NAMES.get(word);
  if (!base) return undefined;
  const shade = modifier ? SHADES[modifier] : undefined;
  const keyword = shade ? `${shade}${base.name}` : undefined;
  return keyword && CSS_COLORS[keyword] ? { name: `${shade} ${base.name}`, anchors: [anchor(keyword)] } : base;
}
