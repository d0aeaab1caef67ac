/**
 * A fake Gemini REST API on loopback for `@google/genai` (pointed at it with
 * `httpOptions.baseUrl`). It answers `POST /{v1|v1beta}/models/{model}:{action}` for
 * `generateContent`, `streamGenerateContent`, `batchEmbedContents` and `embedContent`, records
 * every request, and plays scripted scenarios per model: images, JSON text, safety blocks, HTTP
 * errors, slow and malformed answers.
 */
import sharp from "sharp";

/** RGB of the fake's generated image (a solid 64x48 PNG), `#c85028`. */
export const FAKE_IMAGE_COLOR = { r: 200, g: 80, b: 40 } as const;

/** A part of a Gemini `Content`, as far as the fake reads it. */
export interface GeminiPart {
  text?: string;
  inlineData?: { mimeType?: string; data?: string };
  [key: string]: unknown;
}

/** The JSON body the SDK sends, as far as the fake reads it. */
export interface GeminiRequestBody {
  contents?: { role?: string; parts?: GeminiPart[] }[];
  systemInstruction?: { parts?: GeminiPart[] };
  generationConfig?: { responseMimeType?: string; responseJsonSchema?: unknown; responseSchema?: unknown; [key: string]: unknown };
  /** batchEmbedContents */
  requests?: { model?: string; content?: { parts?: GeminiPart[] }; outputDimensionality?: number; taskType?: string }[];
  /** embedContent */
  content?: { parts?: GeminiPart[] };
  outputDimensionality?: number;
  [key: string]: unknown;
}

/**
 * What the fake answers. Strings: `image` (PNG + text, STOP), `no-image` (text only), `text-json`
 * (the `textJson` option's object as JSON text), `safety` (promptFeedback.blockReason SAFETY, no
 * candidates), `safety-finish` (candidate with finishReason IMAGE_SAFETY and no content),
 * `malformed` (200 with `{not json`), `auto` (text-json when the request asks for JSON, else image).
 * Embedding calls answer vectors for every scenario except errors, delays and `malformed`.
 */
export type GeminiScenario =
  | "auto"
  | "image"
  | "no-image"
  | "text-json"
  | "safety"
  | "safety-finish"
  | "malformed"
  | { textJson: (body: GeminiRequestBody) => unknown }
  | { text: string }
  | { safetyFinish: string }
  | { status: number; retryAfter?: string; message?: string }
  | { delayMs: number; then: GeminiScenario };

/** One request as the fake saw it. */
export interface RecordedRequest {
  method: string;
  path: string;
  /** e.g. `v1` (the SDK 3.3.0 default) or `v1beta`. */
  apiVersion: string;
  /** Model id without `models/`. */
  model: string;
  /** e.g. `generateContent`, `batchEmbedContents`. */
  action: string;
  headers: Record<string, string>;
  /** From `x-goog-api-key` (or a `key` query parameter). */
  apiKey: string | undefined;
  body: GeminiRequestBody | undefined;
  scenario: GeminiScenario | undefined;
  /** The status answered; 0 while still pending or when the client went away. */
  status: number;
  /** True when the client disconnected while a delayed answer was pending. */
  aborted: boolean;
}

/** Options for {@link startFakeGemini}. */
export interface FakeGeminiOptions {
  /** When set, other keys get a 400 `API_KEY_INVALID`; otherwise any non-empty key passes. */
  apiKey?: string;
  /** Default object for `text-json`; receives the request body. */
  textJson?: (body: GeminiRequestBody) => unknown;
}

/** A running fake; see {@link startFakeGemini}. */
export interface FakeGemini {
  /** `http://127.0.0.1:PORT`, for `httpOptions.baseUrl` / `GEMINI_BASE_URL`. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** The PNG bytes the `image` scenario returns. */
  readonly png: Uint8Array;
  /**
   * Scripts answers for one model id (or `"*"` for any model without its own script). A list is a
   * queue consumed one per request; its last entry then repeats.
   */
  setScenario(model: string, scenario: GeminiScenario | GeminiScenario[]): void;
  /** Forgets requests and scenarios. */
  reset(): void;
  stop(): Promise<void>;
}

/**
 * Starts the fake Gemini API on 127.0.0.1 and an ephemeral port.
 *
 * @example
 * const fake = await startFakeGemini();
 * fake.setScenario("gemini-2.5-flash-image", [{ status: 429, retryAfter: "1" }, "image"]);
 * const ai = new GoogleGenAI({ apiKey: "test-key", httpOptions: { baseUrl: fake.url } });
 * await ai.models.generateContent({ model: "gemini-2.5-flash-image", contents: "a cat" }); // ApiError 429
 * await ai.models.generateContent({ model: "gemini-2.5-flash-image", contents: "a cat" }); // image
 * await fake.stop();
 */
export async function startFakeGemini(options: FakeGeminiOptions = {}): Promise<FakeGemini> {
  const png = new Uint8Array(
    await sharp({ create: { width: 64, height: 48, channels: 3, background: FAKE_IMAGE_COLOR } }).png().toBuffer(),
  );
  const requests: RecordedRequest[] = [];
  const scripts = new Map<string, GeminiScenario[]>();

  function next(model: string): GeminiScenario {
    const queue = scripts.get(model) ?? scripts.get("*");
    if (!queue || queue.length === 0) return "auto";
    return (queue.length > 1 ? queue.shift() : queue[0]) ?? "auto";
  }

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const match = /^\/(v1[a-z0-9]*)\/models\/([^/:]+):([A-Za-z]+)$/.exec(url.pathname);
    const raw = await req.text();
    const record: RecordedRequest = {
      method: req.method,
      path: url.pathname,
      apiVersion: match?.[1] ?? "",
      model: match?.[2] ?? "",
      action: match?.[3] ?? "",
      headers: Object.fromEntries(req.headers),
      apiKey: req.headers.get("x-goog-api-key") ?? url.searchParams.get("key") ?? undefined,
      body: parseJson(raw),
      scenario: undefined,
      status: 0,
      aborted: false,
    };
    requests.push(record);
    const response = await answer(req, record);
    if (!record.aborted) record.status = response.status;
    return response;
  }

  async function answer(req: Request, record: RecordedRequest): Promise<Response> {
    if (!record.apiKey) return apiError(403, "Method doesn't allow unregistered callers. Please use an API key.");
    if (options.apiKey !== undefined && record.apiKey !== options.apiKey) return apiError(400, "API key not valid. Please pass a valid API key.");
    if (req.method !== "POST" || !record.action) return apiError(404, `Unknown path ${record.path}`);
    if (!record.body) return apiError(400, "Invalid JSON payload received.");

    let scenario = next(record.model);
    record.scenario = scenario;
    while (typeof scenario === "object" && "delayMs" in scenario) {
      if (await abortedDuring(scenario.delayMs, req.signal)) {
        record.aborted = true;
        return new Response(null, { status: 499 });
      }
      scenario = scenario.then;
    }
    if (typeof scenario === "object" && "status" in scenario) {
      return apiError(scenario.status, scenario.message, scenario.retryAfter);
    }
    if (scenario === "malformed") {
      return new Response("{not json", { status: 200, headers: { "content-type": "application/json; charset=UTF-8" } });
    }
    switch (record.action) {
      case "generateContent":
        return json(generateContentAnswer(scenario, record.body));
      case "streamGenerateContent":
        return new Response(`data: ${JSON.stringify(generateContentAnswer(scenario, record.body))}\r\n\r\n`, {
          headers: { "content-type": "text/event-stream" },
        });
      case "batchEmbedContents":
        return json({
          embeddings: (record.body.requests ?? []).map((r) => ({
            values: fakeEmbedding(textOf(r.content?.parts), r.outputDimensionality ?? 768),
          })),
        });
      case "embedContent":
        return json({
          embedding: { values: fakeEmbedding(textOf(record.body.content?.parts), record.body.outputDimensionality ?? 768) },
        });
      default:
        return apiError(404, `Unknown action ${record.action}`);
    }
  }

  function generateContentAnswer(scenario: GeminiScenario, body: GeminiRequestBody): Record<string, unknown> {
    const promptText = (body.contents ?? []).map((c) => textOf(c.parts)).join(" ");
    const promptImages = (body.contents ?? []).flatMap((c) => c.parts ?? []).filter((p) => p.inlineData).length;
    const usage = (candidatesTokenCount: number) => {
      const promptTokenCount = Math.ceil(promptText.length / 4) + 258 * promptImages;
      return { promptTokenCount, candidatesTokenCount, totalTokenCount: promptTokenCount + candidatesTokenCount };
    };
    const candidate = (parts: GeminiPart[], tokens: number) => ({
      candidates: [{ content: { role: "model", parts }, finishReason: "STOP", index: 0 }],
      usageMetadata: usage(tokens),
      modelVersion: "fake-gemini",
      responseId: crypto.randomUUID(),
    });
    const textJson = (fn: (b: GeminiRequestBody) => unknown) => {
      const text = JSON.stringify(fn(body));
      return candidate([{ text }], Math.ceil(text.length / 4));
    };

    if (scenario === "auto") scenario = body.generationConfig?.responseMimeType === "application/json" ? "text-json" : "image";
    if (scenario === "image") {
      return candidate(
        [{ text: "Here is the image." }, { inlineData: { mimeType: "image/png", data: Buffer.from(png).toString("base64") } }],
        1290,
      );
    }
    if (scenario === "no-image") return candidate([{ text: "I can only describe the image in words." }], 12);
    if (scenario === "text-json") return textJson(options.textJson ?? (() => ({})));
    if (scenario === "safety") return { promptFeedback: { blockReason: "SAFETY" }, usageMetadata: usage(0) };
    if (scenario === "safety-finish") scenario = { safetyFinish: "IMAGE_SAFETY" };
    if (typeof scenario === "object" && "safetyFinish" in scenario) {
      return { candidates: [{ finishReason: scenario.safetyFinish, index: 0 }], usageMetadata: usage(0) };
    }
    if (typeof scenario === "object" && "textJson" in scenario) return textJson(scenario.textJson);
    if (typeof scenario === "object" && "text" in scenario) return candidate([{ text: scenario.text }], 10);
    throw new Error(`fake-gemini: unhandled scenario ${JSON.stringify(scenario)}`);
  }

  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handle });
  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    png,
    setScenario(model, scenario) {
      scripts.set(model.replace(/^models\//, ""), Array.isArray(scenario) ? [...scenario] : [scenario]);
    },
    reset() {
      requests.length = 0;
      scripts.clear();
    },
    async stop() {
      await server.stop(true);
    },
  };
}

/**
 * The inline data parts of a recorded `generateContent` request, decoded to bytes.
 *
 * @example
 * const [image] = inlineDataOf(fake.requests[0]!);
 * expect(image?.bytes).toEqual(uploadedBytes);
 */
export function inlineDataOf(request: RecordedRequest): { mimeType: string; bytes: Uint8Array }[] {
  return (request.body?.contents ?? [])
    .flatMap((c) => c.parts ?? [])
    .flatMap((p) => (p.inlineData?.data ? [{ mimeType: p.inlineData.mimeType ?? "", bytes: new Uint8Array(Buffer.from(p.inlineData.data, "base64")) }] : []));
}

/**
 * A deterministic unit vector for `text`: the same text always gives the same vector.
 *
 * @example
 * expect(fakeEmbedding("red car", 8)).toEqual(fakeEmbedding("red car", 8));
 */
export function fakeEmbedding(text: string, dimensions = 768): number[] {
  // FNV-1a seed, then mulberry32: tiny and deterministic across runs.
  let seed = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) seed = Math.imul(seed ^ text.charCodeAt(i), 0x01000193);
  const values = Array.from({ length: dimensions }, () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32 - 0.5;
  });
  const norm = Math.hypot(...values) || 1;
  return values.map((v) => v / norm);
}

const STATUS_NAMES: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

function apiError(code: number, message = `fake error ${code}`, retryAfter?: string): Response {
  const error: Record<string, unknown> = { code, message, status: STATUS_NAMES[code] ?? "UNKNOWN" };
  if (retryAfter !== undefined) {
    error.details = [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${retryAfter}s` }];
  }
  const headers: Record<string, string> = { "content-type": "application/json; charset=UTF-8" };
  if (retryAfter !== undefined) headers["retry-after"] = retryAfter;
  return new Response(JSON.stringify({ error }), { status: code, headers });
}

function json(body: unknown): Response {
  return Response.json(body, { headers: { "content-type": "application/json; charset=UTF-8" } });
}

function parseJson(raw: string): GeminiRequestBody | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === "object" && value !== null ? (value as GeminiRequestBody) : undefined;
  } catch {
    return undefined;
  }
}

function textOf(parts: GeminiPart[] | undefined): string {
  return (parts ?? []).flatMap((p) => (typeof p.text === "string" ? [p.text] : [])).join(" ");
}

/** Sleeps `ms`; true when `signal` aborted first. */
function abortedDuring(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(false);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(true);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
