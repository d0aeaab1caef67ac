/**
 * sRGB ↔ CIE Lab (D65) and colour distance. Written by hand because it is twenty lines of
 * well-known formulas; the palette, the colour search filter and generation share it.
 */

export type Lab = readonly [l: number, a: number, b: number];
export type Rgb = readonly [r: number, g: number, b: number];

const XN = 0.95047;
const YN = 1.0;
const ZN = 1.08883;

const SRGB_TO_LINEAR = new Float64Array(256);
for (let i = 0; i < 256; i++) {
  const c = i / 255;
  SRGB_TO_LINEAR[i] = c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

function f(t: number): number {
  return t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116;
}

function fInv(t: number): number {
  const t3 = t * t * t;
  return t3 > 216 / 24389 ? t3 : (116 * t - 16) / (24389 / 27);
}

/**
 * Converts 8-bit sRGB to CIE Lab (D65 white).
 *
 * @example
 * rgbToLab(255, 0, 0) // ≈ [53.24, 80.09, 67.20]
 */
export function rgbToLab(r: number, g: number, b: number): Lab {
  const rl = SRGB_TO_LINEAR[r & 255]!;
  const gl = SRGB_TO_LINEAR[g & 255]!;
  const bl = SRGB_TO_LINEAR[b & 255]!;
  const x = (0.4124564 * rl + 0.3575761 * gl + 0.1804375 * bl) / XN;
  const y = (0.2126729 * rl + 0.7151522 * gl + 0.072175 * bl) / YN;
  const z = (0.0193339 * rl + 0.119192 * gl + 0.9503041 * bl) / ZN;
  const fx = f(x);
  const fy = f(y);
  const fz = f(z);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

function linearToSrgb(c: number): number {
  const v = c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
  return Math.min(255, Math.max(0, Math.round(v * 255)));
}

/**
 * Converts CIE Lab (D65) to 8-bit sRGB, clamping out-of-gamut values.
 *
 * @example
 * labToRgb([53.24, 80.09, 67.2]) // [255, 0, 0]
 */
export function labToRgb(lab: Lab): Rgb {
  const fy = (lab[0] + 16) / 116;
  const fx = fy + lab[1] / 500;
  const fz = fy - lab[2] / 200;
  const x = fInv(fx) * XN;
  const y = fInv(fy) * YN;
  const z = fInv(fz) * ZN;
  const r = 3.2404542 * x - 1.5371385 * y - 0.4985314 * z;
  const g = -0.969266 * x + 1.8760108 * y + 0.041556 * z;
  const b = 0.0556434 * x - 0.2040259 * y + 1.0572252 * z;
  return [linearToSrgb(r), linearToSrgb(g), linearToSrgb(b)];
}

/**
 * Formats 8-bit RGB as `#rrggbb`.
 *
 * @example
 * rgbToHex([255, 128, 0]) // "#ff8000"
 */
export function rgbToHex(rgb: Rgb): string {
  return `#${rgb.map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}

const HEX = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/i;

/**
 * Parses `#rrggbb` or `#rgb` (the `#` is optional); undefined when malformed.
 *
 * @example
 * hexToRgb("#f80") // [255, 136, 0]
 */
export function hexToRgb(hex: string): Rgb | undefined {
  const match = HEX.exec(hex.trim());
  if (!match) return undefined;
  let digits = match[1]!;
  if (digits.length === 3) digits = [...digits].map((d) => d + d).join("");
  const n = Number.parseInt(digits, 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/**
 * `#rrggbb` → Lab; undefined when malformed.
 *
 * @example
 * hexToLab("#ffffff") // ≈ [100, 0, 0]
 */
export function hexToLab(hex: string): Lab | undefined {
  const rgb = hexToRgb(hex);
  return rgb ? rgbToLab(rgb[0], rgb[1], rgb[2]) : undefined;
}

/**
 * CIE76 colour difference (Euclidean distance in Lab): ~2.3 is just noticeable, ~10 clearly
 * different, 100 is black against white.
 *
 * @example
 * deltaE(hexToLab("#ff0000")!, hexToLab("#fe0101")!) // < 1
 */
export function deltaE(a: Lab, b: Lab): number {
  const dl = a[0] - b[0];
  const da = a[1] - b[1];
  const db = a[2] - b[2];
  return Math.sqrt(dl * dl + da * da + db * db);
}
