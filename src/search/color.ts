import { hexToLab, type Lab } from "../ingest/color.ts";

const HEX6 = /^#[0-9a-f]{6}$/i;

/**
 * True for a `#rrggbb` colour (the only form the search filter accepts).
 *
 * @example
 * isHexColor("#ff8800") // true; isHexColor("red") // false
 */
export function isHexColor(value: string): boolean {
  return HEX6.test(value);
}

const RAD = Math.PI / 180;
const POW25_7 = 25 ** 7;

/**
 * CIEDE2000 colour difference (Sharma, Wu & Dalal 2005, kL = kC = kH = 1): ~1 is just noticeable,
 * ~10 clearly different. Written out because no maintained package in the dependency list has it.
 *
 * @example
 * ciede2000([50, 2.6772, -79.7751], [50, 0, -82.7485]) // ≈ 2.0425
 */
export function ciede2000(lab1: Lab, lab2: Lab): number {
  const [l1, a1, b1] = lab1;
  const [l2, a2, b2] = lab2;
  const c1 = Math.hypot(a1, b1);
  const c2 = Math.hypot(a2, b2);
  const cBar7 = ((c1 + c2) / 2) ** 7;
  const g = 0.5 * (1 - Math.sqrt(cBar7 / (cBar7 + POW25_7)));
  const a1p = a1 * (1 + g);
  const a2p = a2 * (1 + g);
  const c1p = Math.hypot(a1p, b1);
  const c2p = Math.hypot(a2p, b2);
  const hue = (b: number, a: number) => {
    if (a === 0 && b === 0) return 0;
    const h = Math.atan2(b, a) / RAD;
    return h >= 0 ? h : h + 360;
  };
  const h1p = hue(b1, a1p);
  const h2p = hue(b2, a2p);
  const dLp = l2 - l1;
  const dCp = c2p - c1p;
  let dhp = 0;
  if (c1p * c2p !== 0) {
    dhp = h2p - h1p;
    if (dhp > 180) dhp -= 360;
    else if (dhp < -180) dhp += 360;
  }
  const dHp = 2 * Math.sqrt(c1p * c2p) * Math.sin((dhp / 2) * RAD);
  const lBarP = (l1 + l2) / 2;
  const cBarP = (c1p + c2p) / 2;
  let hBarP = h1p + h2p;
  if (c1p * c2p !== 0) {
    if (Math.abs(h1p - h2p) <= 180) hBarP = (h1p + h2p) / 2;
    else hBarP = h1p + h2p < 360 ? (h1p + h2p + 360) / 2 : (h1p + h2p - 360) / 2;
  }
  const t =
    1 -
    0.17 * Math.cos((hBarP - 30) * RAD) +
    0.24 * Math.cos(2 * hBarP * RAD) +
    0.32 * Math.cos((3 * hBarP + 6) * RAD) -
    0.2 * Math.cos((4 * hBarP - 63) * RAD);
  const dTheta = 30 * Math.exp(-(((hBarP - 275) / 25) ** 2));
  const cBarP7 = cBarP ** 7;
  const rc = 2 * Math.sqrt(cBarP7 / (cBarP7 + POW25_7));
  const lBar50 = (lBarP - 50) ** 2;
  const sl = 1 + (0.015 * lBar50) / Math.sqrt(20 + lBar50);
  const sc = 1 + 0.045 * cBarP;
  const sh = 1 + 0.015 * cBarP * t;
  const rt = -Math.sin(2 * dTheta * RAD) * rc;
  const dl = dLp / sl;
  const dc = dCp / sc;
  const dh = dHp / sh;
  return Math.sqrt(dl * dl + dc * dc + dh * dh + rt * dc * dh);
}

/**
 * The smallest CIEDE2000 distance between `target` (or any of several targets: a colour word's
 * anchors) and any colour of a palette (Infinity for an empty or unreadable palette). Each palette
 * colour is converted to Lab once.
 *
 * @example
 * paletteDistance(hexToLab("#ff0000")!, ["#0000ff", "#fe0000"]) // < 1
 */
export function paletteDistance(target: Lab | readonly Lab[], palette: readonly string[]): number {
  const targets = typeof target[0] === "number" ? [target as Lab] : (target as readonly Lab[]);
  let best = Infinity;
  for (const hex of palette) {
    const lab = hexToLab(hex);
    if (lab) for (const t of targets) best = Math.min(best, ciede2000(t, lab));
  }
  return best;
}

/**
 * A predicate for the `color` filter: the palette has a colour within `threshold` (CIEDE2000).
 *
 * @example
 * const keep = colorMatcher("#c0392b", 20);
 * keep(["#112233", "#c13a2c"]) // true
 */
export function colorMatcher(hex: string, threshold: number): (palette: readonly string[]) => boolean {
  const target = hexToLab(hex);
  if (!target) throw new RangeError(`not a #rrggbb colour: ${hex}`);
  return (palette) => paletteDistance(target, palette) <= threshold;
}

export { hexToLab };
