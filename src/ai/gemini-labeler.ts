import type { GoogleGenAI } from "@google/genai";
import { deadlineSignal, withDeadline } from "./gemini-client.ts";
import { ModelError, type ImageLabels, type LabelInput, type Labeler, type TextCallOptions } from "./types.ts";

const LABEL_SCHEMA = {
  type: "object",
  properties: {
    caption: { type: "string", description: "one plain sentence describing the image" },
    labels: { type: "array", items: { type: "string" }, maxItems: 12, description: "lowercase tags: objects, setting, style, colours" },
    category: { type: "string", description: "one lowercase word for the kind of image, e.g. landscape, portrait, food, product" },
  },
  required: ["caption", "labels", "category"],
} as const;

/**
 * Gemini image labels: a caption, up to 12 lowercase labels and a one-word category, asked for
 * as JSON under a schema, within a deadline.
 *
 * @example
 * const labeler = createGeminiLabeler(createGeminiClient(config.gemini), "gemini-2.5-flash");
 * const { caption, labels, category } = await labeler.label({ bytes, mimeType: "image/jpeg" });
 */
export function createGeminiLabeler(ai: GoogleGenAI, model: string, defaults: { timeoutMs?: number } = {}): Labeler {
  return {
    model,
    async label(input: LabelInput, options: TextCallOptions = {}): Promise<ImageLabels> {
      const deadline = deadlineSignal(options.timeoutMs ?? defaults.timeoutMs, options.signal);
      try {
        const answer = await withDeadline(
          deadline,
          ai.models.generateContent({
            model,
            contents: [
              {
                role: "user",
                parts: [
                  { inlineData: { mimeType: input.mimeType, data: Buffer.from(input.bytes).toString("base64") } },
                  { text: "Describe this reference image for an image search index." },
                ],
              },
            ],
            config: {
              responseMimeType: "application/json",
              responseJsonSchema: LABEL_SCHEMA,
              temperature: 0,
              abortSignal: deadline.signal,
            },
          }),
        );
        if (answer.promptFeedback?.blockReason) throw new ModelError("safety_blocked", `Gemini blocked the image (${answer.promptFeedback.blockReason})`);
        let parsed: Partial<ImageLabels>;
        try {
          parsed = JSON.parse(answer.text ?? "") as Partial<ImageLabels>;
        } catch {
          throw new ModelError("malformed", "Gemini answered labels that are not JSON");
        }
        const caption = typeof parsed.caption === "string" ? parsed.caption.trim() : "";
        const labels = Array.isArray(parsed.labels)
          ? [...new Set(parsed.labels.filter((l): l is string => typeof l === "string").map((l) => l.trim().toLowerCase()).filter(Boolean))].slice(0, 12)
          : [];
        const category = typeof parsed.category === "string" ? parsed.category.trim().toLowerCase() : "";
        if (!caption && labels.length === 0) throw new ModelError("malformed", "Gemini answered empty labels");
        return { caption, labels, category: category || "uncategorized" };
      } finally {
        deadline.clear();
      }
    },
  };
}
