import { describe, expect, test } from "bun:test";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { createTestTelemetry, PROCESS_ATTR } from "../src/telemetry/index.ts";
import { buildApp, parseTraceresponse } from "./telemetry-helpers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function expectReadings(span: ReadableSpan) {
  for (const key of Object.values(PROCESS_ATTR)) {
    expect(typeof span.attributes[key]).toBe("number");
    expect(Number.isFinite(span.attributes[key] as number)).toBe(true);
  }
  expect(span.attributes[PROCESS_ATTR.cpuUserMs] as number).toBeGreaterThanOrEqual(0);
  expect(span.attributes[PROCESS_ATTR.cpuSystemMs] as number).toBeGreaterThanOrEqual(0);
  // Resident memory of a Bun process is tens of MiB at least; a wrong unit would be off by 1024.
  expect(span.attributes[PROCESS_ATTR.memoryMb] as number).toBeGreaterThan(10);
  expect(span.attributes[PROCESS_ATTR.memoryMb] as number).toBeLessThan(64 * 1024);
}

describe("tracedSpan", () => {
  test("sync: returns the value, ends the span, a root span when there is no current span", () => {
    const { telemetry, recorder } = createTestTelemetry();
    expect(telemetry.currentSpan()).toBeUndefined();
    let inside: string | undefined;
    const value = telemetry.tracedSpan("cli.step", { "step.n": 1 }, (span) => {
      inside = telemetry.currentTraceId();
      expect(telemetry.currentSpan()).toBe(span);
      expect(span.isRecording()).toBe(true);
      return 42;
    });
    expect(value).toBe(42);
    expect(telemetry.currentSpan()).toBeUndefined();
    const [span] = recorder.byName("cli.step");
    expect(span).toBeDefined();
    expect(span!.ended).toBe(true);
    expect(span!.parentSpanContext).toBeUndefined();
    expect(span!.spanContext().traceId).toBe(inside!);
    expect(span!.kind).toBe(SpanKind.INTERNAL);
    expect(span!.attributes["step.n"]).toBe(1);
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expectReadings(span!);
  });

  test("async: the span lasts until the promise settles", async () => {
    const { telemetry, recorder } = createTestTelemetry();
    const pending = telemetry.tracedSpan("slow", {}, async () => {
      await sleep(30);
      return "done";
    });
    expect(pending).toBeInstanceOf(Promise);
    expect(recorder.byName("slow")).toHaveLength(0);
    expect(await pending).toBe("done");
    const [span] = recorder.byName("slow");
    const ms = (span!.duration[0] * 1e9 + span!.duration[1]) / 1e6;
    expect(ms).toBeGreaterThanOrEqual(25);
    expectReadings(span!);
  });

  test("sync throw: ends, records the exception, status ERROR, rethrows the same error", () => {
    const { telemetry, recorder } = createTestTelemetry();
    const error = new TypeError("bad shape");
    expect(() =>
      telemetry.tracedSpan("fails", {}, () => {
        throw error;
      }),
    ).toThrow(error);
    const [span] = recorder.byName("fails");
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: "bad shape" });
    expect(span!.attributes["error.type"]).toBe("TypeError");
    expect(span!.events.map((e) => e.name)).toEqual(["exception"]);
    expect(span!.events[0]!.attributes).toMatchObject({ "exception.type": "TypeError", "exception.message": "bad shape" });
    expectReadings(span!);
  });

  test("async rejection: ends, records, rethrows", async () => {
    const { telemetry, recorder } = createTestTelemetry();
    const error = new RangeError("out of range");
    await expect(
      telemetry.tracedSpan("rejects", {}, async () => {
        await sleep(1);
        throw error;
      }),
    ).rejects.toBe(error);
    const [span] = recorder.byName("rejects");
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes["error.type"]).toBe("RangeError");
    expect(span!.events[0]!.attributes?.["exception.message"]).toBe("out of range");
  });

  test("nesting holds across await and Promise.all fan-out", async () => {
    const { telemetry, recorder } = createTestTelemetry();
    await telemetry.tracedSpan("root", {}, async () => {
      await sleep(1);
      await telemetry.tracedSpan("a", {}, async () => {
        await sleep(2);
        telemetry.tracedSpan("a.1", {}, () => undefined);
        await sleep(1);
        await telemetry.tracedSpan("a.2", {}, async () => sleep(1));
      });
      await Promise.all(
        [5, 1, 3].map((ms, i) =>
          telemetry.tracedSpan(`fan.${i}`, { i }, async () => {
            await sleep(ms);
            await telemetry.tracedSpan(`fan.${i}.leaf`, {}, async () => sleep(ms));
          }),
        ),
      );
      telemetry.tracedSpan("after", {}, () => undefined);
    });
    const [root] = recorder.byName("root");
    const traceId = root!.spanContext().traceId;
    expect(recorder.spans()).toHaveLength(11);
    expect(recorder.spans(traceId)).toHaveLength(11);
    const [tree] = recorder.tree(traceId);
    const shape = (n: typeof tree): unknown => ({ [n!.name]: n!.children.map(shape).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))) });
    expect(shape(tree)).toEqual({
      root: [
        { a: [{ "a.1": [] }, { "a.2": [] }] },
        { after: [] },
        { "fan.0": [{ "fan.0.leaf": [] }] },
        { "fan.1": [{ "fan.1.leaf": [] }] },
        { "fan.2": [{ "fan.2.leaf": [] }] },
      ],
    });
  });

  test("two independent roots in parallel do not adopt each other's children", async () => {
    const { telemetry, recorder } = createTestTelemetry();
    await Promise.all(
      ["x", "y"].map((tag) =>
        telemetry.tracedSpan(`root.${tag}`, {}, async () => {
          for (let i = 0; i < 5; i++) {
            await sleep(1);
            telemetry.tracedSpan(`child.${tag}`, {}, () => undefined);
          }
        }),
      ),
    );
    for (const tag of ["x", "y"]) {
      const [root] = recorder.byName(`root.${tag}`);
      expect(root!.spanContext().traceId).not.toBe(recorder.byName(`root.${tag === "x" ? "y" : "x"}`)[0]!.spanContext().traceId);
      for (const child of recorder.byName(`child.${tag}`)) {
        expect(child.parentSpanContext?.spanId).toBe(root!.spanContext().spanId);
        expect(child.spanContext().traceId).toBe(root!.spanContext().traceId);
      }
    }
  });

  test("the kind option is honoured (CLIENT for remote calls)", () => {
    const { telemetry, recorder } = createTestTelemetry();
    telemetry.tracedSpan("db.query", { "db.system.name": "postgresql" }, () => 1, { kind: SpanKind.CLIENT });
    expect(recorder.byName("db.query")[0]!.kind).toBe(SpanKind.CLIENT);
  });

  test("50 concurrent requests through the app each get their own correct tree", async () => {
    const { telemetry, recorder } = createTestTelemetry();
    const app = buildApp(telemetry, {
      routes(app) {
        app.get("/work/:id", async (c) => {
          const id = c.req.param("id");
          const result = await telemetry.tracedSpan("work.load", { "work.id": id }, async () => {
            await sleep(Number(id) % 7);
            const parts = await Promise.all(
              [0, 1, 2].map((k) =>
                telemetry.tracedSpan("work.part", { "work.id": id, "work.part": k }, async () => {
                  await sleep((Number(id) * (k + 1)) % 5);
                  return telemetry.tracedSpan("work.leaf", { "work.id": id }, () => `${id}:${k}`);
                }),
              ),
            );
            return parts.join(",");
          });
          return c.json({ id, result, traceId: c.get("traceId") });
        });
      },
    });
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => app.request(`/work/${i}`)));
    const seen = new Set<string>();
    for (const [i, res] of responses.entries()) {
      expect(res.status).toBe(200);
      const body = (await res.json()) as { id: string; result: string; traceId: string };
      expect(body.id).toBe(String(i));
      expect(body.result).toBe(`${i}:0,${i}:1,${i}:2`);
      const { traceId, spanId } = parseTraceresponse(res.headers.get("traceresponse"));
      expect(body.traceId).toBe(traceId);
      expect(seen.has(traceId)).toBe(false);
      seen.add(traceId);

      const spans = recorder.spans(traceId);
      expect(spans).toHaveLength(1 + 1 + 3 + 3);
      const root = spans.find((s) => s.kind === SpanKind.SERVER)!;
      expect(root.spanContext().spanId).toBe(spanId);
      const load = spans.find((s) => s.name === "work.load")!;
      expect(load.parentSpanContext?.spanId).toBe(spanId);
      const parts = spans.filter((s) => s.name === "work.part");
      const leaves = spans.filter((s) => s.name === "work.leaf");
      expect(parts).toHaveLength(3);
      expect(leaves).toHaveLength(3);
      for (const part of parts) expect(part.parentSpanContext?.spanId).toBe(load.spanContext().spanId);
      const partIds = new Set(parts.map((p) => p.spanContext().spanId));
      expect(new Set(leaves.map((l) => l.parentSpanContext!.spanId))).toEqual(partIds);
      for (const s of [load, ...parts, ...leaves]) expect(s.attributes["work.id"]).toBe(String(i));
      expect(recorder.outline(traceId)[0]).toBe("GET /work/:id");
    }
    expect(recorder.spans()).toHaveLength(50 * 8);
  });
});
