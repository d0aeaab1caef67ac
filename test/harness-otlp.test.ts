import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { startOtlpReceiver, type OtlpReceiver } from "./harness/otlp-receiver.ts";

/** One exporter + provider pair pointed at the receiver, never registered globally. */
function tracerFor(receiver: OtlpReceiver, timeoutMillis = 3000) {
  const exporter = new OTLPTraceExporter({ url: receiver.url, timeoutMillis });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "x", "deployment.environment.name": "test" }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  return { provider, tracer: provider.getTracer("harness-self-test", "1.2.3") };
}

const post = (receiver: OtlpReceiver, body: Uint8Array = new Uint8Array(0)) =>
  fetch(receiver.url, { method: "POST", headers: { "content-type": "application/x-protobuf" }, body });

describe("OTLP receiver decodes what the official exporter sends", () => {
  let receiver: OtlpReceiver;
  beforeAll(() => {
    receiver = startOtlpReceiver();
  });
  afterAll(() => receiver.stop());

  test("a parent and a child span arrive with ids, kinds, typed attributes and resource", async () => {
    const { provider, tracer } = tracerFor(receiver);
    const parent = tracer.startSpan("POST /api/search", {
      kind: SpanKind.SERVER,
      attributes: {
        "http.request.method": "POST",
        "http.response.status_code": 200,
        "process.cpu_user_ms": 1.25,
        "cache.hit": false,
        "search.labels": ["cat", "dog"],
        "search.ranks": [3, 1, 2],
        "big.int": 2 ** 40,
      },
    });
    const parentContext = parent.spanContext();
    const child = tracer.startSpan(
      "search.embed",
      { kind: SpanKind.CLIENT, attributes: { "embed.dimensions": 768, "process.memory_mb": 2.0 } },
      trace.setSpan(context.active(), parent),
    );
    child.addEvent("cache.miss", { "cache.key": "k1", attempt: 2 });
    child.setStatus({ code: SpanStatusCode.ERROR, message: "upstream failed" });
    child.end();
    parent.end();
    await provider.forceFlush();

    const spans = await receiver.waitForSpans(2);
    expect(spans.map((s) => s.name).sort()).toEqual(["POST /api/search", "search.embed"]);
    const root = spans.find((s) => s.name === "POST /api/search")!;
    const embed = spans.find((s) => s.name === "search.embed")!;

    expect(root.traceId).toBe(parentContext.traceId);
    expect(root.spanId).toBe(parentContext.spanId);
    expect(root.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(root.parentSpanId).toBe("");
    expect(embed.traceId).toBe(root.traceId);
    expect(embed.parentSpanId).toBe(root.spanId);
    expect(embed.spanId).not.toBe(root.spanId);
    expect(root.kind).toBe(2);
    expect(embed.kind).toBe(3);
    expect(root.flags & 0xff).toBe(1);

    expect(root.attributes["http.request.method"]).toEqual({ type: "string", value: "POST" });
    expect(root.attributes["http.response.status_code"]).toEqual({ type: "int", value: 200 });
    expect(root.attributes["process.cpu_user_ms"]).toEqual({ type: "double", value: 1.25 });
    expect(root.attributes["cache.hit"]).toEqual({ type: "bool", value: false });
    expect(root.attributes["search.labels"]?.type).toBe("array");
    expect(root.attributes["search.labels"]?.value).toEqual([
      { type: "string", value: "cat" },
      { type: "string", value: "dog" },
    ]);
    expect(root.attrs["search.ranks"]).toEqual([3, 1, 2]);
    expect(root.attrs["big.int"]).toBe(2 ** 40);
    // The JS encoder picks int vs double per value with Number.isInteger: 2.0 travels as an int.
    expect(embed.attributes["process.memory_mb"]).toEqual({ type: "int", value: 2 });
    expect(embed.attributes["embed.dimensions"]).toEqual({ type: "int", value: 768 });

    expect(embed.status).toEqual({ code: 2, message: "upstream failed" });
    expect(root.status.code).toBe(0);
    expect(embed.events).toHaveLength(1);
    expect(embed.events[0]?.name).toBe("cache.miss");
    expect(embed.events[0]?.attributes).toEqual({ "cache.key": "k1", attempt: 2 });

    // An explicit resource is not merged with defaultResource(): no telemetry.sdk.* attributes.
    expect(root.resource).toEqual({ "service.name": "x", "deployment.environment.name": "test" });
    expect(embed.resource).toEqual(root.resource);
    expect(root.scope).toEqual({ name: "harness-self-test", version: "1.2.3" });

    expect(typeof root.startTimeUnixNano).toBe("bigint");
    expect(root.endTimeUnixNano).toBeGreaterThanOrEqual(root.startTimeUnixNano);
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    expect(root.startTimeUnixNano).toBeGreaterThan(nowNs - 60_000_000_000n);
    expect(root.startTimeUnixNano).toBeLessThanOrEqual(nowNs + 1_000_000_000n);
    expect(root.durationMs).toBeGreaterThanOrEqual(0);
    expect(root.durationMs).toBeLessThan(10_000);

    const first = receiver.requests[0]!;
    expect(first.method).toBe("POST");
    expect(first.path).toBe("/v1/traces");
    expect(first.contentType).toBe("application/x-protobuf");
    expect(first.bodySize).toBeGreaterThan(50);
    expect(first.accepted).toBe(true);
    expect(receiver.counts.ok).toBe(2);
    await provider.shutdown();
  });

  test("waitForSpans with a predicate returns the matches and times out with what it saw", async () => {
    const matches = await receiver.waitForSpans((s) => s.kind === 3, 100);
    expect(matches.map((s) => s.name)).toEqual(["search.embed"]);
    await expect(receiver.waitForSpans((s) => s.name === "never", 50)).rejects.toThrow(/timed out.*search\.embed/);
  });

  test("a body that is not an ExportTraceServiceRequest is answered 400 and recorded", async () => {
    const res = await post(receiver, new Uint8Array([0x0a, 0xff, 0xff]));
    expect(res.status).toBe(400);
    expect(receiver.requests.at(-1)?.decodeError).toBeString();
  });
});

describe("OTLP receiver plays a collector in trouble", () => {
  let receiver: OtlpReceiver;
  beforeAll(() => {
    receiver = startOtlpReceiver();
  });
  afterEach(() => {
    receiver.up();
    receiver.reset();
  });
  afterAll(() => receiver.stop());

  test("ok answers 200 with an empty protobuf response", async () => {
    const res = await post(receiver);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-protobuf");
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  test("refuse modes answer their status, keep nothing and are counted", async () => {
    receiver.setMode("refuse-500");
    expect((await post(receiver)).status).toBe(500);
    expect((await post(receiver)).status).toBe(500);
    receiver.setMode("refuse-400");
    expect((await post(receiver)).status).toBe(400);
    receiver.setMode("refuse-503");
    expect((await post(receiver)).status).toBe(503);
    expect(receiver.counts).toEqual({ ok: 0, "refuse-400": 1, "refuse-500": 2, "refuse-503": 1, slow: 0 });
    expect(receiver.requests.every((r) => !r.accepted)).toBe(true);
    expect(receiver.spans()).toEqual([]);
  });

  test("spans the exporter sends to a refusing collector are decoded but not accepted", async () => {
    receiver.setMode("refuse-400");
    const { provider, tracer } = tracerFor(receiver);
    tracer.startSpan("dropped").end();
    // SimpleSpanProcessor.forceFlush rethrows the failed export (wrapped in an array by the provider).
    await expect(provider.forceFlush()).rejects.toBeDefined();
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]?.spans.map((s) => s.name)).toEqual(["dropped"]);
    expect(receiver.spans()).toEqual([]);
    await provider.shutdown();
  });

  test("slow answers 200 only after slowMs", async () => {
    receiver.setMode("slow", { slowMs: 300 });
    const started = performance.now();
    const res = await post(receiver);
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
    expect(receiver.counts.slow).toBe(1);
  });

  test("a client that gives up on a slow receiver does not break it", async () => {
    receiver.setMode("slow", { slowMs: 500 });
    await expect(fetch(receiver.url, { method: "POST", body: "", signal: AbortSignal.timeout(50) })).rejects.toThrow();
    await Bun.sleep(600);
    receiver.setMode("ok");
    expect((await post(receiver)).status).toBe(200);
  });

  test("down refuses connections and up listens again on the same port", async () => {
    await receiver.down();
    expect(receiver.isUp).toBe(false);
    await expect(post(receiver)).rejects.toThrow();
    receiver.up();
    expect(receiver.isUp).toBe(true);
    expect(receiver.url).toBe(`http://127.0.0.1:${receiver.port}/v1/traces`);
    expect((await post(receiver)).status).toBe(200);
    expect(receiver.counts.ok).toBe(1);
  });

  test("an exporter keeps working across down and up", async () => {
    // A refused connection counts as retryable, so the export retries until its timeout.
    const { provider, tracer } = tracerFor(receiver, 500);
    tracer.startSpan("before").end();
    await provider.forceFlush();
    await receiver.down();
    tracer.startSpan("while-down").end();
    await expect(provider.forceFlush()).rejects.toBeDefined();
    receiver.up();
    tracer.startSpan("after").end();
    await provider.forceFlush();
    expect(receiver.spans().map((s) => s.name)).toEqual(["before", "after"]);
    await provider.shutdown();
  });
});
