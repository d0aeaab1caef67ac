/**
 * The span recorder under load, in one process:
 *  1. µs per `tracedSpan` (with its CPU and memory readings) vs a bare SDK span
 *     (`tracer.startSpan().end()` on a BasicTracerProvider with a no-op processor); target ≤ 8 µs.
 *  2. A burst of 100,000 spans within one second and a sustained 20,000 spans/s for 10 s, paced
 *     in 10 ms ticks, exported by the official OTLP proto exporter to a counting receiver process:
 *     ended / exported / dropped / received / peak RSS. Targets: the sustained load loses nothing;
 *     the burst loses only what the queue bound allows, and exported + dropped = ended.
 *
 * Run: bun run bench/telemetry-spans.ts   (BENCH_SPANS, BENCH_RUNS to change part 1)
 */
import { ExportResultCode } from "@opentelemetry/core";
import { BasicTracerProvider, type ReadableSpan, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { createLogger } from "../src/log.ts";
import { createMemoryGauge } from "../src/telemetry/readings.ts";
import { createTelemetry, DEFAULT_BATCH, resolveTelemetryConfig, type Telemetry } from "../src/telemetry/index.ts";
import { fmt, median, spawnReady } from "./telemetry/processes.ts";

const SPANS = Number(process.env.BENCH_SPANS ?? 200_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const CHUNK = DEFAULT_BATCH.maxExportBatchSize;
const log = createLogger({ level: "warn" });
const yieldMacrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Accepts every batch at once: measures the recorder, not a collector. */
const discardExporter: SpanExporter = {
  export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }),
  shutdown: async () => {},
};
const noopProcessor: SpanProcessor = {
  onStart() {},
  onEnd() {},
  forceFlush: async () => {},
  shutdown: async () => {},
};

/** µs per span for `body`, run in chunks of one export batch with a macrotask between (so batches leave). */
async function perSpan(body: (i: number) => void): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < SPANS; i += CHUNK) {
    const end = Math.min(SPANS, i + CHUNK);
    for (let j = i; j < end; j++) body(j);
    await yieldMacrotask();
  }
  return ((performance.now() - start) * 1000) / SPANS;
}

async function partOne() {
  const { config } = resolveTelemetryConfig({});
  const telemetry = createTelemetry(config, { log, exporter: discardExporter });
  const sdk = new BasicTracerProvider({ spanProcessors: [noopProcessor] }).getTracer("bench");
  const gauge = createMemoryGauge(config.memoryReadingMaxAgeMs);
  const cases: Array<[string, (i: number) => void]> = [
    ["tracedSpan (readings, batch processor)", (i) => telemetry.tracedSpan("bench.stage", { i }, () => i)],
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
  console.log(`## 1. cost per span: ${fmt(SPANS)} spans per run, ${RUNS} runs alternating, median (min–max)`);
  for (const [name, values] of results) {
    console.log(`  ${name.padEnd(44)} ${fmt(median(values), 2).padStart(6)} µs  (${fmt(Math.min(...values), 2)}–${fmt(Math.max(...values), 2)})`);
  }
  const traced = median(results.get(cases[0]![0])!);
  const bare = median(results.get("SDK span: startSpan().end()")!);
  console.log(`  tracedSpan ${fmt(traced, 2)} µs vs bare SDK span ${fmt(bare, 2)} µs: target ≤ 8 µs ${traced <= 8 ? "MET" : "NOT MET"}`);
  console.log(`  recorder: ended ${fmt(s.ended)}, exported ${fmt(s.exported)}, dropped ${fmt(s.dropped)}`);
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

async function partTwo() {
  const receiver = await spawnReady("bench/telemetry/receiver.ts");
  try {
    const { config } = resolveTelemetryConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${receiver.port}/v1/traces` });
    const b = config.batch;
    console.log(
      `## 2. load, exported by the OTLP proto exporter to a counting receiver process: queue ${fmt(b.maxQueueSize)}, ` +
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

console.log(`# span recorder: bun ${Bun.version}, ${navigator.hardwareConcurrency} cores, load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}`);
await partOne();
await partTwo();
