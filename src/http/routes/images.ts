/**
 * The image routes: multipart upload into the ingest pipeline, cursor pages, one record, and the
 * stored bytes (streamed with ETag/304 from local files, or a redirect to a presigned S3 URL).
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { InvalidCursorError } from "../../db/errors.ts";
import { getImage, listImages } from "../../db/images.ts";
import { isUuid } from "../../db/ids.ts";
import { IMAGE_ROLES, type ImageRow } from "../../db/schema.ts";
import { MAX_CAPTION_LENGTH } from "../../ingest/label.ts";
import { ingestImage, type IngestDeps } from "../../ingest/pipeline.ts";
import { IMMUTABLE_CACHE } from "../../ingest/store.ts";
import { slugifyCategory, thumbnailKey } from "../../storage/keys.ts";
import type { AppEnv } from "../app.ts";
import { ApiError } from "../errors.ts";
import { parseWith } from "../validation.ts";

/** Room for the multipart boundaries and text fields on top of the file size limit. */
const MULTIPART_OVERHEAD_BYTES = 256 * 1024;

const roleField = z.enum(IMAGE_ROLES, { error: `must be one of ${IMAGE_ROLES.join(", ")}` });
const categoryField = z
  .string()
  .max(100, "must be at most 100 characters")
  .transform((v, ctx) => {
    if (v.trim() === "") return undefined;
    const slug = slugifyCategory(v);
    if (!slug) ctx.addIssue({ code: "custom", message: "must contain a letter or digit" });
    return slug;
  });

const UploadFields = z.object({
  caption: z.string().max(MAX_CAPTION_LENGTH, `must be at most ${MAX_CAPTION_LENGTH} characters`).optional(),
  labels: z
    .string()
    .max(4000, "must be at most 4000 characters")
    .transform((v) => v.split(",").map((l) => l.trim()).filter((l) => l !== ""))
    .optional(),
  category: categoryField.optional(),
  // No default here: a duplicate upload reports a role only when the client sent one.
  role: roleField.optional(),
});

const ListQuery = z
  .object({
    limit: z.coerce.number({ error: "must be a number" }).int("must be a whole number").min(1, "must be between 1 and 100").max(100, "must be between 1 and 100").default(20),
    cursor: z.string().min(1).max(500).optional(),
    role: roleField.optional(),
    category: categoryField.optional(),
  })
  .strict();

/**
 * The public record of an image (the answer of `POST /api/images` and `GET /api/images/:id`).
 *
 * @example
 * imageRecord(row) // { id, width, height, mimeType, hexColors, labels, caption, category, role, url, thumbnailUrl, createdAt, ... }
 */
export function imageRecord(row: ImageRow) {
  return {
    id: row.id,
    width: row.width,
    height: row.height,
    mimeType: row.mimeType,
    byteSize: row.byteSize,
    sha256: row.sha256,
    hexColors: row.hexColors,
    labels: row.labels,
    caption: row.caption,
    category: row.category,
    role: row.role,
    originalName: row.originalName,
    url: `/api/images/${row.id}/file`,
    thumbnailUrl: `/api/images/${row.id}/thumbnail`,
    createdAt: row.createdAt.toISOString(),
  };
}

type Form = Awaited<ReturnType<Request["formData"]>>;

function textField(form: Form, name: string): string | undefined {
  const value = form.get(name);
  if (value === null) return undefined;
  if (typeof value !== "string") throw new ApiError(400, "invalid_request", `${name}: must be a text field`);
  return value;
}

async function readUpload(c: Context<AppEnv>) {
  const type = c.req.header("content-type") ?? "";
  if (!/^multipart\/form-data\s*;/i.test(type) || !/boundary=/i.test(type)) {
    throw new ApiError(415, "unsupported_media_type", "send the image as multipart/form-data with a `file` field");
  }
  let form: Form;
  try {
    form = await c.req.raw.formData();
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError(400, "malformed_multipart", "the multipart body could not be parsed");
  }
  const file = form.get("file");
  if (file === null) throw new ApiError(400, "missing_file", "the `file` field is required");
  if (typeof file === "string") throw new ApiError(400, "missing_file", "the `file` field must be a file, not text");
  const fields = parseWith(UploadFields, {
    caption: textField(form, "caption"),
    labels: textField(form, "labels"),
    category: textField(form, "category"),
    role: textField(form, "role") || undefined,
  });
  return { file, fields };
}

async function findImage(deps: IngestDeps, id: string): Promise<ImageRow> {
  if (!isUuid(id)) throw new ApiError(400, "invalid_id", "id must be a UUID");
  const image = await getImage(deps.db, id);
  if (!image) throw new ApiError(404, "not_found", `no image with id ${id}`);
  return image;
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header || !etag) return false;
  if (header.trim() === "*") return true;
  const bare = etag.replace(/^W\//, "");
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === bare);
}

async function serveBlob(c: Context<AppEnv>, deps: IngestDeps, key: string): Promise<Response> {
  const url = await deps.storage.readUrl(key);
  if (url) {
    c.header("Cache-Control", "no-store");
    return c.redirect(url, 302);
  }
  const head = await deps.storage.head(key);
  if (!head) throw new ApiError(404, "not_found", "the image file is missing from storage");
  const common = {
    ETag: head.etag,
    "Cache-Control": head.cacheControl ?? IMMUTABLE_CACHE,
    "X-Content-Type-Options": "nosniff",
  };
  if (etagMatches(c.req.header("if-none-match"), head.etag)) return new Response(null, { status: 304, headers: common });
  const blob = await deps.storage.getStream(key);
  if (!blob) throw new ApiError(404, "not_found", "the image file is missing from storage");
  return new Response(c.req.method === "HEAD" ? null : blob.body, {
    status: 200,
    headers: { ...common, ETag: blob.etag, "Content-Type": blob.contentType, "Content-Length": String(blob.size) },
  });
}

/**
 * `POST /api/images` (multipart upload), `GET /api/images` (cursor pages), `GET /api/images/:id`,
 * `GET /api/images/:id/file` and `GET /api/images/:id/thumbnail`.
 *
 * @example
 * app.route("/api", imageRoutes(ingestDeps));
 */
export function imageRoutes(deps: IngestDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const maxBody = deps.config.ingest.maxUploadBytes + MULTIPART_OVERHEAD_BYTES;

  app.post(
    "/images",
    bodyLimit({
      maxSize: maxBody,
      onError: () => {
        throw new ApiError(413, "payload_too_large", `the upload is larger than ${deps.config.ingest.maxUploadBytes} bytes`);
      },
    }),
    async function uploadImage(c) {
      const { file, fields } = await readUpload(c);
      const { image, created, notApplied } = await ingestImage(deps, {
        bytes: new Uint8Array(await file.arrayBuffer()),
        caption: fields.caption,
        labels: fields.labels,
        category: fields.category,
        role: fields.role,
        originalName: file.name,
      });
      if (created) {
        c.header("Location", `/api/images/${image.id}`);
        return c.json({ ...imageRecord(image), duplicate: false }, 201);
      }
      // The same bytes are stored already: that record, unchanged, and what was not applied.
      return c.json({ ...imageRecord(image), duplicate: true, notApplied }, 200);
    },
  );

  app.get("/images", async function listImagePage(c) {
    const query = parseWith(ListQuery, c.req.query());
    try {
      const page = await listImages(deps.db, query);
      return c.json({ items: page.items.map(imageRecord), nextCursor: page.nextCursor });
    } catch (error) {
      if (error instanceof InvalidCursorError) throw new ApiError(400, "invalid_cursor", "cursor is not valid");
      throw error;
    }
  });

  app.get("/images/:id", async function getImageRecord(c) {
    return c.json(imageRecord(await findImage(deps, c.req.param("id"))));
  });

  app.get("/images/:id/file", async function getImageFile(c) {
    const image = await findImage(deps, c.req.param("id"));
    return serveBlob(c, deps, image.storageKey);
  });

  app.get("/images/:id/thumbnail", async function getImageThumbnail(c) {
    const image = await findImage(deps, c.req.param("id"));
    return serveBlob(c, deps, thumbnailKey(image.id));
  });

  return app;
}
