/**
 * What tracing costs a request, measured on servers in their own processes loaded by `wrk`:
 * the server's own CPU time per request (user + system from /proc/<pid>/stat over the requests
 * served; steadier on a shared machine than req/s) and req/s, for
 *   - a bare Hono app's trivial JSON route: untraced, traced (our recorder, every span exported
 *     over OTLP/HTTP to a counting receiver in a third process), recorder (the same with an
 *     exporter that discards), an empty middleware (what Hono charges for any middleware), a
 *     minimal middleware that only records and exports one span (a floor, not a usable recorder),
 *     `@hono/otel` (SDK + BatchSpanProcessor + official proto exporter), and traced with four
 *     nested `tracedSpan` stages (the cost of one more child span);
 *   - the real service (`startServer`: `createApp` with its middleware and the default request
 *     log, written to a file as under systemd) on `GET /health` and on `POST /api/search` over a
 *     small corpus with no two queries alike, untraced (`OTEL_SDK_DISABLED=true`) and traced;
 *   - unpinned (server, wrk and receiver share both cores) and pinned (`taskset`: the server on
 *     CPU 0, wrk and the receiver on CPU 1).
 * Cases alternate within each round; the figures are medians over rounds, printed with the load
 * average (other work on this machine shares the CPU).
 *
 * Run: bun run bench/telemetry-http.ts   (BENCH_ROUNDS=3, BENCH_SECONDS=5, BENCH_CONNECTIONS=32,
 *      BENCH_CORPUS=500, BENCH_ONLY=<comma list of case names>)
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_BATCH } from "../src/telemetry/index.ts";
import { fmt, loadAverage, median, pin, processCpuMicros, spawnReady, type Child } from "./telemetry/processes.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const CORPUS = Number(process.env.BENCH_CORPUS ?? 500);
const WARMUP_SECONDS = 2;
const CORES = navigator.hardwareConcurrency;
const PINNED = { server: "0", load: "1" };
const scratch = mkdtempSync(join(tmpdir(), "bench-telemetry-http-"));

/**
 * wrk's request for the search cases: a different query every time, from adjective × subject ×
 * place (11,520 combinations), starting at a random one per wrk run. Only real words: a token the
 * vocabulary lacks (a counter) would make every search scan all word vectors for neighbours.
 */
const SEARCH_LUA = join(scratch, "search.lua");
writeFileSync(
  SEARCH_LUA,
  `local adjectives = {"red", "blue", "green", "golden", "small", "large", "old", "modern", "quiet", "bright", "dark", "vintage", "colorful", "misty", "rustic", "elegant"}
local subjects = {"car", "lake", "dog", "skyline", "coffee", "bicycle", "mountain", "pasta", "lighthouse", "kitchen", "portrait", "parrot",
  "sushi", "train", "perfume", "bread", "cat", "bridge", "sofa", "beach", "tower", "horse", "cake", "camera"}
local places = {"at dawn", "at night", "in the snow", "in the rain", "on a table", "in a studio", "by the sea", "in a forest",
  "in the city", "at sunset", "in winter", "in summer", "on a road", "in a garden", "on a shelf", "in the fog", "at a market",
  "in a cafe", "on a farm", "under a clear sky", "in autumn", "seen from above", "in close-up", "on film", "in black and white",
  "after the rain", "in neon light", "with plants", "on marble", "at noon"}
math.randomseed(os.time())
local n = math.random(0, #adjectives * #subjects * #places - 1)
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
request = function()
  n = n + 1
  local a = adjectives[(n % #adjectives) + 1]
  local s = subjects[(math.floor(n / #adjectives) % #subjects) + 1]
  local p = places[(math.floor(n / (#adjectives * #subjects)) % #places) + 1]
  return wrk.format(nil, "/api/search", nil, string.format('{"query":"%s %s %s","limit":10}', a, s, p))
end
`,
);

interface Case {
  name: string;
  /** Which server process: the bare Hono app or the real service. */
  app: "hono" | "service";
  variant: string;
  path: string;
  lua?: string;
  /** wrk connections; default BENCH_CONNECTIONS. */
  connections?: number;
  pinned: boolean;
}

const CASES: Case[] = [
  ...(["untraced", "traced", "recorder", "emptymw", "minimal", "honootel"] as const).map((variant): Case => ({ name: variant, app: "hono", variant, path: "/json", pinned: false })),
  { name: "traced+4 stages", app: "hono", variant: "traced", path: "/stages", pinned: false },
  { name: "wrapper", app: "hono", variant: "wrapper", path: "/json", pinned: false },
  { name: "untraced pinned", app: "hono", variant: "untraced", path: "/json", pinned: true },
  { name: "traced pinned", app: "hono", variant: "traced", path: "/json", pinned: true },
  { name: "emptymw pinned", app: "hono", variant: "emptymw", path: "/json", pinned: true },
  { name: "wrapper pinned", app: "hono", variant: "wrapper", path: "/json", pinned: true },
  { name: "service untraced /health", app: "service", variant: "untraced", path: "/health", pinned: false },
  { name: "service traced /health", app: "service", variant: "traced", path: "/health", pinned: false },
  { name: "service untraced /health pinned", app: "service", variant: "untraced", path: "/health", pinned: true },
  { name: "service traced /health pinned", app: "service", variant: "traced", path: "/health", pinned: true },
  // A search costs milliseconds of CPU: a few connections keep the server busy without timeouts.
  { name: "service untraced search", app: "service", variant: "untraced", path: "/api/search", lua: SEARCH_LUA, connections: 4, pinned: false },
  { name: "service traced search", app: "service", variant: "traced", path: "/api/search", lua: SEARCH_LUA, connections: 4, pinned: false },
];
const only = process.env.BENCH_ONLY?.split(",").map((s) => s.trim());
const cases = only ? CASES.filter((c) => only.includes(c.name)) : CASES;

interface Run {
  rps: number;
  requests: number;
  /** CPU µs per request: the server, wrk, the receiver. */
  server: number;
  wrk: number;
  receiver: number;
  /** Spans the receiver counted per request served (warm-up included on both sides). */
  spansPerRequest: number;
  non2xx: number;
  load: string;
}

async function wrk(url: string, seconds: number, c: Case) {
  const args = [`-t1`, `-c${c.connections ?? CONNECTIONS}`, `-d${seconds}s`, ...(c.lua ? ["-s", c.lua] : []), url];
  const proc = Bun.spawn([...(c.pinned ? ["taskset", "-c", PINNED.load] : []), "wrk", ...args], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(`wrk failed: ${await new Response(proc.stderr).text()}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (!Number.isFinite(rps)) throw new Error(`cannot parse wrk output:\n${out}`);
  return { rps, requests, non2xx, cpuUs: Number(proc.resourceUsage()?.cpuTime.total ?? 0) };
}

async function runCase(c: Case, receiver: Child): Promise<Run> {
  await fetch(`http://127.0.0.1:${receiver.port}/reset`, { method: "POST" });
  await pin(receiver.proc.pid, c.pinned ? PINNED.load : `0-${CORES - 1}`);
  const otlp = `http://127.0.0.1:${receiver.port}/v1/traces`;
  const cpus = c.pinned ? PINNED.server : undefined;
  const server =
    c.app === "hono"
      ? await spawnReady("bench/telemetry/server.ts", [c.variant, otlp], { cpus })
      : await spawnReady("bench/telemetry/app-server.ts", [c.variant, otlp, String(CORPUS)], { cpus, logFile: join(scratch, `service-${c.variant}.log`) });
  try {
    const url = `http://127.0.0.1:${server.port}${c.path}`;
    const warm = await wrk(url, WARMUP_SECONDS, c);
    const load = await loadAverage();
    const [serverBefore, receiverBefore] = await Promise.all([processCpuMicros(server.proc.pid), processCpuMicros(receiver.proc.pid)]);
    const result = await wrk(url, SECONDS, c);
    const [serverAfter, receiverAfter] = await Promise.all([processCpuMicros(server.proc.pid), processCpuMicros(receiver.proc.pid)]);
    // Spans still queued are flushed at stop; count what the receiver holds after the server exits.
    await server.stop();
    const received = (await (await fetch(`http://127.0.0.1:${receiver.port}/stats`)).json()) as { spans: number };
    const perRequest = (before: number | undefined, after: number | undefined) =>
      before === undefined || after === undefined ? NaN : (after - before) / result.requests;
    return {
      rps: result.rps,
      requests: result.requests,
      server: perRequest(serverBefore, serverAfter),
      wrk: result.cpuUs / result.requests,
      receiver: perRequest(receiverBefore, receiverAfter),
      spansPerRequest: received.spans / (warm.requests + result.requests),
      non2xx: warm.non2xx + result.non2xx,
      load,
    };
  } finally {
    const out = await server.stop();
    const stats = /stats (\{.*\})/.exec(out)?.[1];
    if (stats && c.variant === "traced") {
      const s = JSON.parse(stats) as { ended: number; exported: number; dropped: number; droppedQueueFull: number; droppedExportFailed: number };
      if (s.exported + s.dropped !== s.ended || s.dropped > 0) {
        console.log(
          `  ${c.name}: spans ended ${s.ended}, exported ${s.exported}, dropped ${s.dropped} ` +
            `(queue full ${s.droppedQueueFull}, export failed or unsent at shutdown ${s.droppedExportFailed})`,
        );
      }
    }
  }
}

console.log("# What tracing costs a request: server CPU µs per request and req/s");
console.log(
  `bun ${Bun.version}, ${CORES} cores, wrk -t1 -c${CONNECTIONS} -d${SECONDS}s after a ${WARMUP_SECONDS}s warm-up, ${ROUNDS} rounds, ` +
    `pinned: server on CPU ${PINNED.server}, wrk and receiver on CPU ${PINNED.load}; service corpus ${CORPUS} images; ` +
    `export batch ${DEFAULT_BATCH.maxExportBatchSize}, delay ${DEFAULT_BATCH.scheduledDelayMs} ms; load average at start ${await loadAverage()}`,
);

const receiver = await spawnReady("bench/telemetry/receiver.ts");
const runs = new Map<string, Run[]>(cases.map((c) => [c.name, []]));
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const line: string[] = [];
    for (const c of cases) {
      const run = await runCase(c, receiver);
      runs.get(c.name)!.push(run);
      line.push(`${c.name} ${fmt(run.rps)} req/s ${fmt(run.server, 1)} µs${run.non2xx ? ` (${run.non2xx} non-2xx)` : ""} [load ${run.load.split(" ")[0]}]`);
    }
    console.log(`round ${round}: ${line.join(" | ")}`);
  }
} finally {
  await receiver.stop();
}

const med = (name: string, pick: (r: Run) => number) => median((runs.get(name) ?? []).map(pick));
const has = (name: string) => (runs.get(name)?.length ?? 0) > 0;
console.log("medians                           req/s   CPU µs per request: server | wrk | receiver   spans per request");
for (const c of cases) {
  const cpu = [med(c.name, (r) => r.server), med(c.name, (r) => r.wrk), med(c.name, (r) => r.receiver)];
  console.log(
    `  ${c.name.padEnd(31)} ${fmt(med(c.name, (r) => r.rps)).padStart(8)}   ${cpu.map((x) => fmt(x, 1).padStart(7)).join(" | ")}   ${fmt(med(c.name, (r) => r.spansPerRequest), 1).padStart(5)}`,
  );
}

/** Each round's own ratio (cases run minutes apart drift less within a round), then the median. */
const pairedRatio = (a: string, b: string) => median(runs.get(a)!.map((r, i) => r.rps / runs.get(b)![i]!.rps));
const verdict = (ok: boolean) => (ok ? "MET" : "NOT MET");
const overheadLine = (label: string, traced: string, untraced: string, target?: number) => {
  if (!has(traced) || !has(untraced)) return;
  const overhead = med(traced, (r) => r.server) - med(untraced, (r) => r.server);
  const ratio = med(traced, (r) => r.rps) / med(untraced, (r) => r.rps);
  const goal = target === undefined ? "" : ` (target ≤ ${target}) ${verdict(overhead <= target)}`;
  // A server that is the bottleneck serves requests in inverse proportion to their CPU cost.
  const cpuRatio = med(untraced, (r) => r.server) / med(traced, (r) => r.server);
  console.log(
    `${label}: tracing costs ${fmt(overhead, 1)} µs of server CPU per request${goal}; ` +
      `req/s traced/untraced ${ratio.toFixed(2)}, rounds' own ratios ${pairedRatio(traced, untraced).toFixed(2)} (target ≥ 0.70) ${verdict(ratio >= 0.7)}; ` +
      `by server CPU per request ${cpuRatio.toFixed(2)}`,
  );
};
overheadLine("trivial route, unpinned", "traced", "untraced", 5);
overheadLine("trivial route, pinned  ", "traced pinned", "untraced pinned", 5);
if (has("recorder") && has("untraced")) {
  const recorder = med("recorder", (r) => r.server) - med("untraced", (r) => r.server);
  const send = med("traced", (r) => r.server) - med("recorder", (r) => r.server);
  console.log(`  of which middleware + recorder + encoding ${fmt(recorder, 1)} µs (exporter that discards), sending to the collector ${fmt(send, 1)} µs`);
}
overheadLine("  floor: a middleware that only records and exports one span", "minimal", "untraced");
if (has("emptymw") && has("untraced") && has("traced")) {
  const floor = med("emptymw", (r) => r.server) - med("untraced", (r) => r.server);
  console.log(
    `  an empty Hono middleware alone costs ${fmt(floor, 1)} µs (req/s ${(med("emptymw", (r) => r.rps) / med("untraced", (r) => r.rps)).toFixed(2)} of untraced): ` +
      `the recorder's own work is ${fmt(med("traced", (r) => r.server) - med("emptymw", (r) => r.server), 1)} µs above that floor`,
  );
}
overheadLine("  experiment, recorder around app.fetch (no middleware), unpinned", "wrapper", "untraced");
overheadLine("  experiment, recorder around app.fetch (no middleware), pinned  ", "wrapper pinned", "untraced pinned");
overheadLine("  floor: an empty middleware, pinned", "emptymw pinned", "untraced pinned");
if (has("honootel") && has("untraced")) {
  console.log(
    `  @hono/otel: ${fmt(med("honootel", (r) => r.server) - med("untraced", (r) => r.server), 1)} µs per request, ` +
      `req/s ${(med("honootel", (r) => r.rps) / med("untraced", (r) => r.rps)).toFixed(2)} of untraced`,
  );
}
if (has("traced+4 stages") && has("traced")) {
  const perChild = (med("traced+4 stages", (r) => r.server) - med("traced", (r) => r.server)) / 4;
  console.log(`  one more child tracedSpan (with its CPU and memory readings, exported): ${fmt(perChild, 2)} µs of server CPU`);
}
overheadLine("service GET /health, default request log", "service traced /health", "service untraced /health", 8);
overheadLine("service GET /health, pinned", "service traced /health pinned", "service untraced /health pinned", 8);
overheadLine(`service POST /api/search, ${CORPUS} images`, "service traced search", "service untraced search");
console.log(`load average at the end: ${await loadAverage()}`);
