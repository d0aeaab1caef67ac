/**
 * TraceQL number literals against the types the recorder really sends. Tempo compares a number
 * literal only with values stored with its own type (grafana/tempo#4332: `{ span.x > 200 }` never
 * matches a double), so every comparison of a numeric attribute in the cookbook and the dashboard
 * must use a float literal for a double and an int literal for an int — and the wire types are
 * read here from spans that went through the real export path.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ExportResultCode } from "@opentelemetry/core";
import { createTelemetry, NUMERIC_ATTRIBUTE_TYPES, resolveTelemetryConfig, type SpanBatch } from "../src/telemetry/index.ts";
import { decodeExportTraceServiceRequest } from "./harness/otlp-receiver.ts";
import { captureLogger } from "./telemetry-helpers.ts";

const ROOT = join(import.meta.dir, "..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

/** Every TraceQL query of the cookbook (fenced `traceql` blocks) and of the dashboard's panels. */
function queries(): Array<{ where: string; query: string }> {
  const cookbook = [...read("infra/grafana/TRACEQL.md").matchAll(/```traceql\n([\s\S]*?)```/g)].map((m) => ({ where: "TRACEQL.md", query: m[1]!.trim() }));
  const dashboard = JSON.parse(read("infra/grafana/dashboard.json")) as { panels: Array<{ title: string; targets?: Array<{ query?: string }> }> };
  const panels = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `dashboard: ${p.title}`, query: t.query ?? "" })));
  return [...cookbook, ...panels];
}

/**
 * Comparisons of a span attribute with a number whose literal type differs from the attribute's
 * wire type in `types`; also numbers compared with attributes the table does not know.
 */
function literalProblems(query: string, types: Readonly<Record<string, "int" | "double">>): string[] {
  const problems: string[] = [];
  const comparison = /span\.([A-Za-z_][\w.]*)\s*(=|!=|>=|<=|>|<)\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?![\w.])/g;
  for (const [, attribute, op, literal] of query.matchAll(comparison)) {
    const type = types[attribute!];
    const literalType = /[.eE]/.test(literal!) ? "double" : "int";
    if (type === undefined) problems.push(`span.${attribute} ${op} ${literal}: not a numeric attribute the service sends`);
    else if (type !== literalType) problems.push(`span.${attribute} ${op} ${literal}: the attribute is sent as ${type}, the literal is ${literalType}`);
  }
  return problems;
}

describe("TraceQL number literals", () => {
  test("the wire type of every numeric attribute, read from spans exported by the recorder, is the one the table says", async () => {
    const batches: SpanBatch[] = [];
    const { config } = resolveTelemetryConfig({ OTEL_BSP_SCHEDULE_DELAY: "60000" });
    const telemetry = createTelemetry(config, {
      log: captureLogger().log,
      exporter: { export: (batch, done) => (batches.push(batch), done({ code: ExportResultCode.SUCCESS })), shutdown: async () => {} },
    });
    // Whole numbers are the hard case: the official serializer would send every one as an int.
    const span = telemetry.startSpan("wire-types");
    for (const key of Object.keys(NUMERIC_ATTRIBUTE_TYPES)) span.setAttribute(key, 2);
    span.end();
    // And the readings tracedSpan itself takes.
    telemetry.tracedSpan("readings", {}, () => 0);
    await telemetry.flush();
    const spans = batches.flatMap((b) => decodeExportTraceServiceRequest(b.body));
    const whole = spans.find((s) => s.name === "wire-types")!;
    for (const [key, type] of Object.entries(NUMERIC_ATTRIBUTE_TYPES)) {
      expect({ key, type: whole.attributes[key]?.type }).toEqual({ key, type });
    }
    const readings = spans.find((s) => s.name === "readings")!;
    for (const [key, type] of Object.entries(NUMERIC_ATTRIBUTE_TYPES).filter(([k]) => k.startsWith("process."))) {
      expect({ key, type: readings.attributes[key]?.type }).toEqual({ key, type });
    }
    await telemetry.shutdown();
  });

  test("every comparison in the cookbook and the dashboard uses the literal type of what is sent", () => {
    const all = queries();
    expect(all.length).toBeGreaterThan(30);
    const problems = all.flatMap(({ where, query }) => literalProblems(query, NUMERIC_ATTRIBUTE_TYPES).map((p) => `${where}: ${p}`));
    expect(problems).toEqual([]);
    // The cookbook does compare each kind at least once, so the check has something to hold.
    const literals = all.flatMap(({ query }) => [...query.matchAll(/span\.([\w.]+)\s*(?:=|!=|>=|<=|>|<)\s*-?[\d.]+/g)].map((m) => NUMERIC_ATTRIBUTE_TYPES[m[1]!]));
    expect(new Set(literals)).toEqual(new Set(["int", "double"]));
  });

  test("the check catches an int literal for a double, a float literal for an int, and an unknown attribute", () => {
    expect(literalProblems("{ span.process.cpu_user_ms > 200 }", NUMERIC_ATTRIBUTE_TYPES)).toEqual([
      "span.process.cpu_user_ms > 200: the attribute is sent as double, the literal is int",
    ]);
    expect(literalProblems("{ span.http.response.status_code >= 400.0 }", NUMERIC_ATTRIBUTE_TYPES)).toEqual([
      "span.http.response.status_code >= 400.0: the attribute is sent as int, the literal is double",
    ]);
    expect(literalProblems("{ span.search.limit < 5 }", NUMERIC_ATTRIBUTE_TYPES)).toEqual(["span.search.limit < 5: not a numeric attribute the service sends"]);
    expect(literalProblems("{ span.process.memory_mb > 1e3 && span.process.memory_delta_kb > 51200 }", NUMERIC_ATTRIBUTE_TYPES)).toEqual([]);
  });
});
