import { ModelError, type Embedder } from "../ai/types.ts";
import { GENAI_ATTR, SPAN, type Telemetry } from "../telemetry/index.ts";
import { markDegraded } from "./degraded.ts";

/** The query vector, or why there is none (the vector branch is then left out). */
export interface EmbeddedQuery {
  vector?: number[];
  /** Set when the stage fell back: the model failed or timed out, or the offline vectors are still loading. */
  fallbackReason?: string;
}

/**
 * `search.embed`: the query vector, from the same embedder (and so the same model) as the
 * stored image vectors. For "more like this", `stored` loads the image's own vector first; the
 * text is embedded only when the image has none for this model. When the embedding model fails or
 * does not answer within `timeoutMs`, or `usable` is false (the offline embedder's word vectors
 * are still loading), there is no vector: the search goes on with full text alone and the span
 * says why. Any other error is the service's own and propagates.
 *
 * @example
 * const { vector } = await embedQuery({ embedder, telemetry }, "red sports car", { timeoutMs: 4000 });
 * const likeThis = await embedQuery({ embedder, telemetry }, caption, { stored: () => getEmbedding(db, id, embedder.model).then((e) => e?.vector) });
 */
export async function embedQuery(
  deps: { embedder: Embedder; telemetry: Telemetry },
  text: string,
  options: { stored?: () => Promise<number[] | undefined>; usable?: boolean; timeoutMs?: number } = {},
): Promise<EmbeddedQuery> {
  const { embedder } = deps;
  return deps.telemetry.tracedSpan(SPAN.searchEmbed, { [GENAI_ATTR.requestModel]: embedder.model, "search.embed.dimensions": embedder.dimensions }, async (span) => {
    const own = options.stored ? await options.stored() : undefined;
    if (own && own.length === embedder.dimensions) {
      span.setAttribute("search.embed.source", "stored");
      return { vector: own };
    }
    span.setAttribute("search.embed.source", "query");
    if (options.usable === false) {
      markDegraded(span, "vectors_loading");
      return { fallbackReason: "vectors_loading" };
    }
    let vector: number[] | undefined;
    try {
      [vector] = await embedder.embed([text], "query", { timeoutMs: options.timeoutMs });
    } catch (error) {
      if (!(error instanceof ModelError)) throw error;
      markDegraded(span, error.kind);
      return { fallbackReason: error.kind };
    }
    if (!vector || vector.length !== embedder.dimensions) throw new Error(`the embedder returned no ${embedder.dimensions}-dimension vector`);
    return { vector };
  });
}
