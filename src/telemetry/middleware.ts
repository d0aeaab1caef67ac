import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { SpanKind, SpanStatusCode, type Attributes } from "@opentelemetry/api";
import { HTTP_ATTR } from "./names.ts";
import type { Telemetry } from "./provider.ts";
import { exceptionAttributes, type TelemetrySpan } from "./span.ts";

/** Context variables the middleware sets for handlers. */
export type TracingVariables = { span: TelemetrySpan; traceId: string };

/**
 * The route pattern that answered, or undefined when no route matched (404).
 *
 * @example
 * routeOf(c); // "/api/images/:id"
 */
export function routeOf(c: Context): string | undefined {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i]!;
    // Middleware registered with `use` has method ALL; handlers have a method.
    if (route.method !== "ALL") return route.path;
  }
  return undefined;
}

/** `server.address`: the Host header without its port (IPv6 literals keep their brackets). */
function serverAddress(host: string): string {
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1);
  const colon = host.indexOf(":");
  return colon === -1 ? host : host.slice(0, colon);
}

/**
 * The `host[:port]` part of an absolute URL, for requests without a Host header; undefined when
 * Bun hands over a bare path (HTTP/1.0 without `Host`): then no host is known at all.
 */
function hostOf(url: string): string | undefined {
  const scheme = url.indexOf("://");
  if (scheme === -1) return undefined;
  const end = url.indexOf("/", scheme + 3);
  return url.slice(scheme + 3, end === -1 ? undefined : end);
}

/**
 * Opens the root SERVER span of each request on the given recorder: stable HTTP semantic
 * conventions, `traceparent` continuation, and a `traceresponse` header on every response.
 *
 * @example
 * app.use(tracing(telemetry));
 */
export function tracing(telemetry: Telemetry): MiddlewareHandler<{ Variables: TracingVariables }> {
  if (!telemetry.enabled) {
    return function tracingDisabled(_c, next) {
      return next();
    };
  }
  // Not an async function: one promise reaction after the handler instead of an async frame
  // suspended around it (measured ~0.1 µs a request here).
  return function tracing(c, next) {
    const req = c.req.raw;
    const headers = req.headers;
    const method = req.method;
    const url = req.url;
    const attributes: Attributes = {
      [HTTP_ATTR.method]: method,
      [HTTP_ATTR.urlPath]: c.req.path,
      [HTTP_ATTR.urlScheme]: url.startsWith("https:") ? "https" : "http",
    };
    const host = headers.get("host") ?? hostOf(url);
    if (host) attributes[HTTP_ATTR.serverAddress] = serverAddress(host);
    const userAgent = headers.get("user-agent");
    if (userAgent !== null) attributes[HTTP_ATTR.userAgent] = userAgent;
    const span = telemetry.startSpan(method, { kind: SpanKind.SERVER, parent: telemetry.extract(headers) ?? null, attributes });
    c.set("span", span);
    c.set("traceId", span.spanContext().traceId);
    let pending: Promise<void>;
    try {
      pending = telemetry.withSpan(span, next);
    } catch (error) {
      finish(c, span, method, error);
      throw error;
    }
    return pending.then(
      () => finish(c, span, method, undefined),
      (error: unknown) => {
        finish(c, span, method, error);
        throw error;
      },
    );
  };
}

/** Ends the request's span (route, status, error) and answers with `traceresponse`; `thrown` escaped the app. */
function finish(c: Context, span: TelemetrySpan, method: string, thrown: unknown): void {
  if (span.isRecording()) {
    const error = thrown ?? c.error;
    const status = thrown === undefined ? c.res.status : 500;
    const route = routeOf(c);
    if (route) {
      span.updateName(`${method} ${route}`);
      span.setAttribute(HTTP_ATTR.route, route);
    }
    span.setAttribute(HTTP_ATTR.status, status);
    if (error !== undefined) {
      span.recordException(error);
      span.setAttribute(HTTP_ATTR.errorType, String(exceptionAttributes(error)["exception.type"]));
    }
    if (status >= 500) {
      if (error === undefined) span.setAttribute(HTTP_ATTR.errorType, String(status));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : undefined });
    }
    span.end();
  }
  if (thrown !== undefined) return;
  const ctx = span.spanContext();
  const value = `00-${ctx.traceId}-${ctx.spanId}-${ctx.traceFlags & 1 ? "01" : "00"}`;
  try {
    c.res.headers.set("traceresponse", value);
  } catch {
    // Immutable headers (a Response passed through from fetch): copy it.
    c.res = new Response(c.res.body, c.res);
    c.res.headers.set("traceresponse", value);
  }
}
