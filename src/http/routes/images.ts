/**
 * The image routes: multipart upload into the ingest pipeline, cursor pages, one record, and the
 * stored bytes (streamed with ETag/304 from local files, or a redirect to a presigned S3 URL).
 */
import { Hono, type Context } from "hono";
import { getImage, listCategories, listImages } from "../../db/images.ts";
import type { ImageRow } from "../../db/schema.ts";
import { createUploadLimiter, ingestFile, type IngestDeps } from "../../ingest/pipeline.ts";
import { thumbnailKey } from "../../storage/keys.ts";
import type { AppConfig } from "../../config.ts";
import type { AppEnv } from "../app.ts";
import { serveBlob } from "../blobs.ts";
import { InvalidRequestError, NotFoundError, UnsupportedMediaTypeError } from "../errors.ts";
import { uploadLimit } from "../limits.ts";
import { IdParam } from "../schemas/common.ts";
import { ImageListQuery, UploadFields } from "../schemas/images.ts";
import { MAX_CATEGORIES, type CategoryList, type ImagePage, type ImageRecord, type UploadAnswer } from "../schemas/responses.ts";
import { imageLink } from "../signed-urls.ts";
import { parseWith, validate } from "../validation.ts";

/**
 * The public record of an image (the answer of `POST /api/images` and `GET /api/images/:id`);
 * `link` writes its byte URLs (signed when reads need a key: `imageLink(config)`).
 *
 * @example
 * imageRecord(row) // { id, width, height, mimeType, hexColors, labels, caption, category, role, url, thumbnailUrl, createdAt, ... }
 */
export function imageRecord(row: Omit<ImageRow, "hypernyms">, link: (path: string) => string = (path) => path): ImageRecord {
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
    url: link(`/api/images/${row.id}/file`),
    thumbnailUrl: link(`/api/images/${row.id}/thumbnail`),
    createdAt: row.createdAt.toISOString(),
  };
}

type Form = Awaited<ReturnType<Request["formData"]>>;

function textField(form: Form, name: string): string | undefined {
  const value = form.get(name);
  if (value === null) return undefined;
  if (typeof value !== "string") throw new InvalidRequestError(`${name}: must be a text field`);
  return value;
}

async function readUpload(c: Context<AppEnv>) {
  const type = c.req.header("content-type") ?? "";
  if (!/^multipart\/form-data\s*;/i.test(type) || !/boundary=/i.test(type)) {
    throw new UnsupportedMediaTypeError("send the image as multipart/form-data with a `file` field");
  }
  let form: Form;
  try {
    form = await c.req.raw.formData();
  } catch {
    throw new InvalidRequestError("the multipart body could not be parsed", "malformed_multipart");
  }
  const file = form.get("file");
  if (file === null) throw new InvalidRequestError("the `file` field is required", "missing_file");
  if (typeof file === "string") throw new InvalidRequestError("the `file` field must be a file, not text", "missing_file");
  const fields = parseWith(UploadFields, {
    caption: textField(form, "caption"),
    labels: textField(form, "labels"),
    category: textField(form, "category"),
    role: textField(form, "role") || undefined,
  });
  return { file, fields };
}

async function findImage(deps: IngestDeps, id: string): Promise<ImageRow> {
  const image = await getImage(deps.db, id);
  if (!image) throw new NotFoundError(`no image with id ${id}`);
  return image;
}

/**
 * `POST /api/images` (multipart upload), `GET /api/images` (cursor pages), `GET /api/images/:id`,
 * `GET /api/images/:id/file`, `GET /api/images/:id/thumbnail` and `GET /api/categories`.
 *
 * @example
 * app.route("/api", imageRoutes(ingestDeps, config));
 */
export function imageRoutes(deps: IngestDeps, config: AppConfig) {
  const uploads = createUploadLimiter(config.ingest);
  const link = imageLink(config);
  const record = (row: ImageRow) => imageRecord(row, link);
  return new Hono<AppEnv>()
    .post("/images", uploadLimit(config), async function uploadImage(c) {
      // The slot comes before the body is read: a queued upload's bytes wait in the socket, not in memory.
      const permit = await uploads.acquire(c.req.raw.signal);
      try {
        const { file, fields } = await readUpload(c);
        const { image, created, notApplied, degraded } = await ingestFile(deps, file, {
          caption: fields.caption,
          labels: fields.labels,
          category: fields.category,
          role: fields.role,
          originalName: file.name,
        });
        const stage = degraded.length > 0 ? { degraded } : {};
        if (created) {
          c.header("Location", `/api/images/${image.id}`);
          return c.json({ ...record(image), duplicate: false, ...stage } satisfies UploadAnswer, 201);
        }
        // The same bytes are stored already: that record, unchanged, and what was not applied.
        return c.json({ ...record(image), duplicate: true, notApplied } satisfies UploadAnswer, 200);
      } finally {
        permit.release();
      }
    })
    .get("/images", validate("query", ImageListQuery), async function listImagePage(c) {
      const page = await listImages(deps.db, c.req.valid("query"));
      return c.json({ items: page.items.map(record), nextCursor: page.nextCursor } satisfies ImagePage);
    })
    .get("/images/:id", validate("param", IdParam), async function getImageRecord(c) {
      return c.json(record(await findImage(deps, c.req.valid("param").id)));
    })
    .get("/images/:id/file", validate("param", IdParam), async function getImageFile(c) {
      const image = await findImage(deps, c.req.valid("param").id);
      return serveBlob(c, deps.storage, image.storageKey);
    })
    .get("/images/:id/thumbnail", validate("param", IdParam), async function getImageThumbnail(c) {
      const image = await findImage(deps, c.req.valid("param").id);
      return serveBlob(c, deps.storage, thumbnailKey(image.id));
    })
    .get("/categories", async function listImageCategories(c) {
      return c.json({ items: await listCategories(deps.db, MAX_CATEGORIES) } satisfies CategoryList);
    });
}
