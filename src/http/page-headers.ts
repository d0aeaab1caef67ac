/**
 * The headers of the HTML pages this service serves (the web app, the API reference): one
 * Content-Security-Policy shape, no MIME sniffing, and referrers kept to this origin.
 */
import type { Context } from "hono";

/**
 * A page's Content-Security-Policy: scripts, styles and requests only from this origin (inline
 * styles allowed), no plugins, no `<base>`, forms posted only here, never framed; `img` (and
 * `font`, when the page needs more than `default-src`) say where images and fonts may come from.
 *
 * @example
 * contentSecurityPolicy({ img: "* data: blob:" }) // "default-src 'self'; script-src 'self'; …; img-src * data: blob:; connect-src 'self'; …"
 */
export function contentSecurityPolicy(sources: { img: string; font?: string }): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    `img-src ${sources.img}`,
    ...(sources.font ? [`font-src ${sources.font}`] : []),
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/**
 * Sets the page headers: `policy` (built once by {@link contentSecurityPolicy}), `nosniff` and
 * `Referrer-Policy: same-origin`.
 *
 * @example
 * setPageHeaders(c, POLICY);
 * return c.html(page);
 */
export function setPageHeaders(c: Context, policy: string): void {
  c.header("Content-Security-Policy", policy);
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "same-origin");
}
