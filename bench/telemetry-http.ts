/**
 * Requests per second on a trivial JSON route, each variant its own `bun` server process loaded
 * by `wrk`, alternating variants round by round: untraced (plain Hono) vs traced (our tracing
 * middleware, every span exported through the official OTLP proto exporter to a counting
 * receiver in a third process) vs the same recorder with an exporter that discards (what the
 * recorder costs before any OTLP work) vs `floor`, the least any recorder must do with the same
 * processor and exporter (a ceiling, not a usable recorder) vs `@hono/otel` with the SDK's
 * BatchSpanProcessor and the same exporter (a baseline). Prints each round, the medians,
 * traced/untraced (target ≥ 0.70) and the other ratios, plus CPU time per request of the server,
 * the load generator and the receiver, which the machine's load disturbs less, and the CPU budget
 * the target leaves on this machine.
 *
 * Run: bun run bench/telemetry-http.ts   (BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_THREADS)
 */
import { DEFAULT_BATCH } from "../src/telemetry/index.ts";
import { fmt, median, processCpuMicros, spawnReady, type Child } from "./telemetry/processes.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const THREADS = Number(process.env.BENCH_THREADS ?? 1);
const WARMUP_SECONDS = 2;
const VARIANTS = ["untraced", "traced", "recorder", "floor", "honootel"] as const;
type Variant = (typeof VARIANTS)[number];

interface Run {
  rps: number;
  /** Traced only: µs per span the OTLP exporter spent serializing on the event loop. */
  exportSyncUs?: number;
  requests: number;
  cpuUsPerRequest: number | undefined;
  /** CPU time of `wrk` and of the receiver process per request, in µs. */
  loadCpuUsPerRequest: number;
  receiverCpuUsPerRequest: number | undefined;
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
  const cpuUs = Number(proc.resourceUsage()?.cpuTime.total ?? 0);
  return { rps, requests, non2xx, errors, cpuUs };
}

async function receiverStats(port: number): Promise<{ requests: number; spans: number; decodeErrors: number }> {
  return (await fetch(`http://127.0.0.1:${port}/stats`)).json() as never;
}

async function runVariant(variant: Variant, receiver: Child): Promise<Run> {
  const receiverPort = receiver.port;
  await fetch(`http://127.0.0.1:${receiverPort}/reset`, { method: "POST" });
  const server = await spawnReady("bench/telemetry/server.ts", [variant, `http://127.0.0.1:${receiverPort}/v1/traces`]);
  const url = `http://127.0.0.1:${server.port}/json`;
  const warm = await wrk(url, WARMUP_SECONDS);
  const cpuBefore = await processCpuMicros(server.proc.pid);
  const receiverBefore = await processCpuMicros(receiver.proc.pid);
  const result = await wrk(url, SECONDS);
  const cpuAfter = await processCpuMicros(server.proc.pid);
  const receiverAfter = await processCpuMicros(receiver.proc.pid);
  const out = await server.stop();
  const received = await receiverStats(receiverPort);
  if (result.errors) console.log(`  ${variant}: wrk ${result.errors}`);
  const sent = warm.requests + result.requests;
  const stats = /stats (\{.*\})/.exec(out)?.[1];
  const exportSyncUs = stats ? (JSON.parse(stats) as { exportSyncUsPerSpan?: number }).exportSyncUsPerSpan : undefined;
  if (variant === "traced" || variant === "floor" || variant === "honootel") {
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
    loadCpuUsPerRequest: result.cpuUs / result.requests,
    receiverCpuUsPerRequest:
      receiverBefore !== undefined && receiverAfter !== undefined ? (receiverAfter - receiverBefore) / result.requests : undefined,
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

const runs: Record<Variant, Run[]> = { untraced: [], traced: [], recorder: [], floor: [], honootel: [] };
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const line: string[] = [];
    for (const variant of VARIANTS) {
      const run = await runVariant(variant, receiver);
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
const medOf = (v: Variant, pick: (r: Run) => number | undefined) => median(runs[v].map((r) => pick(r) ?? NaN));
const medCpu = (v: Variant) => medOf(v, (r) => r.cpuUsPerRequest);
console.log("medians (CPU µs per request: the server | wrk | the receiver):");
for (const v of VARIANTS) {
  const cpu = [medCpu(v), medOf(v, (r) => r.loadCpuUsPerRequest), medOf(v, (r) => r.receiverCpuUsPerRequest)];
  console.log(`  ${v.padEnd(9)} ${fmt(med(v)).padStart(8)} req/s   ${cpu.map((x) => fmt(x, 1).padStart(5)).join(" | ")}`);
}
const ratio = med("traced") / med("untraced");
// Each round's own ratio (variants run back to back) drifts less with the machine's load than
// a ratio of medians taken over different moments.
const paired = (v: Variant) => median(runs[v].map((r, i) => r.rps / runs.untraced[i]!.rps));
const ratioLine = (v: Variant, what: string) =>
  console.log(`${`${v}/untraced`.padEnd(17)} = ${(med(v) / med("untraced")).toFixed(2)}; rounds' own ratios ${paired(v).toFixed(2)}${what}`);
ratioLine("traced", ` (target ≥ 0.70) ${ratio >= 0.7 ? "MET" : "NOT MET"}`);
ratioLine("recorder", " (our middleware and recorder with an exporter that discards: the ceiling before any OTLP work)");
ratioLine("floor", " (the least any recorder must do, same processor and official exporter: about what any design that serializes on the event loop can reach)");
ratioLine("honootel", " (baseline)");
const serializeUs = median(runs.traced.map((r) => r.exportSyncUs ?? NaN));
const recorderUs = medCpu("recorder") - medCpu("untraced");
console.log(
  `where traced time goes (server CPU per request, medians): untraced work ${fmt(medCpu("untraced"), 1)} µs + ` +
    `recorder and middleware ${fmt(recorderUs, 1)} µs + OTLP serialization ${fmt(serializeUs, 1)} µs + ` +
    `export send and the rest ${fmt(medCpu("traced") - medCpu("untraced") - recorderUs - serializeUs, 1)} µs`,
);
console.log(`by server CPU per request: traced/untraced = ${(medCpu("untraced") / medCpu("traced")).toFixed(2)}, recorder/untraced = ${(medCpu("untraced") / medCpu("recorder")).toFixed(2)}, floor/untraced = ${(medCpu("untraced") / medCpu("floor")).toFixed(2)}`);
// The budget the target leaves: the server's JavaScript runs on one thread, and whatever else
// runs (wrk, the receiver, an export thread) shares the remaining cores.
const targetRps = 0.7 * med("untraced");
const cores = navigator.hardwareConcurrency;
const others = medOf("traced", (r) => r.loadCpuUsPerRequest) + medOf("traced", (r) => r.receiverCpuUsPerRequest);
console.log(
  `CPU budget at the target (${fmt(targetRps)} req/s, ${cores} cores): ${fmt(1e6 / targetRps, 1)} µs per request on the server's ` +
    `JavaScript thread, ${fmt(((cores - 1) * 1e6) / targetRps, 1)} µs on the other core(s), of which wrk and the receiver ` +
    `used ${fmt(others, 1)} µs per traced request`,
);
console.log(`load average at the end: ${await loadAverage()} (other work on this machine shares the CPU)`);
