import { listImages, type Db, type ImageRow } from "../db/index.ts";
import type { ImageReference } from "../ai/image-model.ts";
import type { BlobStore } from "../storage/types.ts";
import { SPAN, type Telemetry } from "../telemetry/index.ts";
import { ANGLE_PRESETS, type AnglePreset } from "./prompt.ts";
import { seededRandom } from "./seed.ts";

/** Where the tone references came from. */
export type ReferencePool = "category" | "any" | "none";

export interface Injection {
  /** Tone references with their bytes, in prompt order. */
  references: ImageReference[];
  pool: ReferencePool;
  /** Why the category's pool was not used (or why some references were skipped). */
  reason?: string;
  angle: AnglePreset;
}

export interface InjectionDeps {
  telemetry: Telemetry;
  db: Db;
  storage: BlobStore;
  /** Tone references to send (default 2). */
  maxReferences?: number;
}

/** Prompt words that already ask for one of the angle presets. */
const ANGLE_WORDS: readonly [RegExp, string][] = [
  [/\b(top[- ]down|overhead|bird'?s[- ]eye|flat ?lay|from above)\b/i, "overhead"],
  [/\b(close[- ]?up|macro|detail shot)\b/i, "close-up"],
  [/\b(low[- ]angle|worm'?s[- ]eye|from below|looking up)\b/i, "low-angle"],
  [/\b(high[- ]angle|looking down)\b/i, "high-angle"],
  [/\b(three[- ]quarter|3\/4 view)\b/i, "three-quarter"],
  [/\b(eye[- ]level|straight[- ]on|head[- ]on)\b/i, "eye-level"],
];

/** Pool size read per query; tone pools are curated and small. */
const POOL_LIMIT = 500;

/**
 * The angle directive: the preset the prompt asks for, else one drawn with the seed.
 *
 * @example
 * chooseAngle("a bowl of ramen, top-down", 7).id; // "overhead"
 */
export function chooseAngle(prompt: string, seed: number): AnglePreset {
  for (const [pattern, id] of ANGLE_WORDS) {
    if (pattern.test(prompt)) return ANGLE_PRESETS.find((p) => p.id === id)!;
  }
  const random = seededRandom(seed ^ 0x9e3779b9);
  return ANGLE_PRESETS[Math.floor(random() * ANGLE_PRESETS.length)]!;
}

/**
 * Picks `count` rows at random but reproducibly: the same pool and seed give the same picks, in
 * the same order, whatever order the database returned them in.
 *
 * @example
 * pickReferences(rows, 42, 2);
 */
export function pickReferences<T extends { id: string }>(rows: readonly T[], seed: number, count: number): T[] {
  const pool = [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const random = seededRandom(seed);
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}

/**
 * `generation.injection`: tone references from the `tone-ref` pool of the category (falling
 * back to any tone pool, then to none, with the reason), their bytes read through the blob store
 * (`storage.get` spans), and an angle directive.
 *
 * @example
 * const injection = await injectReferences({ telemetry, db, storage }, { prompt, category: "portrait", seed: 7 });
 */
export function injectReferences(deps: InjectionDeps, input: { prompt: string; category: string | undefined; seed: number }): Promise<Injection> {
  return deps.telemetry.tracedSpan(SPAN.generationInjection, {}, async (span) => {
    const max = deps.maxReferences ?? 2;
    let pool: ReferencePool = "none";
    let rows: ImageRow[] = [];
    const reasons: string[] = [];
    if (input.category !== undefined) {
      rows = (await listImages(deps.db, { limit: POOL_LIMIT, role: "tone-ref", category: input.category })).items;
      if (rows.length > 0) pool = "category";
      else reasons.push(`no tone references in category "${input.category}"`);
    } else {
      reasons.push("the prompt matched no category");
    }
    if (rows.length === 0) {
      rows = (await listImages(deps.db, { limit: POOL_LIMIT, role: "tone-ref" })).items;
      if (rows.length > 0) pool = "any";
      else reasons.push("no tone references stored");
    }

    const references: ImageReference[] = [];
    const candidates = pickReferences(rows, input.seed, rows.length);
    // Read the picks in parallel; a pick whose bytes are gone is replaced by the next candidate.
    for (let next = 0; references.length < max && next < candidates.length; ) {
      const batch = candidates.slice(next, next + max - references.length);
      next += batch.length;
      const blobs = await Promise.all(batch.map((row) => deps.storage.get(row.storageKey)));
      batch.forEach((row, i) => {
        const blob = blobs[i];
        if (blob) references.push({ id: row.id, role: "tone", bytes: blob.bytes, mimeType: row.mimeType, hexColors: row.hexColors });
        else reasons.push(`reference ${row.id} has no stored bytes`);
      });
    }
    if (references.length === 0) pool = "none";

    const angle = chooseAngle(input.prompt, input.seed);
    const reason = reasons.length > 0 ? reasons.join("; ") : undefined;
    span.setAttributes({
      "generation.reference_pool": pool,
      "generation.reference_count": references.length,
      "generation.reference_ids": references.map((r) => r.id).join(","),
      "generation.angle": angle.id,
      "generation.category": input.category ?? "",
    });
    if (reason) span.setAttribute("generation.reference_fallback_reason", reason);
    return { references, pool, reason, angle };
  });
}
