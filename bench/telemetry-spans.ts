/**
 * The span recorder in one process:
 *  1. OTLP serialization, µs per span: the recorder's encoder vs the official
 *     `ProtobufTraceSerializer`, the same 1,024 recorded spans (server spans like a request's,
 *     stage spans with process readings, some with an exception event), alternating; target ≤ 0.6.
 *  2. µs per `tracedSpan` with its CPU and memory readings, encoding into the export batch
 *     included (target ≤ 3), beside a bare SDK span and the readings alone.
 *  3. A burst of 100,000 spans within one second and a sustained 20,000 spans/s for 10 s, paced
 *     in 10 ms ticks, exported over OTLP/HTTP to a counting receiver process:
 *     ended / exported / dropped / received / peak RSS. Targets: the sustained load loses nothing;
 *     the burst loses only what the queue bound allows, and exported + dropped = ended.
 *
 * Run: bun run bench/telemetry-spans.ts   (BENCH_SPANS, BENCH_RUNS to change parts 1 and 2)
 */
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { ExportResultCode } from "@opentelemetry/core";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { createLogger } from "../src/log.ts";
import { OtlpTraceEncoder } from "../src/telemetry/encoder.ts";
import { createMemoryGauge } from "../src/telemetry/readings.ts";
import { RecordedSpan } from "../src/telemetry/span.ts";
import { newSpanId, newTraceId } from "../src/telemetry/ids.ts";
import { createTelemetry, DEFAULT_BATCH, DOUBLE_ATTRIBUTES, InMemoryRecorder, resolveTelemetryConfig, type BatchExporter, type Telemetry } from "../src/telemetry/index.ts";
import { fmt, loadAverage, median, spawnReady } from "./telemetry/processes.ts";

const SPANS = Number(process.env.BENCH_SPANS ?? 200_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const CHUNK = DEFAULT_BATCH.maxExportBatchSize;
const log = createLogger({ level: "warn" });
const yieldMacrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Accepts every batch at once: measures the recorder, not a collector. */
const discardExporter: BatchExporter = {
  export: (_batch, done) => done({ code: ExportResultCode.SUCCESS }),
  shutdown: async () => {},
};
const noopProcessor: SpanProcessor = {
  onStart() {},
  onEnd() {},
  forceFlush: async () => {},
  shutdown: async () => {},
};

/**
 * CPU time of this process in µs (user + system, every thread: GC included). Timing by CPU rather
 * than the wall clock keeps other work on this shared machine out of the figures.
 */
function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** CPU µs per span for `body`, run in chunks of one export batch with a macrotask between (so batches leave). */
async function perSpan(body: (i: number) => void): Promise<number> {
  const start = cpuMicros();
  for (let i = 0; i < SPANS; i += CHUNK) {
    const end = Math.min(SPANS, i + CHUNK);
    for (let j = i; j < end; j++) body(j);
    await yieldMacrotask();
  }
  return (cpuMicros() - start) / SPANS;
}

/** One export batch of spans like the service records: request roots, stages with readings, a few errors. */
function sampleSpans(): RecordedSpan[] {
  const resource = resourceFromAttributes({ "service.name": "bench", "service.version": "1.0.0", "deployment.environment.name": "production" });
  const scope = { name: "bench", version: "1.0.0" };
  const sink = new InMemoryRecorder();
  const spans: RecordedSpan[] = [];
  for (let i = 0; i < CHUNK; i++) {
    const root = i % 4 === 0;
    const traceId = newTraceId();
    const span = root
      ? new RecordedSpan("GET /api/images/:id", SpanKind.SERVER, traceId, newSpanId(), undefined, {
          "http.request.method": "GET",
          "url.path": `/api/images/${i}`,
          "url.scheme": "http",
          "server.address": "images.example.com",
          "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
          "http.route": "/api/images/:id",
          "http.response.status_code": 200,
        }, resource, scope, sink)
      : new RecordedSpan("search.vector", SpanKind.INTERNAL, traceId, newSpanId(), { traceId, spanId: newSpanId(), traceFlags: 1 }, {
          "search.limit": 30,
          "process.cpu_user_ms": 0.731 + i / 1000,
          "process.cpu_system_ms": 0.012,
          "process.memory_mb": 181.5,
          "process.memory_delta_kb": 0,
        }, resource, scope, sink);
    if (i % 16 === 1) {
      span.recordException(new RangeError(`no such image ${i}`));
      span.setStatus({ code: SpanStatusCode.ERROR, message: `no such image ${i}` });
    }
    span.end();
    spans.push(span);
  }
  return spans;
}

async function partOne() {
  const spans = sampleSpans();
  const encoder = new OtlpTraceEncoder(DOUBLE_ATTRIBUTES);
  const { resource, instrumentationScope } = spans[0]!;
  const cases: Array<[string, () => Uint8Array]> = [
    ["ours (append each span, seal the batch)", () => {
      for (const span of spans) encoder.append(span);
      return encoder.seal(resource, instrumentationScope);
    }],
    ["official ProtobufTraceSerializer", () => ProtobufTraceSerializer.serializeRequest(spans)!],
  ];
  const results = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  const batches = Math.max(1, Math.round(SPANS / CHUNK));
  let bytes = 0;
  for (let run = 0; run < RUNS; run++) {
    for (const [name, serialize] of cases) {
      const start = cpuMicros();
      for (let b = 0; b < batches; b++) bytes = serialize().length;
      results.get(name)!.push((cpuMicros() - start) / (batches * CHUNK));
      await yieldMacrotask();
    }
  }
  console.log(`## 1. OTLP serialization, CPU µs per span: the same ${fmt(CHUNK)} recorded spans (${fmt(bytes / CHUNK)} bytes each), ${fmt(batches)} batches per run, ${RUNS} runs alternating, median (min–max)`);
  for (const [name, values] of results) {
    console.log(`  ${name.padEnd(44)} ${fmt(median(values), 3).padStart(6)} µs per span  (${fmt(Math.min(...values), 3)}–${fmt(Math.max(...values), 3)})`);
  }
  const ours = median(results.get(cases[0]![0])!);
  const official = median(results.get(cases[1]![0])!);
  console.log(`  ours ${fmt(ours, 3)} µs vs official ${fmt(official, 3)} µs per span (${(official / ours).toFixed(1)}x): target ≤ 0.6 µs ${ours <= 0.6 ? "MET" : "NOT MET"}`);
}

async function partTwo() {
  const { config } = resolveTelemetryConfig({});
  const telemetry = createTelemetry(config, { log, exporter: discardExporter });
  const sdk = new BasicTracerProvider({ spanProcessors: [noopProcessor] }).getTracer("bench");
  const gauge = createMemoryGauge(config.memoryReadingMaxAgeMs);
  const cases: Array<[string, (i: number) => void]> = [
    ["tracedSpan (readings, encoded into the batch)", (i) => telemetry.tracedSpan("bench.stage", { i }, () => i)],
    ["tracedSpan nested in a parent", (i) => telemetry.tracedSpan("bench.child", { i }, () => i)],
    ["SDK span: startSpan().end()", (i) => sdk.startSpan("bench.stage", { attributes: { i } }).end()],
    ["reading: process.cpuUsage()", () => process.cpuUsage()],
    ["reading: memory gauge (statm, cached 1 ms)", () => gauge.rssKb()],
    ["reading: process.memoryUsage.rss()", () => process.memoryUsage.rss()],
  ];
  const results = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const [name, body] of cases) {
      const us =
        name === "tracedSpan nested in a parent"
          ? await telemetry.tracedSpan("bench.parent", {}, () => perSpan(body))
          : await perSpan(body);
      results.get(name)!.push(us);
    }
  }
  await telemetry.flush();
  const s = telemetry.stats();
  console.log(`## 2. CPU µs per span: ${fmt(SPANS)} spans per run, ${RUNS} runs alternating, median (min–max)`);
  for (const [name, values] of results) {
    console.log(`  ${name.padEnd(44)} ${fmt(median(values), 2).padStart(6)} µs  (${fmt(Math.min(...values), 2)}–${fmt(Math.max(...values), 2)})`);
  }
  const traced = median(results.get(cases[0]![0])!);
  const bare = median(results.get("SDK span: startSpan().end()")!);
  console.log(`  tracedSpan ${fmt(traced, 2)} µs vs bare SDK span ${fmt(bare, 2)} µs: target ≤ 3 µs ${traced <= 3 ? "MET" : "NOT MET"}`);
  console.log(`  recorder: ended ${fmt(s.ended)}, exported ${fmt(s.exported)}, dropped ${fmt(s.dropped)}`);
  gauge.close();
  await telemetry.shutdown();
}

interface LoadResult {
  ended: number;
  exported: number;
  dropped: number;
  received: number;
  peakRssMb: number;
  seconds: number;
  lateTicks: number;
}

/** Ends `perTick` root spans (each with a child) every 10 ms for `ticks` ticks, then flushes. */
async function load(telemetry: Telemetry, receiverPort: number, perTick: number, ticks: number): Promise<LoadResult> {
  await fetch(`http://127.0.0.1:${receiverPort}/reset`, { method: "POST" });
  let peakRss = process.memoryUsage.rss();
  const start = performance.now();
  let lateTicks = 0;
  for (let tick = 0; tick < ticks; tick++) {
    const due = start + tick * 10;
    const wait = due - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    else {
      if (wait < -10) lateTicks++;
      await yieldMacrotask();
    }
    for (let i = 0; i < perTick; i += 2) {
      telemetry.tracedSpan("load.request", { tick, i }, () => telemetry.tracedSpan("load.stage", {}, () => i));
    }
    if (tick % 10 === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }
  const seconds = (performance.now() - start) / 1000;
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  await telemetry.flush(30_000);
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  const s = telemetry.stats();
  const received = ((await (await fetch(`http://127.0.0.1:${receiverPort}/stats`)).json()) as { spans: number }).spans;
  return { ended: s.ended, exported: s.exported, dropped: s.dropped, received, peakRssMb: peakRss / 2 ** 20, seconds, lateTicks };
}

async function partThree() {
  const receiver = await spawnReady("bench/telemetry/receiver.ts");
  try {
    const { config } = resolveTelemetryConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${receiver.port}/v1/traces` });
    const b = config.batch;
    console.log(
      `## 3. load, exported over OTLP/HTTP to a counting receiver process: queue ${fmt(b.maxQueueSize)}, ` +
        `batch ${fmt(b.maxExportBatchSize)}, delay ${b.scheduledDelayMs} ms, ${b.maxConcurrentExports} exports in flight, export timeout ${b.exportTimeoutMs} ms`,
    );
    const report = (label: string, r: LoadResult, verdict: string) => {
      console.log(
        `  ${label}: ended ${fmt(r.ended)}, exported ${fmt(r.exported)}, dropped ${fmt(r.dropped)}, received ${fmt(r.received)}, ` +
          `peak RSS ${fmt(r.peakRssMb)} MB, ${fmt(r.seconds, 2)} s${r.lateTicks ? `, ${r.lateTicks} ticks late by > 10 ms` : ""} — ${verdict}`,
      );
    };

    const sustainedTelemetry = createTelemetry(config, { log });
    const sustained = await load(sustainedTelemetry, receiver.port, 200, 1_000);
    await sustainedTelemetry.shutdown();
    const sustainedOk = sustained.dropped === 0 && sustained.exported === sustained.ended && sustained.received === sustained.ended && sustained.ended === 200_000;
    report("sustained 20,000 spans/s for 10 s", sustained, sustainedOk ? "nothing lost: MET" : "spans lost: NOT MET");

    const burstTelemetry = createTelemetry(config, { log });
    const burst = await load(burstTelemetry, receiver.port, 1_000, 100);
    await burstTelemetry.shutdown();
    const adds = burst.exported + burst.dropped === burst.ended && burst.received === burst.exported && burst.ended === 100_000;
    report("burst of 100,000 spans in 1 s", burst, adds ? "exported + dropped = ended, receiver agrees: MET" : "counts do not add up: NOT MET");
    const instantTelemetry = createTelemetry(config, { log });
    const instant = await load(instantTelemetry, receiver.port, 100_000, 1);
    await instantTelemetry.shutdown();
    const bounded = instant.exported + instant.dropped === instant.ended && instant.received === instant.exported && instant.exported <= b.maxQueueSize;
    report("100,000 spans in one synchronous tick", instant, bounded ? "only the queue bound is kept, the rest counted: MET" : "NOT MET");
    console.log(
      `  the bound: at most ${fmt(b.maxQueueSize)} queued + ${fmt(b.maxConcurrentExports * b.maxExportBatchSize)} in flight; ` +
        `a burst beyond what export drains meanwhile is dropped and counted`,
    );
  } finally {
    await receiver.stop();
  }
}

console.log(`# span recorder: bun ${Bun.version}, ${navigator.hardwareConcurrency} cores, load average ${await loadAverage()}`);
await partOne();
await partTwo();
console.log(`  load average ${await loadAverage()}`);
await partThree();
console.log(`load average at the end: ${await loadAverage()}`);
