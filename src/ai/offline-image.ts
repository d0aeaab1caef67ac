import sharp, { type OverlayOptions } from "sharp";
import type { AspectRatio, ImageModel, ImageRequest, ImageResult } from "./image-model.ts";
import { ModelError } from "./types.ts";
import { seededRandom } from "../random.ts";

/**
 * Model id the offline renderer answers with.
 *
 * @example
 * expect(result.model).toBe(OFFLINE_IMAGE_MODEL);
 */
export const OFFLINE_IMAGE_MODEL = "offline-moodboard-1";

/** Colour words a prompt may name, and the colour each adds to the palette. */
const COLOR_WORDS: Record<string, string> = {
  red: "#c0392b",
  crimson: "#a01830",
  orange: "#e67e22",
  amber: "#f0a030",
  yellow: "#f1c40f",
  gold: "#d4a017",
  golden: "#d4a017",
  green: "#27ae60",
  olive: "#708238",
  teal: "#16a085",
  turquoise: "#40c8c0",
  blue: "#2e86de",
  navy: "#1b2a4a",
  purple: "#8e44ad",
  violet: "#7f5fbf",
  pink: "#e58fb0",
  brown: "#7b4a2a",
  beige: "#d8c8a8",
  black: "#151515",
  white: "#f4f4f0",
  grey: "#8a8a8a",
  gray: "#8a8a8a",
  silver: "#c0c4c8",
  sunset: "#f08048",
  ocean: "#1f6f9f",
  forest: "#2f5f3a",
  snow: "#eef2f6",
  night: "#141b33",
};

export interface OfflineImageOptions {
  /** Pixels on the long side of the output. */
  longSide?: number;
}

/**
 * An offline image model that needs no network and no account: it composes a real mood board
 * from the references (tiled, softly blended into a gradient of the palette), shapes placed from
 * the prompt and the seed, and a strip of palette swatches. The same request always gives the
 * same PNG.
 *
 * @example
 * const model = createOfflineImageModel();
 * const { bytes } = await model.generate({ prompt, subject: "a red fox", references, aspectRatio: "3:2", seed: 7 });
 */
export function createOfflineImageModel(options: OfflineImageOptions = {}): ImageModel {
  const longSide = options.longSide ?? 768;
  return {
    provider: "offline",
    model: OFFLINE_IMAGE_MODEL,
    async generate(request: ImageRequest): Promise<ImageResult> {
      if (request.signal?.aborted) throw new ModelError("cancelled", "the offline render was cancelled: the client went away");
      const bytes = await renderMoodBoard(request, longSide);
      return { bytes, mimeType: "image/png", model: OFFLINE_IMAGE_MODEL, attempts: 1, inputTokens: 0, outputTokens: 0 };
    },
  };
}

/**
 * Width and height for an aspect ratio with `longSide` pixels on the long side.
 *
 * @example
 * dimensionsFor("16:9", 768); // { width: 768, height: 432 }
 */
export function dimensionsFor(aspectRatio: AspectRatio, longSide: number): { width: number; height: number } {
  const [w, h] = aspectRatio.split(":").map(Number) as [number, number];
  return w >= h ? { width: longSide, height: Math.round((longSide * h) / w) } : { width: Math.round((longSide * w) / h), height: longSide };
}

/**
 * Five colours for the board: the references' own palettes first (interleaved), then colours the
 * prompt names, then colours drawn from the seed.
 *
 * @example
 * paletteFor({ subject: "a teal sea", references: [], seed: 1 }); // ["#16a085", ...]
 */
export function paletteFor(request: Pick<ImageRequest, "subject" | "references" | "seed">, size = 5): string[] {
  const colors: string[] = [];
  const add = (hex: string) => {
    const c = hex.toLowerCase();
    if (/^#[0-9a-f]{6}$/.test(c) && !colors.includes(c) && colors.length < size) colors.push(c);
  };
  const lists = request.references.map((r) => r.hexColors ?? []);
  for (let i = 0; i < size; i++) for (const list of lists) if (list[i]) add(list[i]!);
  for (const word of request.subject.toLowerCase().match(/[a-z]+/g) ?? []) if (COLOR_WORDS[word]) add(COLOR_WORDS[word]!);
  const random = seededRandom(request.seed ^ hash(request.subject));
  const hue = random() * 360;
  for (let i = 0; colors.length < size && i < 20; i++) add(hsl((hue + i * 67) % 360, 0.45 + random() * 0.3, 0.3 + random() * 0.45));
  return colors;
}

async function renderMoodBoard(request: ImageRequest, longSide: number): Promise<Uint8Array> {
  const { width, height } = dimensionsFor(request.aspectRatio, longSide);
  const palette = paletteFor(request);
  const random = seededRandom(request.seed ^ hash(request.subject));
  const gutter = Math.round(longSide / 48);
  const stripHeight = Math.round(height * 0.14);
  const boardHeight = height - stripHeight - gutter;

  const shapes: string[] = [];
  const shapeCount = 6 + (hash(request.subject) % 7);
  for (let i = 0; i < shapeCount; i++) {
    const color = palette[Math.floor(random() * palette.length)]!;
    const cx = Math.round(random() * width);
    const cy = Math.round(random() * boardHeight);
    const rx = Math.round((0.06 + random() * 0.22) * longSide);
    const ry = Math.round(rx * (0.5 + random()));
    shapes.push(`<ellipse cx="${cx}" cy="${cy}" rx="${rx}" ry="${ry}" fill="${color}" fill-opacity="${(0.25 + random() * 0.45).toFixed(2)}"/>`);
  }
  const swatchWidth = (width - gutter * (palette.length + 1)) / palette.length;
  const swatches = palette.map(
    (color, i) =>
      `<rect x="${Math.round(gutter + i * (swatchWidth + gutter))}" y="${height - stripHeight}" width="${Math.round(swatchWidth)}" height="${stripHeight - gutter}" rx="${Math.round(gutter / 2)}" fill="${color}"/>`,
  );
  const background = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
      `<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="${palette[0]}"/><stop offset="1" stop-color="${palette[1] ?? palette[0]}"/></linearGradient></defs>` +
      `<rect width="${width}" height="${height}" fill="url(#g)"/>${shapes.join("")}${swatches.join("")}</svg>`,
  );

  const layers: OverlayOptions[] = [];
  const refs = request.references;
  if (refs.length > 0) {
    const columns = Math.min(refs.length, Math.ceil(Math.sqrt(refs.length * (width / boardHeight))));
    const rows = Math.ceil(refs.length / columns);
    const tileW = Math.floor((width - gutter * (columns + 1)) / columns);
    const tileH = Math.floor((boardHeight - gutter * (rows + 1)) / rows);
    const tiles = await Promise.all(
      refs.map(async (ref) => {
        try {
          return await sharp(ref.bytes).rotate().resize(tileW, tileH, { fit: "cover" }).ensureAlpha(0.85).png({ compressionLevel: 0 }).toBuffer();
        } catch {
          throw new ModelError("invalid_request", `reference ${ref.id} could not be decoded`);
        }
      }),
    );
    tiles.forEach((tile, i) => {
      layers.push({ input: tile, left: gutter + (i % columns) * (tileW + gutter), top: gutter + Math.floor(i / columns) * (tileH + gutter), blend: "over" });
    });
  }

  const png = await sharp(background).composite(layers).png({ compressionLevel: 6 }).toBuffer();
  return new Uint8Array(png);
}

function hsl(h: number, s: number, l: number): string {
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => Math.round(255 * (l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)))));
  return `#${[f(0), f(8), f(4)].map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}

/** FNV-1a over the text: a stable 32-bit seed. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

