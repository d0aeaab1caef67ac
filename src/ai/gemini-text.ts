import type { GoogleGenAI } from "@google/genai";
import { deadlineSignal, withDeadline } from "./gemini-client.ts";
import { ModelError, type TextCallOptions, type TextModel } from "./types.ts";

/**
 * A Gemini text model answering JSON under a JSON schema (`responseMimeType: application/json`,
 * `responseJsonSchema`), with a deadline that aborts the HTTP call, and errors classified as
 * `ModelError` (timeout, rate_limited, auth, safety_blocked, malformed, ...).
 *
 * @example
 * const text = createGeminiTextModel(createGeminiClient(config.gemini), "gemini-2.5-flash");
 * const out = await text.json<{ terms: string[] }>("Synonyms of car", schema, { timeoutMs: 2000 });
 */
export function createGeminiTextModel(ai: GoogleGenAI, model: string, defaults: { timeoutMs?: number } = {}): TextModel {
  return {
    model,
    async json<T>(prompt: string, responseSchema: Record<string, unknown>, options: TextCallOptions = {}): Promise<T> {
      const deadline = deadlineSignal(options.timeoutMs ?? defaults.timeoutMs, options.signal);
      try {
        const answer = await withDeadline(
          deadline,
          ai.models.generateContent({
            model,
            contents: prompt,
            config: {
              responseMimeType: "application/json",
              responseJsonSchema: responseSchema,
              systemInstruction: options.system,
              temperature: 0,
              abortSignal: deadline.signal,
            },
          }),
        );
        if (answer.promptFeedback?.blockReason) throw new ModelError("safety_blocked", `Gemini blocked the prompt (${answer.promptFeedback.blockReason})`);
        const text = answer.text;
        if (!text) {
          const finish = answer.candidates?.[0]?.finishReason;
          throw new ModelError(finish && finish !== "STOP" ? "safety_blocked" : "malformed", `Gemini answered no text${finish ? ` (${finish})` : ""}`);
        }
        try {
          return JSON.parse(text) as T;
        } catch {
          throw new ModelError("malformed", "Gemini answered text that is not JSON");
        }
      } finally {
        deadline.clear();
      }
    },
  };
}
