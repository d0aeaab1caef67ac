import type { Embedder } from "../ai/types.ts";
import { GENAI_ATTR, SPAN, type Telemetry } from "../telemetry/index.ts";

/**
 * `search.embed`: the query vector, from the same embedder (and so the same model) as the
 * stored image vectors.
 *
 * @example
 * const vector = await embedQuery({ embedder, telemetry }, "red sports car");
 */
export async function embedQuery(deps: { embedder: Embedder; telemetry: Telemetry }, text: string): Promise<number[]> {
  return deps.telemetry.tracedSpan(SPAN.searchEmbed, { [GENAI_ATTR.requestModel]: deps.embedder.model, "search.embed.dimensions": deps.embedder.dimensions }, async () => {
    const [vector] = await deps.embedder.embed([text], "query");
    if (!vector || vector.length !== deps.embedder.dimensions) throw new Error(`the embedder returned no ${deps.embedder.dimensions}-dimension vector`);
    return vector;
  });
}
