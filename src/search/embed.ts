import type { Embedder } from "../ai/types.ts";
import { GENAI_ATTR, SPAN, type Telemetry } from "../telemetry/index.ts";

/**
 * `search.embed`: the query vector, from the same embedder (and so the same model) as the
 * stored image vectors. For "more like this", `stored` loads the image's own vector first; the
 * text is embedded only when the image has none for this model.
 *
 * @example
 * const vector = await embedQuery({ embedder, telemetry }, "red sports car");
 * const likeThis = await embedQuery({ embedder, telemetry }, caption, () => getEmbedding(db, id, embedder.model).then((e) => e?.vector));
 */
export async function embedQuery(
  deps: { embedder: Embedder; telemetry: Telemetry },
  text: string,
  stored?: () => Promise<number[] | undefined>,
): Promise<number[]> {
  const { embedder } = deps;
  return deps.telemetry.tracedSpan(SPAN.searchEmbed, { [GENAI_ATTR.requestModel]: embedder.model, "search.embed.dimensions": embedder.dimensions }, async (span) => {
    const own = stored ? await stored() : undefined;
    if (own && own.length === embedder.dimensions) {
      span.setAttribute("search.embed.source", "stored");
      return own;
    }
    span.setAttribute("search.embed.source", "query");
    const [vector] = await embedder.embed([text], "query");
    if (!vector || vector.length !== embedder.dimensions) throw new Error(`the embedder returned no ${embedder.dimensions}-dimension vector`);
    return vector;
  });
}
