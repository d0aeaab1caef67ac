/**
 * The image page (`/images/:id`): the full image, its caption, labels, palette, role and size,
 * with searches from its labels, its category and its colours.
 */
import type { PageConfig } from "../shared/page-config.ts";
import { searchUrl } from "../shared/search-state.ts";
import type { Api, ImageRecord } from "./api.ts";
import { formatBytes } from "../shared/format.ts";
import { showRecord } from "./components.tsx";

function ImageDetail({ image }: { image: ImageRecord }) {
  const title = image.caption ?? image.originalName ?? "Untitled image";
  return (
    <article class="detail">
      <figure>
        <a href={image.url} title="Open the full-size file">
          <img src={image.url} alt={title} width={image.width} height={image.height} />
        </a>
      </figure>
      <div class="facts">
        <h1>{title}</h1>
        <p class="actions">
          <a class="button" href={searchUrl({ like: image.id })}>
            More like this
          </a>{" "}
          <a class="button secondary" href={image.url} download={image.originalName ?? undefined}>
            Full-size file
          </a>
        </p>
        <dl>
          <dt>Labels</dt>
          <dd>
            {image.labels.length === 0 ? (
              <span class="muted">none</span>
            ) : (
              <ul class="labels" aria-label="Labels (each searches for itself)">
                {image.labels.map((label) => (
                  <li key={label}>
                    <a class="tag" href={searchUrl({ q: label })}>
                      {label}
                    </a>
                  </li>
                ))}
              </ul>
            )}
          </dd>
          <dt>Category</dt>
          <dd>{image.category ? <a href={searchUrl({ category: image.category })}>{image.category}</a> : <span class="muted">none</span>}</dd>
          <dt>Role</dt>
          <dd>{image.role}</dd>
          <dt>Palette</dt>
          <dd>
            <ul class="palette" aria-label="Palette (each finds similar images in that colour)">
              {image.hexColors.map((hex) => (
                <li key={hex}>
                  <a class="chip" href={searchUrl({ like: image.id, color: hex })} aria-label={`Similar images near ${hex}`}>
                    <span class="swatch" style={{ background: hex }} />
                    <span class="hex">{hex}</span>
                  </a>
                </li>
              ))}
            </ul>
          </dd>
          <dt>Size</dt>
          <dd>
            {image.width} × {image.height} px · {formatBytes(image.byteSize)} · {image.mimeType}
          </dd>
          <dt>Stored</dt>
          <dd>
            <time datetime={image.createdAt}>{new Date(image.createdAt).toLocaleString()}</time>
            {image.originalName ? ` from ${image.originalName}` : ""}
          </dd>
          <dt>Id</dt>
          <dd>
            <code>{image.id}</code>
          </dd>
        </dl>
      </div>
    </article>
  );
}

/**
 * Runs the image page.
 *
 * @example
 * await startImagePage(config, api);
 */
export function startImagePage(config: PageConfig, api: Api): Promise<void> {
  return showRecord("image", config, () => api.getImage(config.id ?? ""), (image) => ({ title: image.caption ?? "Image", view: <ImageDetail image={image} /> }));
}
