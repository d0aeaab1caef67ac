import { describe, expect, test } from "bun:test";
import { Glob } from "bun";
import { join } from "node:path";
import { context, propagation, ROOT_CONTEXT, trace, ProxyTracerProvider } from "@opentelemetry/api";
import { createTestTelemetry } from "../src/telemetry/index.ts";
import { buildApp, parseTraceresponse } from "./telemetry-helpers.ts";

const FORBIDDEN =
  /\b(setGlobalTracerProvider|setGlobalContextManager|setGlobalPropagator|setGlobalMeterProvider|setGlobalLoggerProvider)\b|\.register\s*\(|\b(registerInstrumentations|NodeSDK|NodeTracerProvider)\b/;

describe("no global OpenTelemetry registration", () => {
  test("after the service handled traced requests, the global API is still a no-op", async () => {
    const { telemetry, recorder } = createTestTelemetry();
    const app = buildApp(telemetry, {
      routes(app) {
        app.get("/work/:id", async (c) => {
          const inner = await telemetry.tracedSpan("work.step", {}, async () => {
            // Inside a recorded span, the global API must still see nothing.
            const globalSpan = trace.getSpan(context.active());
            return { globalSpan: globalSpan === undefined, active: context.active() === ROOT_CONTEXT };
          });
          return c.json(inner);
        });
      },
    });
    const res = await app.request("/work/1", {
      headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
    });
    expect(await res.json()).toEqual({ globalSpan: true, active: true });
    const { traceId } = parseTraceresponse(res.headers.get("traceresponse"));
    expect(recorder.spans(traceId)).toHaveLength(2);

    const provider = trace.getTracerProvider();
    expect(provider).toBeInstanceOf(ProxyTracerProvider);
    const delegate = (provider as ProxyTracerProvider).getDelegate();
    // With no delegate set, the proxy falls back to the API's NoopTracerProvider.
    expect(delegate.constructor.name).toBe("NoopTracerProvider");
    const span = trace.getTracer("x").startSpan("y");
    expect(span.isRecording()).toBe(false);
    expect(span.spanContext().traceId).toBe("00000000000000000000000000000000");
    span.end();
    expect(context.active()).toBe(ROOT_CONTEXT);
    expect(context.with(trace.setSpan(ROOT_CONTEXT, span), () => context.active())).toBe(ROOT_CONTEXT);
    expect(propagation.fields()).toEqual([]);
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpanContext(ROOT_CONTEXT, recorder.spans(traceId)[0]!.spanContext()), carrier);
    expect(carrier).toEqual({});
  });

  test("src/ never registers globals", async () => {
    const root = join(import.meta.dir, "..", "src");
    const offenders: string[] = [];
    let files = 0;
    for await (const path of new Glob("**/*.{ts,tsx,js,mjs}").scan({ cwd: root })) {
      files++;
      const text = await Bun.file(join(root, path)).text();
      // `x.register(...)` on a FinalizationRegistry declared in the same file registers nothing global.
      const registries = [...text.matchAll(/(\w+)\s*=\s*new FinalizationRegistry\b/g)].map((m) => m[1]!);
      text.split("\n").forEach((line, i) => {
        const rest = registries.reduce((l, name) => l.replaceAll(`${name}.register(`, ""), line);
        if (FORBIDDEN.test(rest)) offenders.push(`src/${path}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(files).toBeGreaterThan(10);
    expect(offenders).toEqual([]);
  });

  test("the grep would catch a registration (the pattern is not vacuous)", () => {
    expect(FORBIDDEN.test("trace.setGlobalTracerProvider(provider)")).toBe(true);
    expect(FORBIDDEN.test("provider.register()")).toBe(true);
    expect(FORBIDDEN.test("context.setGlobalContextManager(new AsyncLocalStorageContextManager())")).toBe(true);
  });
});
