/**
 * Draws the demo corpus offline: each entry is a small SVG scene (sky and sea, mountains, a
 * skyline, a plate of food, a portrait silhouette, a product on a studio backdrop...) in the
 * entry's colours, rendered to JPEG by sharp. Deterministic: the same entry always gives the
 * same bytes (so the same sha256) with the same sharp build.
 */
import sharp from "sharp";
import { seededRandom } from "../../random.ts";

export const DEMO_WIDTH = 640;
export const DEMO_HEIGHT = 480;

/** The kinds of scene the renderer draws. */
export type SceneKind =
  | "seascape"
  | "mountains"
  | "forest"
  | "desert"
  | "meadow"
  | "skyline"
  | "street"
  | "bridge"
  | "room"
  | "plate"
  | "fruit-bowl"
  | "cup"
  | "portrait"
  | "bottle"
  | "watch"
  | "sneaker"
  | "headphones"
  | "car"
  | "bicycle"
  | "cat"
  | "bird"
  | "fish"
  | "abstract"
  | "tone";

/** What to draw: a kind, its colours (meaning depends on the kind) and a variant number. */
export interface SceneSpec {
  kind: SceneKind;
  colors: readonly string[];
  variant?: number;
}

function hashString(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

const W = DEMO_WIDTH;
const H = DEMO_HEIGHT;
const r1 = (n: number) => Math.round(n * 10) / 10;

function linear(id: string, stops: readonly string[], vertical = true): string {
  const s = stops.map((c, i) => `<stop offset="${stops.length === 1 ? 0 : i / (stops.length - 1)}" stop-color="${c}"/>`).join("");
  return `<linearGradient id="${id}" x1="0" y1="0" x2="${vertical ? 0 : 1}" y2="${vertical ? 1 : 0}">${s}</linearGradient>`;
}

function radial(id: string, inner: string, outer: string): string {
  return `<radialGradient id="${id}" cx="0.5" cy="0.45" r="0.7"><stop offset="0" stop-color="${inner}"/><stop offset="1" stop-color="${outer}"/></radialGradient>`;
}

type Painter = (c: readonly string[], rand: () => number, variant: number) => { defs: string; body: string };

const at = (c: readonly string[], i: number) => c[i % c.length]!;

const PAINTERS: Record<SceneKind, Painter> = {
  seascape(c, rand, v) {
    const horizon = H * (0.45 + rand() * 0.1);
    const sunX = W * (0.25 + rand() * 0.5);
    const boat = v % 2 === 0;
    const bx = W * (0.2 + rand() * 0.6);
    return {
      defs: linear("sky", [at(c, 0), at(c, 1)]) + linear("sea", [at(c, 2), at(c, 3)]),
      body:
        `<rect width="${W}" height="${horizon}" fill="url(#sky)"/>` +
        `<circle cx="${r1(sunX)}" cy="${r1(horizon - 40)}" r="34" fill="${at(c, 4)}"/>` +
        `<rect y="${r1(horizon)}" width="${W}" height="${r1(H - horizon)}" fill="url(#sea)"/>` +
        Array.from({ length: 8 }, (_, i) => `<rect x="${r1(sunX - 40 + rand() * 20)}" y="${r1(horizon + 8 + i * 14)}" width="${r1(60 - i * 5)}" height="3" fill="${at(c, 4)}" opacity="0.6"/>`).join("") +
        (boat
          ? `<polygon points="${r1(bx)},${r1(horizon + 30)} ${r1(bx + 60)},${r1(horizon + 30)} ${r1(bx + 48)},${r1(horizon + 44)} ${r1(bx + 10)},${r1(horizon + 44)}" fill="${at(c, 5)}"/>` +
            `<polygon points="${r1(bx + 30)},${r1(horizon - 40)} ${r1(bx + 30)},${r1(horizon + 28)} ${r1(bx + 6)},${r1(horizon + 28)}" fill="${at(c, 5)}"/>`
          : ""),
    };
  },
  mountains(c, rand, v) {
    const layers = 3;
    let body = `<rect width="${W}" height="${H}" fill="url(#sky)"/>`;
    for (let l = 0; l < layers; l++) {
      const base = H * (0.55 + l * 0.12);
      const pts = [`0,${H}`];
      for (let x = 0; x <= W; x += W / 6) pts.push(`${r1(x)},${r1(base - 60 - rand() * (140 - l * 30))}`);
      pts.push(`${W},${H}`);
      body += `<polygon points="${pts.join(" ")}" fill="${at(c, 2 + l)}"/>`;
    }
    if (v % 2 === 1) body += `<rect y="${r1(H * 0.82)}" width="${W}" height="${r1(H * 0.18)}" fill="${at(c, 5)}" opacity="0.9"/>`;
    return { defs: linear("sky", [at(c, 0), at(c, 1)]), body };
  },
  forest(c, rand) {
    let body = `<rect width="${W}" height="${H}" fill="url(#sky)"/><rect y="${H * 0.7}" width="${W}" height="${H * 0.3}" fill="${at(c, 2)}"/>`;
    for (let row = 0; row < 3; row++) {
      for (let i = 0; i < 14; i++) {
        const x = i * 50 - 20 + rand() * 30;
        const y = H * (0.5 + row * 0.12);
        const h = 120 + rand() * 80 - row * 10;
        body += `<polygon points="${r1(x)},${r1(y + h * 0.4)} ${r1(x + 30)},${r1(y - h * 0.6)} ${r1(x + 60)},${r1(y + h * 0.4)}" fill="${at(c, 3 + row)}"/>`;
      }
    }
    return { defs: linear("sky", [at(c, 0), at(c, 1)]), body };
  },
  desert(c, rand) {
    let body = `<rect width="${W}" height="${H}" fill="url(#sky)"/><circle cx="${r1(W * (0.6 + rand() * 0.3))}" cy="${r1(H * 0.22)}" r="40" fill="${at(c, 5)}"/>`;
    for (let i = 0; i < 3; i++) {
      const y = H * (0.55 + i * 0.14);
      body += `<path d="M0 ${r1(y)} Q ${r1(W * 0.3)} ${r1(y - 70 + rand() * 30)} ${r1(W * 0.6)} ${r1(y)} T ${W} ${r1(y - 20)} V ${H} H 0 Z" fill="${at(c, 2 + i)}"/>`;
    }
    return { defs: linear("sky", [at(c, 0), at(c, 1)]), body };
  },
  meadow(c, rand) {
    let body = `<rect width="${W}" height="${H}" fill="url(#sky)"/>`;
    body += `<path d="M0 ${H * 0.6} Q ${W * 0.35} ${H * 0.45} ${W * 0.7} ${H * 0.6} T ${W} ${H * 0.55} V ${H} H 0 Z" fill="${at(c, 2)}"/>`;
    body += `<path d="M0 ${H * 0.75} Q ${W * 0.4} ${H * 0.62} ${W} ${H * 0.78} V ${H} H 0 Z" fill="${at(c, 3)}"/>`;
    for (let i = 0; i < 120; i++) body += `<circle cx="${r1(rand() * W)}" cy="${r1(H * 0.68 + rand() * H * 0.3)}" r="${r1(3 + rand() * 4)}" fill="${at(c, 4 + (i % 2))}"/>`;
    return { defs: linear("sky", [at(c, 0), at(c, 1)]), body };
  },
  skyline(c, rand, v) {
    const night = v % 2 === 1;
    let body = `<rect width="${W}" height="${H}" fill="url(#sky)"/>`;
    if (night) for (let i = 0; i < 40; i++) body += `<circle cx="${r1(rand() * W)}" cy="${r1(rand() * H * 0.4)}" r="1.5" fill="#ffffff"/>`;
    let x = 0;
    while (x < W) {
      const w = 40 + rand() * 60;
      const h = 120 + rand() * 240;
      const fill = at(c, 2 + Math.floor(rand() * 2));
      body += `<rect x="${r1(x)}" y="${r1(H - h)}" width="${r1(w)}" height="${r1(h)}" fill="${fill}"/>`;
      for (let wy = H - h + 12; wy < H - 16; wy += 22) {
        for (let wx = x + 8; wx < x + w - 12; wx += 16) {
          if (rand() < (night ? 0.55 : 0.8)) body += `<rect x="${r1(wx)}" y="${r1(wy)}" width="7" height="10" fill="${at(c, 4)}"/>`;
        }
      }
      x += w + 4;
    }
    return { defs: linear("sky", [at(c, 0), at(c, 1)]), body };
  },
  street(c, rand) {
    let body = `<rect width="${W}" height="${H}" fill="url(#sky)"/>`;
    body += `<polygon points="0,${H} ${W},${H} ${W * 0.56},${H * 0.45} ${W * 0.44},${H * 0.45}" fill="${at(c, 2)}"/>`;
    body += `<polygon points="${W * 0.495},${H} ${W * 0.505},${H} ${W * 0.501},${H * 0.45} ${W * 0.499},${H * 0.45}" fill="${at(c, 5)}"/>`;
    body += `<polygon points="0,0 ${W * 0.42},${H * 0.3} ${W * 0.42},${H * 0.47} 0,${H * 0.9}" fill="${at(c, 3)}"/>`;
    body += `<polygon points="${W},0 ${W * 0.58},${H * 0.3} ${W * 0.58},${H * 0.47} ${W},${H * 0.9}" fill="${at(c, 3)}"/>`;
    for (let i = 0; i < 6; i++) {
      const t = i / 6;
      const lx = W * (0.05 + t * 0.35);
      const ly = H * (0.75 - t * 0.28);
      body += `<rect x="${r1(lx)}" y="${r1(ly - 60 * (1 - t))}" width="${r1(3 * (1 - t) + 1)}" height="${r1(60 * (1 - t) + 6)}" fill="${at(c, 3)}"/>`;
      body += `<circle cx="${r1(lx)}" cy="${r1(ly - 60 * (1 - t))}" r="${r1(8 * (1 - t) + 2)}" fill="${at(c, 4)}"/>`;
    }
    void rand;
    return { defs: linear("sky", [at(c, 0), at(c, 1)]), body };
  },
  bridge(c) {
    let body = `<rect width="${W}" height="${H}" fill="url(#sky)"/><rect y="${H * 0.62}" width="${W}" height="${H * 0.38}" fill="${at(c, 2)}"/>`;
    body += `<path d="M0 ${H * 0.5} Q ${W / 2} ${H * 0.15} ${W} ${H * 0.5}" stroke="${at(c, 3)}" stroke-width="10" fill="none"/>`;
    body += `<rect y="${H * 0.5}" width="${W}" height="14" fill="${at(c, 3)}"/>`;
    for (let x = 40; x < W; x += 60) body += `<rect x="${x}" y="${H * 0.5}" width="10" height="${H * 0.14}" fill="${at(c, 3)}"/>`;
    for (let x = 20; x < W; x += 30) body += `<line x1="${x}" y1="${H * 0.5}" x2="${x}" y2="${r1(H * 0.5 - Math.sin((x / W) * Math.PI) * H * 0.17)}" stroke="${at(c, 4)}" stroke-width="2"/>`;
    return { defs: linear("sky", [at(c, 0), at(c, 1)]), body };
  },
  room(c, rand) {
    let body = `<rect width="${W}" height="${H}" fill="${at(c, 0)}"/><rect y="${H * 0.7}" width="${W}" height="${H * 0.3}" fill="${at(c, 1)}"/>`;
    body += `<rect x="${W * 0.55}" y="${H * 0.12}" width="${W * 0.3}" height="${H * 0.4}" fill="${at(c, 2)}" stroke="${at(c, 5)}" stroke-width="8"/>`;
    body += `<rect x="${W * 0.08}" y="${H * 0.48}" width="${W * 0.4}" height="${H * 0.22}" rx="18" fill="${at(c, 3)}"/>`;
    body += `<rect x="${W * 0.06}" y="${H * 0.58}" width="${W * 0.44}" height="${H * 0.14}" rx="12" fill="${at(c, 3)}"/>`;
    body += `<rect x="${W * 0.88}" y="${H * 0.3}" width="6" height="${H * 0.4}" fill="${at(c, 5)}"/><circle cx="${W * 0.885}" cy="${H * 0.3}" r="26" fill="${at(c, 4)}"/>`;
    body += `<ellipse cx="${W * 0.52}" cy="${H * 0.66}" rx="22" ry="40" fill="${at(c, 6)}"/>`;
    void rand;
    return { defs: "", body };
  },
  plate(c, rand) {
    let body = `<rect width="${W}" height="${H}" fill="${at(c, 0)}"/>`;
    for (let y = 0; y < H; y += 24) body += `<rect y="${y}" width="${W}" height="2" fill="${at(c, 1)}" opacity="0.5"/>`;
    body += `<circle cx="${W / 2}" cy="${H / 2}" r="190" fill="${at(c, 2)}"/><circle cx="${W / 2}" cy="${H / 2}" r="150" fill="${at(c, 2)}" stroke="${at(c, 1)}" stroke-width="2" opacity="0.9"/>`;
    for (let i = 0; i < 9; i++) {
      const a = rand() * Math.PI * 2;
      const d = rand() * 90;
      body += `<ellipse cx="${r1(W / 2 + Math.cos(a) * d)}" cy="${r1(H / 2 + Math.sin(a) * d)}" rx="${r1(26 + rand() * 30)}" ry="${r1(18 + rand() * 22)}" fill="${at(c, 3 + (i % 3))}"/>`;
    }
    return { defs: "", body };
  },
  "fruit-bowl"(c, rand) {
    let body = `<rect width="${W}" height="${H}" fill="${at(c, 0)}"/><rect y="${H * 0.72}" width="${W}" height="${H * 0.28}" fill="${at(c, 1)}"/>`;
    for (let i = 0; i < 10; i++) body += `<circle cx="${r1(W * 0.3 + rand() * W * 0.4)}" cy="${r1(H * 0.5 + rand() * 40)}" r="${r1(34 + rand() * 14)}" fill="${at(c, 3 + (i % 3))}"/>`;
    body += `<path d="M ${W * 0.22} ${H * 0.55} Q ${W * 0.5} ${H * 0.98} ${W * 0.78} ${H * 0.55} Z" fill="${at(c, 2)}"/>`;
    return { defs: "", body };
  },
  cup(c) {
    let body = `<rect width="${W}" height="${H}" fill="${at(c, 0)}"/>`;
    body += `<circle cx="${W / 2}" cy="${H / 2}" r="170" fill="${at(c, 1)}"/><circle cx="${W / 2}" cy="${H / 2}" r="110" fill="${at(c, 2)}"/>`;
    body += `<circle cx="${W / 2}" cy="${H / 2}" r="92" fill="${at(c, 3)}"/>`;
    body += `<path d="M ${W / 2} ${H / 2 + 50} C ${W / 2 - 70} ${H / 2 - 10} ${W / 2 - 20} ${H / 2 - 60} ${W / 2} ${H / 2 - 20} C ${W / 2 + 20} ${H / 2 - 60} ${W / 2 + 70} ${H / 2 - 10} ${W / 2} ${H / 2 + 50} Z" fill="${at(c, 4)}"/>`;
    body += `<rect x="${W / 2 + 105}" y="${H / 2 - 18}" width="60" height="36" rx="18" fill="${at(c, 2)}"/>`;
    return { defs: "", body };
  },
  portrait(c, _rand, v) {
    const cx = W * (0.42 + (v % 3) * 0.08);
    let body = `<rect width="${W}" height="${H}" fill="url(#bg)"/>`;
    body += `<ellipse cx="${cx}" cy="${H + 40}" rx="210" ry="170" fill="${at(c, 2)}"/>`;
    body += `<rect x="${cx - 32}" y="${H * 0.52}" width="64" height="80" fill="${at(c, 3)}"/>`;
    body += `<ellipse cx="${cx}" cy="${H * 0.4}" rx="92" ry="118" fill="${at(c, 3)}"/>`;
    body += `<path d="M ${cx - 98} ${H * 0.4} Q ${cx - 100} ${H * 0.08} ${cx} ${H * 0.1} Q ${cx + 100} ${H * 0.08} ${cx + 98} ${H * 0.4} Q ${cx + 60} ${H * 0.2} ${cx} ${H * 0.22} Q ${cx - 60} ${H * 0.2} ${cx - 98} ${H * 0.4} Z" fill="${at(c, 4)}"/>`;
    body += `<circle cx="${cx - 32}" cy="${H * 0.4}" r="7" fill="${at(c, 5)}"/><circle cx="${cx + 32}" cy="${H * 0.4}" r="7" fill="${at(c, 5)}"/>`;
    body += `<path d="M ${cx - 28} ${H * 0.52} Q ${cx} ${H * 0.56} ${cx + 28} ${H * 0.52}" stroke="${at(c, 5)}" stroke-width="4" fill="none"/>`;
    return { defs: radial("bg", at(c, 0), at(c, 1)), body };
  },
  bottle(c) {
    let body = `<rect width="${W}" height="${H}" fill="url(#bg)"/><ellipse cx="${W / 2}" cy="${H * 0.9}" rx="110" ry="16" fill="#000000" opacity="0.25"/>`;
    body += `<rect x="${W / 2 - 70}" y="${H * 0.35}" width="140" height="${H * 0.55}" rx="26" fill="${at(c, 2)}"/>`;
    body += `<rect x="${W / 2 - 24}" y="${H * 0.15}" width="48" height="${H * 0.22}" rx="8" fill="${at(c, 2)}"/><rect x="${W / 2 - 28}" y="${H * 0.1}" width="56" height="34" rx="6" fill="${at(c, 3)}"/>`;
    body += `<rect x="${W / 2 - 70}" y="${H * 0.55}" width="140" height="80" fill="${at(c, 4)}"/><rect x="${W / 2 - 50}" y="${H * 0.38}" width="14" height="${H * 0.45}" rx="7" fill="#ffffff" opacity="0.3"/>`;
    return { defs: radial("bg", at(c, 0), at(c, 1)), body };
  },
  watch(c) {
    let body = `<rect width="${W}" height="${H}" fill="url(#bg)"/>`;
    body += `<rect x="${W / 2 - 50}" y="0" width="100" height="${H}" rx="20" fill="${at(c, 2)}"/>`;
    body += `<circle cx="${W / 2}" cy="${H / 2}" r="120" fill="${at(c, 3)}"/><circle cx="${W / 2}" cy="${H / 2}" r="104" fill="${at(c, 4)}"/>`;
    for (let i = 0; i < 12; i++) {
      const a = (i / 12) * Math.PI * 2;
      body += `<rect x="${r1(W / 2 + Math.cos(a) * 88 - 3)}" y="${r1(H / 2 + Math.sin(a) * 88 - 3)}" width="6" height="6" fill="${at(c, 5)}"/>`;
    }
    body += `<line x1="${W / 2}" y1="${H / 2}" x2="${W / 2 + 50}" y2="${H / 2 - 40}" stroke="${at(c, 5)}" stroke-width="6"/><line x1="${W / 2}" y1="${H / 2}" x2="${W / 2 - 20}" y2="${H / 2 - 80}" stroke="${at(c, 5)}" stroke-width="4"/>`;
    return { defs: radial("bg", at(c, 0), at(c, 1)), body };
  },
  sneaker(c) {
    let body = `<rect width="${W}" height="${H}" fill="url(#bg)"/><ellipse cx="${W / 2}" cy="${H * 0.76}" rx="230" ry="18" fill="#000000" opacity="0.2"/>`;
    body += `<path d="M 110 320 L 120 210 Q 200 190 260 240 L 420 260 Q 520 270 530 330 Z" fill="${at(c, 2)}"/>`;
    body += `<rect x="100" y="320" width="440" height="34" rx="14" fill="${at(c, 3)}"/>`;
    body += `<path d="M 200 300 Q 300 230 420 290" stroke="${at(c, 4)}" stroke-width="16" fill="none"/>`;
    for (let i = 0; i < 4; i++) body += `<line x1="${250 + i * 28}" y1="238" x2="${262 + i * 28}" y2="262" stroke="${at(c, 5)}" stroke-width="5"/>`;
    return { defs: radial("bg", at(c, 0), at(c, 1)), body };
  },
  headphones(c) {
    let body = `<rect width="${W}" height="${H}" fill="url(#bg)"/>`;
    body += `<path d="M 190 290 Q 190 90 320 90 Q 450 90 450 290" stroke="${at(c, 2)}" stroke-width="26" fill="none"/>`;
    body += `<rect x="150" y="250" width="90" height="130" rx="36" fill="${at(c, 3)}"/><rect x="400" y="250" width="90" height="130" rx="36" fill="${at(c, 3)}"/>`;
    body += `<rect x="170" y="270" width="50" height="90" rx="22" fill="${at(c, 4)}"/><rect x="420" y="270" width="50" height="90" rx="22" fill="${at(c, 4)}"/>`;
    return { defs: radial("bg", at(c, 0), at(c, 1)), body };
  },
  car(c) {
    let body = `<rect width="${W}" height="${H}" fill="url(#sky)"/><rect y="${H * 0.72}" width="${W}" height="${H * 0.28}" fill="${at(c, 2)}"/>`;
    body += `<path d="M 90 330 L 110 270 Q 130 250 170 248 L 230 200 Q 260 185 330 185 L 420 190 Q 460 195 490 240 L 550 255 Q 570 265 570 300 L 570 330 Z" fill="${at(c, 3)}"/>`;
    body += `<path d="M 245 208 Q 265 196 320 196 L 325 244 L 200 248 Z" fill="${at(c, 4)}"/><path d="M 340 196 L 415 200 Q 445 210 462 242 L 340 244 Z" fill="${at(c, 4)}"/>`;
    body += `<circle cx="180" cy="335" r="42" fill="#1a1a1a"/><circle cx="180" cy="335" r="18" fill="${at(c, 5)}"/><circle cx="480" cy="335" r="42" fill="#1a1a1a"/><circle cx="480" cy="335" r="18" fill="${at(c, 5)}"/>`;
    return { defs: linear("sky", [at(c, 0), at(c, 1)]), body };
  },
  bicycle(c) {
    let body = `<rect width="${W}" height="${H}" fill="url(#sky)"/><rect y="${H * 0.8}" width="${W}" height="${H * 0.2}" fill="${at(c, 2)}"/>`;
    for (const x of [190, 450]) body += `<circle cx="${x}" cy="320" r="80" stroke="${at(c, 3)}" stroke-width="10" fill="none"/><circle cx="${x}" cy="320" r="8" fill="${at(c, 3)}"/>`;
    body += `<polyline points="190,320 290,320 400,210 260,210 190,320" stroke="${at(c, 4)}" stroke-width="10" fill="none"/><line x1="290" y1="320" x2="250" y2="180" stroke="${at(c, 4)}" stroke-width="10"/><line x1="400" y1="210" x2="450" y2="320" stroke="${at(c, 4)}" stroke-width="10"/>`;
    body += `<rect x="225" y="170" width="60" height="14" rx="7" fill="${at(c, 5)}"/><line x1="400" y1="210" x2="390" y2="170" stroke="${at(c, 4)}" stroke-width="8"/><line x1="370" y1="168" x2="415" y2="168" stroke="${at(c, 5)}" stroke-width="8"/>`;
    return { defs: linear("sky", [at(c, 0), at(c, 1)]), body };
  },
  cat(c) {
    let body = `<rect width="${W}" height="${H}" fill="url(#bg)"/>`;
    body += `<ellipse cx="320" cy="350" rx="130" ry="110" fill="${at(c, 2)}"/><circle cx="320" cy="200" r="85" fill="${at(c, 2)}"/>`;
    body += `<polygon points="250,160 262,80 300,130" fill="${at(c, 2)}"/><polygon points="390,160 378,80 340,130" fill="${at(c, 2)}"/>`;
    body += `<ellipse cx="290" cy="195" rx="14" ry="18" fill="${at(c, 3)}"/><ellipse cx="350" cy="195" rx="14" ry="18" fill="${at(c, 3)}"/><polygon points="312,228 328,228 320,238" fill="${at(c, 4)}"/>`;
    body += `<path d="M 440 380 Q 540 340 500 260" stroke="${at(c, 2)}" stroke-width="22" fill="none"/>`;
    return { defs: radial("bg", at(c, 0), at(c, 1)), body };
  },
  bird(c) {
    let body = `<rect width="${W}" height="${H}" fill="url(#sky)"/>`;
    body += `<line x1="0" y1="360" x2="${W}" y2="330" stroke="${at(c, 5)}" stroke-width="10"/>`;
    body += `<ellipse cx="320" cy="280" rx="80" ry="55" fill="${at(c, 2)}"/><circle cx="380" cy="230" r="38" fill="${at(c, 2)}"/>`;
    body += `<ellipse cx="300" cy="290" rx="55" ry="32" fill="${at(c, 3)}"/><polygon points="414,228 450,238 414,246" fill="${at(c, 4)}"/><circle cx="390" cy="222" r="6" fill="#111111"/>`;
    body += `<polygon points="245,280 180,300 245,305" fill="${at(c, 3)}"/>`;
    return { defs: linear("sky", [at(c, 0), at(c, 1)]), body };
  },
  fish(c, rand) {
    let body = `<rect width="${W}" height="${H}" fill="url(#sky)"/>`;
    for (let i = 0; i < 30; i++) body += `<circle cx="${r1(rand() * W)}" cy="${r1(rand() * H)}" r="${r1(2 + rand() * 6)}" fill="#ffffff" opacity="0.35"/>`;
    body += `<ellipse cx="300" cy="240" rx="140" ry="80" fill="${at(c, 2)}"/><polygon points="430,240 540,170 540,310" fill="${at(c, 3)}"/>`;
    body += `<circle cx="210" cy="220" r="14" fill="#ffffff"/><circle cx="210" cy="220" r="7" fill="#111111"/>`;
    for (let i = 0; i < 3; i++) body += `<path d="M ${270 + i * 40} 170 Q ${290 + i * 40} 240 ${270 + i * 40} 310" stroke="${at(c, 4)}" stroke-width="10" fill="none"/>`;
    return { defs: linear("sky", [at(c, 0), at(c, 1)]), body };
  },
  abstract(c, rand, v) {
    let body = `<rect width="${W}" height="${H}" fill="${at(c, 0)}"/>`;
    for (let i = 0; i < 18; i++) {
      const fill = at(c, 1 + (i % (c.length - 1)));
      const x = rand() * W;
      const y = rand() * H;
      const s = 40 + rand() * 140;
      if (v % 3 === 0) body += `<circle cx="${r1(x)}" cy="${r1(y)}" r="${r1(s / 2)}" fill="${fill}" opacity="0.85"/>`;
      else if (v % 3 === 1) body += `<rect x="${r1(x - s / 2)}" y="${r1(y - s / 2)}" width="${r1(s)}" height="${r1(s)}" fill="${fill}" transform="rotate(${r1(rand() * 90)} ${r1(x)} ${r1(y)})"/>`;
      else body += `<rect x="0" y="${r1((i * H) / 18)}" width="${W}" height="${r1(H / 18 + 1)}" fill="${fill}"/>`;
    }
    return { defs: "", body };
  },
  tone(c, rand) {
    let body = `<rect width="${W}" height="${H}" fill="url(#tone)"/>`;
    for (let i = 0; i < 6; i++) body += `<ellipse cx="${r1(rand() * W)}" cy="${r1(rand() * H)}" rx="${r1(80 + rand() * 160)}" ry="${r1(60 + rand() * 120)}" fill="${at(c, 2 + (i % Math.max(1, c.length - 2)))}" opacity="0.55"/>`;
    return { defs: linear("tone", [at(c, 0), at(c, 1)], false), body };
  },
};

/**
 * The SVG of a scene; `seed` varies the details (window lights, tree heights) reproducibly.
 *
 * @example
 * const svg = sceneSvg({ kind: "seascape", colors: ["#f7c6a3", "#fbe3c8", "#3a6f8f", "#1d3b53", "#fff2c4", "#ffffff"] }, "ocean-dawn");
 */
export function sceneSvg(spec: SceneSpec, seed: string): string {
  const rand = seededRandom(hashString(seed));
  const { defs, body } = PAINTERS[spec.kind](spec.colors, rand, spec.variant ?? 0);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}"><defs>${defs}</defs>${body}</svg>`;
}

/**
 * Renders a scene to a JPEG (quality 86, 640×480).
 *
 * @example
 * const bytes = await renderScene(entry.scene, entry.slug);
 */
export async function renderScene(spec: SceneSpec, seed: string): Promise<Uint8Array> {
  const jpeg = await sharp(Buffer.from(sceneSvg(spec, seed))).flatten({ background: "#ffffff" }).jpeg({ quality: 86 }).toBuffer();
  return new Uint8Array(jpeg);
}
