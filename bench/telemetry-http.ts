/**
 * Requests per second on a trivial JSON route, each variant its own `bun` server process loaded
 * by `wrk`, alternating variants round by round: untraced (plain Hono) vs traced (our tracing
 * middleware, every span exported through the official OTLP proto exporter to a counting
 * receiver in a third process) vs the same recorder with an exporter that discards (what the
 * recorder costs before any OTLP work) vs `@hono/otel` with the SDK's BatchSpanProcessor and the same
 * exporter (a baseline). Prints each round, the medians, traced/untraced (target ≥ 0.70) and
 * honootel/untraced, plus the server's CPU time per request, which the machine's load disturbs less.
 *
 * Run: bun run bench/telemetry-http.ts   (BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_THREADS)
 */
import { DEFAULT_BATCH } from "../src/telemetry/index.ts";
import { fmt, median, processCpuMicros, spawnReady } from "./telemetry/processes.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const THREADS = Number(process.env.BENCH_THREADS ?? 1);
const WARMUP_SECONDS = 2;
const VARIANTS = ["untraced", "traced", "recorder", "honootel"] as const;
type Variant = (typeof VARIANTS)[number];

interface Run {
  rps: number;
  /** Traced only: µs per span the OTLP exporter spent serializing on the event loop. */
  exportSyncUs?: number;
  requests: number;
  cpuUsPerRequest: number | undefined;
  spansReceived: number;
  non2xx: number;
}

async function wrk(url: string, seconds: number) {
  const proc = Bun.spawn(["wrk", `-t${THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`, url], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(`wrk failed: ${await new Response(proc.stderr).text()}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors:.*/.exec(out)?.[0];
  if (!Number.isFinite(rps)) throw new Error(`cannot parse wrk output:\n${out}`);
  return { rps, requests, non2xx, errors };
}

async function receiverStats(port: number): Promise<{ requests: number; spans: number; decodeErrors: number }> {
  return (await fetch(`http://127.0.0.1:${port}/stats`)).json() as never;
}

async function runVariant(variant: Variant, receiverPort: number): Promise<Run> {
  await fetch(`http://127.0.0.1:${receiverPort}/reset`, { method: "POST" });
  const server = await spawnReady("bench/telemetry/server.ts", [variant, `http://127.0.0.1:${receiverPort}/v1/traces`]);
  const url = `http://127.0.0.1:${server.port}/json`;
  const warm = await wrk(url, WARMUP_SECONDS);
  const cpuBefore = await processCpuMicros(server.proc.pid);
  const result = await wrk(url, SECONDS);
  const cpuAfter = await processCpuMicros(server.proc.pid);
  const out = await server.stop();
  const received = await receiverStats(receiverPort);
  if (result.errors) console.log(`  ${variant}: wrk ${result.errors}`);
  const sent = warm.requests + result.requests;
  const stats = /stats (\{.*\})/.exec(out)?.[1];
  const exportSyncUs = stats ? (JSON.parse(stats) as { exportSyncUsPerSpan?: number }).exportSyncUsPerSpan : undefined;
  if (variant === "traced" || variant === "honootel") {
    const detail = stats && stats !== "{}" ? ` recorder ${stats}` : "";
    // wrk stops counting with requests still in flight, which the server answers and traces.
    if (received.spans < sent || received.spans > sent + 2 * CONNECTIONS || received.decodeErrors > 0) {
      console.log(`  ${variant}: ${fmt(sent)} requests, ${fmt(received.spans)} spans reached the receiver${detail}`);
    }
  }
  return {
    rps: result.rps,
    exportSyncUs,
    requests: result.requests,
    cpuUsPerRequest: cpuBefore !== undefined && cpuAfter !== undefined ? (cpuAfter - cpuBefore) / result.requests : undefined,
    spansReceived: received.spans,
    non2xx: result.non2xx + warm.non2xx,
  };
}

const receiver = await spawnReady("bench/telemetry/receiver.ts");
const loadAverage = async () => (await Bun.file("/proc/loadavg").text().catch(() => "?")).split(" ").slice(0, 3).join(" ");
const load = await loadAverage();
console.log("# HTTP throughput: untraced vs traced (our recorder) vs @hono/otel");
console.log(
  `bun ${Bun.version}, wrk -t${THREADS} -c${CONNECTIONS} -d${SECONDS}s (after a ${WARMUP_SECONDS}s warm-up), ${ROUNDS} rounds, ` +
    `${navigator.hardwareConcurrency} cores, load average ${load}`,
);
console.log(
  `export: OTLP proto over HTTP to a counting receiver process; queue ${DEFAULT_BATCH.maxQueueSize}, batch ${DEFAULT_BATCH.maxExportBatchSize}, ` +
    `delay ${DEFAULT_BATCH.scheduledDelayMs} ms (the same sizes for @hono/otel's BatchSpanProcessor)`,
);

const runs: Record<Variant, Run[]> = { untraced: [], traced: [], recorder: [], honootel: [] };
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const line: string[] = [];
    for (const variant of VARIANTS) {
      const run = await runVariant(variant, receiver.port);
      runs[variant].push(run);
      const cpu = run.cpuUsPerRequest === undefined ? "" : `, ${fmt(run.cpuUsPerRequest, 1)} µs CPU/req`;
      const serialize = run.exportSyncUs === undefined ? "" : ` (${fmt(run.exportSyncUs, 1)} in OTLP serialization)`;
      line.push(`${variant} ${fmt(run.rps)} req/s${cpu}${serialize}${run.non2xx ? `, ${run.non2xx} non-2xx` : ""}`);
    }
    console.log(`round ${round}: ${line.join(" | ")}`);
  }
} finally {
  await receiver.stop();
}

const med = (v: Variant) => median(runs[v].map((r) => r.rps));
const medCpu = (v: Variant) => median(runs[v].map((r) => r.cpuUsPerRequest ?? NaN));
console.log("medians:");
for (const v of VARIANTS) console.log(`  ${v.padEnd(9)} ${fmt(med(v)).padStart(8)} req/s   ${fmt(medCpu(v), 1).padStart(6)} µs CPU per request in the server`);
const ratio = med("traced") / med("untraced");
// Each round's own ratio (variants run back to back) drifts less with the machine's load than
// a ratio of medians taken over different moments.
const paired = (v: Variant) => median(runs[v].map((r, i) => r.rps / runs.untraced[i]!.rps));
console.log(`traced/untraced   = ${ratio.toFixed(2)} (target ≥ 0.70) ${ratio >= 0.7 ? "MET" : "NOT MET"}; median of the rounds' own ratios ${paired("traced").toFixed(2)}`);
console.log(`honootel/untraced = ${(med("honootel") / med("untraced")).toFixed(2)}`);
console.log(`recorder/untraced = ${(med("recorder") / med("untraced")).toFixed(2)} (our middleware and recorder with an exporter that discards: the ceiling before any OTLP work)`);
const serializeUs = median(runs.traced.map((r) => r.exportSyncUs ?? NaN));
const recorderUs = medCpu("recorder") - medCpu("untraced");
console.log(
  `where traced time goes (server CPU per request, medians): untraced work ${fmt(medCpu("untraced"), 1)} µs + ` +
    `recorder and middleware ${fmt(recorderUs, 1)} µs + OTLP serialization ${fmt(serializeUs, 1)} µs + ` +
    `export send and the rest ${fmt(medCpu("traced") - medCpu("untraced") - recorderUs - serializeUs, 1)} µs`,
);
console.log(`by server CPU per request: traced/untraced = ${(medCpu("untraced") / medCpu("traced")).toFixed(2)}, recorder/untraced = ${(medCpu("untraced") / medCpu("recorder")).toFixed(2)}, honootel/untraced = ${(medCpu("untraced") / medCpu("honootel")).toFixed(2)}`);
console.log(`load average at the end: ${await loadAverage()} (other work on this machine shares the CPU)`);
