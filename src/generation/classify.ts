import type { TextModel, WordVectors } from "../ai/types.ts";
import { SPAN, type Telemetry } from "../telemetry/index.ts";
import { TONE_RATIOS, type ToneRatio } from "./prompt.ts";

/**
 * The categories generation knows, each with the words that point to it. They name the
 * tone-reference pools (`refs/tone/<category>/`); a prompt matching none draws from any pool.
 *
 * @example
 * CATEGORY_KEYWORDS.animal.includes("fox"); // true
 */
export const CATEGORY_KEYWORDS: Readonly<Record<string, readonly string[]>> = {
  portrait: ["portrait", "face", "headshot", "selfie", "person", "man", "woman", "girl", "boy", "child", "model", "smile", "eyes"],
  landscape: ["landscape", "mountain", "valley", "lake", "river", "sea", "ocean", "beach", "forest", "desert", "sky", "sunset", "sunrise", "field", "hill", "waterfall", "meadow", "coast"],
  architecture: ["architecture", "building", "house", "tower", "bridge", "cathedral", "church", "skyscraper", "facade", "castle", "temple", "city", "skyline", "street"],
  interior: ["interior", "room", "kitchen", "bedroom", "living", "office", "cafe", "restaurant", "lobby", "bathroom", "furniture", "sofa"],
  food: ["food", "dish", "meal", "cake", "bread", "pizza", "coffee", "fruit", "salad", "dessert", "soup", "breakfast", "cuisine", "plate", "drink", "cocktail", "ramen", "noodle", "sushi", "burger", "egg", "bowl", "pasta", "tea"],
  animal: ["animal", "dog", "cat", "bird", "horse", "fox", "wolf", "lion", "tiger", "bear", "deer", "fish", "owl", "rabbit", "puppy", "kitten", "wildlife"],
  product: ["product", "bottle", "watch", "shoe", "sneaker", "phone", "perfume", "packaging", "cosmetic", "gadget", "headphones", "bag", "handbag", "purse", "wallet", "jewelry", "ring"],
  fashion: ["fashion", "dress", "outfit", "clothing", "runway", "jacket", "coat", "suit", "gown", "streetwear", "editorial"],
  vehicle: ["car", "vehicle", "truck", "motorcycle", "bike", "bicycle", "train", "plane", "airplane", "boat", "ship", "bus", "sedan", "van", "tractor"],
  abstract: ["abstract", "pattern", "texture", "geometric", "shapes", "gradient", "fractal", "swirl"],
};

/**
 * The category names, in keyword-table order (ties go to the first).
 *
 * @example
 * CATEGORIES.includes("portrait"); // true
 */
export const CATEGORIES = Object.keys(CATEGORY_KEYWORDS);

const PERSON_WORDS = new Set([
  "person", "people", "man", "men", "woman", "women", "girl", "boy", "child", "children", "kid", "kids", "baby", "portrait",
  "face", "selfie", "headshot", "model", "dancer", "athlete", "couple", "family", "crowd", "chef", "worker", "player",
  "musician", "singer", "runner", "soldier", "doctor", "student", "teenager", "grandmother", "grandfather", "bride", "groom",
]);

const SCENE_WORDS = new Set([
  "scene", "landscape", "cityscape", "skyline", "street", "city", "market", "crowd", "party", "festival", "room", "interior",
  "panorama", "village", "battle", "parade", "concert", "beach", "forest", "valley", "harbor", "harbour", "group", "family",
  "friends", "people", "kitchen", "restaurant", "cafe", "stadium", "town",
]);

/** Phrases that set how strongly the references' tone should apply. */
const TONE_PHRASES: readonly [RegExp, ToneRatio][] = [
  [/\b(exact(ly)?|identical|same (tone|mood|palette|colou?rs?|look)|fully|completely|entirely|100 ?%)\b/, 100],
  [/\b(strong(ly)?|heav(y|ily)|bold|intense(ly)?|vivid|dramatic|75 ?%)\b/, 75],
  [/\b(subtle|subtly|slight(ly)?|hint of|touch of|faint(ly)?|muted|gentle|25 ?%)\b/, 25],
  [/\b(balanced|moderate(ly)?|half|50 ?%)\b/, 50],
];

export interface Classification {
  /** A category from {@link CATEGORIES} (or the caller's), undefined when nothing matched. */
  category: string | undefined;
  toneRatio: ToneRatio;
  person: boolean;
  scene: boolean;
  /** Who decided the category: the caller, Gemini, keywords, word vectors, or nobody. */
  source: "caller" | "gemini" | "keywords" | "word-vectors" | "none";
  /** Why Gemini was not used, when it was asked and failed. */
  fallbackReason?: string;
}

export interface ClassifyDeps {
  telemetry: Telemetry;
  /** Gemini with a key; its JSON answer decides (the caller's category still wins). */
  textModel?: TextModel;
  /** Offline: words that match no keyword are compared to the categories' keywords. */
  wordVectors?: WordVectors;
  timeoutMs?: number;
  /** The request's signal: a client gone aborts the Gemini call. */
  signal?: AbortSignal;
}

/** Lower-case words of a prompt. */
function words(prompt: string): string[] {
  return prompt.toLowerCase().match(/[a-z]+(?:'[a-z]+)?/g) ?? [];
}

/** A word and its singular guess (`foxes` → `fox`, `puppies` → `puppy`). */
function forms(word: string): string[] {
  const out = [word];
  if (word.endsWith("ies") && word.length > 4) out.push(`${word.slice(0, -3)}y`);
  else if (word.endsWith("es") && word.length > 3) out.push(word.slice(0, -2), word.slice(0, -1));
  else if (word.endsWith("s") && word.length > 3) out.push(word.slice(0, -1));
  return out;
}

function keywordCategory(tokens: string[]): string | undefined {
  let best: string | undefined;
  let bestScore = 0;
  for (const [category, keywords] of Object.entries(CATEGORY_KEYWORDS)) {
    const score = tokens.filter((t) => forms(t).some((f) => keywords.includes(f))).length;
    if (score > bestScore) {
      best = category;
      bestScore = score;
    }
  }
  return best;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot;
}

/**
 * The category a content word points to most clearly: for each word, its best category's
 * similarity (to that category's nearest keyword) must reach `minSimilarity`, and the word wins
 * by its margin over its second-best category, so an adjective near several categories
 * ("majestic") loses to a noun near one ("stallion" → animal).
 */
function vectorCategory(wv: WordVectors, prompt: string, minSimilarity = 0.45, minMargin = 0.05): string | undefined {
  const keywordVectors = Object.entries(CATEGORY_KEYWORDS).map(
    ([category, keywords]) => [category, keywords.flatMap((k) => wv.vector(k) ?? [])] as const,
  );
  let best: string | undefined;
  let bestMargin = minMargin;
  for (const token of wv.tokenize(prompt)) {
    if (token.stopWord) continue;
    const v = wv.vector(token.word) ?? wv.vector(token.lemma);
    if (!v) continue;
    const scores = keywordVectors
      .map(([category, vectors]) => ({ category, score: Math.max(-1, ...vectors.map((k) => cosine(v, k))) }))
      .sort((a, b) => b.score - a.score);
    const [first, second] = scores;
    if (!first || first.score < minSimilarity) continue;
    const margin = first.score - (second?.score ?? -1);
    if (margin > bestMargin) {
      bestMargin = margin;
      best = first.category;
    }
  }
  return best;
}

function toneRatioOf(prompt: string): ToneRatio {
  const text = prompt.toLowerCase();
  for (const [pattern, ratio] of TONE_PHRASES) if (pattern.test(text)) return ratio;
  return 50;
}

/**
 * The offline classifier: keywords first, word vectors for prompts no keyword matches.
 *
 * @example
 * await classifyOffline("a fox in the snow"); // { category: "animal", toneRatio: 50, person: false, scene: false, ... }
 */
export async function classifyOffline(prompt: string, wordVectors?: WordVectors): Promise<Classification> {
  const tokens = words(prompt);
  const all = tokens.flatMap(forms);
  let category = keywordCategory(tokens);
  let source: Classification["source"] = category ? "keywords" : "none";
  if (!category && wordVectors) {
    await wordVectors.ready();
    category = vectorCategory(wordVectors, prompt);
    if (category) source = "word-vectors";
  }
  const person = all.some((w) => PERSON_WORDS.has(w));
  const scene = all.some((w) => SCENE_WORDS.has(w)) || category === "landscape" || category === "interior";
  return { category, toneRatio: toneRatioOf(prompt), person, scene, source };
}

const GEMINI_SCHEMA = {
  type: "object",
  properties: {
    category: { type: "string", enum: [...CATEGORIES, "other"], description: "the kind of image the prompt asks for" },
    toneRatio: { type: "integer", enum: [...TONE_RATIOS], description: "how strongly reference images' tone should apply, in percent" },
    person: { type: "boolean", description: "whether a person is meant to appear" },
    scene: { type: "boolean", description: "whether the prompt describes a scene (a place or several subjects) rather than one subject" },
  },
  required: ["category", "toneRatio", "person", "scene"],
} as const;

interface GeminiAnswer {
  category: string;
  toneRatio: number;
  person: boolean;
  scene: boolean;
}

async function classifyWithGemini(model: TextModel, prompt: string, timeoutMs: number | undefined, signal: AbortSignal | undefined): Promise<Classification> {
  const answer = await model.json<GeminiAnswer>(
    `Classify this image-generation prompt.\nPrompt: ${JSON.stringify(prompt)}`,
    GEMINI_SCHEMA as unknown as Record<string, unknown>,
    { timeoutMs, signal, system: "You classify prompts for an image generator. Answer only with the JSON the schema asks for." },
  );
  const ratio = TONE_RATIOS.find((r) => r === answer.toneRatio);
  if (typeof answer.category !== "string" || ratio === undefined || typeof answer.person !== "boolean" || typeof answer.scene !== "boolean") {
    throw new Error("the classifier's answer does not match its schema");
  }
  const category = CATEGORIES.includes(answer.category) ? answer.category : undefined;
  return { category, toneRatio: ratio, person: answer.person, scene: answer.scene, source: category ? "gemini" : "none" };
}

/**
 * `generation.classify`: the prompt's category, tone ratio, and whether a person and a scene are
 * intended. With a text model Gemini decides (falling back to the offline classifier on any
 * failure, with the reason recorded); the caller's category always wins.
 *
 * @example
 * const c = await classifyPrompt({ telemetry }, "a portrait of an old fisherman", "portrait");
 */
export function classifyPrompt(deps: ClassifyDeps, prompt: string, callerCategory?: string): Promise<Classification> {
  return deps.telemetry.tracedSpan(SPAN.generationClassify, {}, async (span) => {
    let result: Classification;
    if (deps.textModel) {
      try {
        result = await classifyWithGemini(deps.textModel, prompt, deps.timeoutMs, deps.signal);
      } catch (error) {
        result = await classifyOffline(prompt, deps.wordVectors);
        result.fallbackReason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        span.addEvent("generation.classify.fallback", { reason: result.fallbackReason });
      }
    } else {
      result = await classifyOffline(prompt, deps.wordVectors);
    }
    if (callerCategory !== undefined) result = { ...result, category: callerCategory, source: "caller" };
    span.setAttributes({
      "generation.category": result.category ?? "",
      "generation.category_source": result.source,
      "generation.tone_ratio": result.toneRatio,
      "generation.person": result.person,
      "generation.scene": result.scene,
      "generation.classifier": deps.textModel ? deps.textModel.model : "offline",
    });
    return result;
  });
}
