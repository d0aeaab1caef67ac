/**
 * A small captioned corpus inserted straight into the database (no image bytes) for the search
 * tests: each row has a caption, labels, a category, a palette and an offline embedding.
 */
import type { Embedder } from "../src/ai/types.ts";
import type { Database } from "../src/db/client.ts";
import { insertImageWithEmbeddings } from "../src/db/images.ts";
import { embeddingText } from "../src/ingest/embed.ts";
import type { ImageRole, ImageRow } from "../src/db/schema.ts";

export interface FixtureImage {
  key: string;
  caption: string;
  labels: string[];
  category: string;
  hexColors: string[];
  role?: ImageRole;
}

export const FIXTURE: FixtureImage[] = [
  { key: "red-car", caption: "a red sports car parked on a city street", labels: ["car", "red", "street"], category: "vehicle", hexColors: ["#c0392b", "#2c3e50", "#bdc3c7"] },
  { key: "blue-car", caption: "a blue vintage automobile in a garage", labels: ["car", "vintage", "garage"], category: "vehicle", hexColors: ["#2e86c1", "#1b2631", "#d5d8dc"] },
  { key: "truck", caption: "a yellow truck on a dusty road", labels: ["truck", "road", "yellow"], category: "vehicle", hexColors: ["#f1c40f", "#a04000", "#d0d3d4"] },
  { key: "beach", caption: "waves rolling onto a sandy beach at sunset", labels: ["beach", "sea", "sunset"], category: "landscape", hexColors: ["#f39c12", "#2874a6", "#f5cba7"] },
  { key: "mountain", caption: "snowy mountains above a pine forest", labels: ["mountain", "snow", "forest"], category: "landscape", hexColors: ["#ecf0f1", "#1e8449", "#5d6d7e"] },
  { key: "forest", caption: "sunlight through the trees of a dense woodland", labels: ["woodland", "trees", "sunlight"], category: "landscape", hexColors: ["#196f3d", "#7d6608", "#f9e79f"] },
  { key: "puppy", caption: "a golden retriever puppy sleeping on a couch", labels: ["dog", "puppy", "couch"], category: "animal", hexColors: ["#d4ac0d", "#6e2c00", "#f8f9f9"] },
  { key: "cat", caption: "a grey cat sitting on a windowsill", labels: ["cat", "window"], category: "animal", hexColors: ["#808b96", "#f4f6f7", "#283747"] },
  { key: "fruit", caption: "a bowl of fresh fruit on a wooden table", labels: ["fruit", "bowl", "table"], category: "food", hexColors: ["#e74c3c", "#f39c12", "#784212"] },
  { key: "coffee", caption: "a cup of coffee beside a croissant", labels: ["coffee", "breakfast", "cup"], category: "food", hexColors: ["#6e2c00", "#f6ddcc", "#1c2833"] },
  { key: "portrait", caption: "portrait of a smiling woman with red hair", labels: ["woman", "portrait", "smile"], category: "portrait", hexColors: ["#a93226", "#fdebd0", "#17202a"] },
  { key: "skyline", caption: "the skyline of a modern city with tall skyscrapers at night", labels: ["city", "skyscraper", "night"], category: "architecture", hexColors: ["#1b2631", "#f4d03f", "#5dade2"] },
  { key: "tone-warm", caption: "warm orange light over a quiet harbour", labels: ["harbour", "boats", "orange"], category: "landscape", hexColors: ["#e67e22", "#784212", "#fad7a0"], role: "tone-ref" },
  { key: "angle-car", caption: "low angle view of a red car", labels: ["car", "low angle"], category: "vehicle", hexColors: ["#b03a2e", "#212f3d"], role: "angle-ref" },
];

/**
 * Inserts the fixture with offline (or any) embeddings; returns rows by key.
 *
 * @example
 * const rows = await insertFixture(database, embedder);
 */
export async function insertFixture(database: Database, embedder: Embedder, images = FIXTURE): Promise<Map<string, ImageRow>> {
  const vectors = await embedder.embed(
    images.map((i) => embeddingText(i)),
    "document",
  );
  const out = new Map<string, ImageRow>();
  for (const [n, image] of images.entries()) {
    const row = await insertImageWithEmbeddings(
      database.db,
      {
        storageKey: `uploads/${image.key}.png`,
        originalName: `${image.key}.png`,
        mimeType: "image/png",
        width: 64,
        height: 48,
        byteSize: 1000 + n,
        sha256: new Bun.CryptoHasher("sha256").update(image.key).digest("hex"),
        caption: image.caption,
        labels: image.labels,
        category: image.category,
        role: image.role ?? "corpus",
        hexColors: image.hexColors,
      },
      [{ model: embedder.model, dimensions: embedder.dimensions, vector: vectors[n]! }],
    );
    out.set(image.key, row);
  }
  return out;
}
