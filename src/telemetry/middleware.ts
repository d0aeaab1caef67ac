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

/** The `host[:port]` part of an absolute URL, for requests without a Host header. */
function hostOf(url: string): string {
  const start = url.indexOf("://") + 3;
  const end = url.indexOf("/", start);
  return url.slice(start, end === -1 ? undefined : end);
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
  return async function tracing(c, next) {
    const req = c.req.raw;
    const headers = req.headers;
    const method = req.method;
    const url = req.url;
    const attributes: Attributes = {
      [HTTP_ATTR.method]: method,
      [HTTP_ATTR.urlPath]: c.req.path,
      [HTTP_ATTR.urlScheme]: url.startsWith("https:") ? "https" : "http",
      [HTTP_ATTR.serverAddress]: serverAddress(headers.get("host") ?? hostOf(url)),
    };
    const userAgent = headers.get("user-agent");
    if (userAgent !== null) attributes[HTTP_ATTR.userAgent] = userAgent;
    const span = telemetry.startSpan(method, { kind: SpanKind.SERVER, parent: telemetry.extract(headers) ?? null, attributes });
    const ctx = span.spanContext();
    c.set("span", span);
    c.set("traceId", ctx.traceId);
    let thrown: unknown;
    try {
      await telemetry.withSpan(span, next);
    } catch (error) {
      thrown = error;
    }
    if (span.isRecording()) {
      const error = thrown ?? c.error;
      const status = thrown ? 500 : c.res.status;
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
    if (thrown !== undefined) throw thrown;
    const value = `00-${ctx.traceId}-${ctx.spanId}-${ctx.traceFlags & 1 ? "01" : "00"}`;
    try {
      c.res.headers.set("traceresponse", value);
    } catch {
      // Immutable headers (a Response passed through from fetch): copy it.
      c.res = new Response(c.res.body, c.res);
      c.res.headers.set("traceresponse", value);
    }
  };
}
