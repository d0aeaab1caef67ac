/** Request schemas of the image routes (`src/http/routes/images.ts`). */
import { z } from "zod";
import { IMAGE_ROLES } from "../../db/schema.ts";
import { MAX_CAPTION_LENGTH } from "../../ingest/label.ts";
import { category, clientText, oneOf, pageQuery } from "./common.ts";

/** Longest `labels` field (a comma list), in characters. */
export const MAX_LABELS_LENGTH = 4_000;

/**
 * The text fields of a `POST /api/images` multipart upload (the file and its name are checked by the ingest pipeline).
 *
 * @example
 * UploadFields.parse({ caption: "a red door", labels: "door, red", role: "corpus" });
 */
export const UploadFields = z.object({
  caption: clientText({ max: MAX_CAPTION_LENGTH, multiline: true }).optional(),
  labels: clientText({ max: MAX_LABELS_LENGTH })
    .transform((v) => v.split(",").map((l) => l.trim()).filter((l) => l !== ""))
    .optional(),
  category: category.optional(),
  role: oneOf(IMAGE_ROLES).default("corpus"),
});

/**
 * `GET /api/images` query: `limit`, `cursor`, `role`, `category`.
 *
 * @example
 * ImageListQuery.parse({ limit: "50", role: "tone-ref" });
 */
export const ImageListQuery = z
  .object({ ...pageQuery, role: oneOf(IMAGE_ROLES).optional(), category: category.optional() })
  .strict();
