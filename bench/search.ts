/**
 * Search speed end to end: the real service (`startServer`, embedded PGlite on disk, offline
 * models) in its own process over a corpus, asked only distinct queries (no two alike, so no cache
 * stands in for the engine):
 *
 * - one client, sequential: client latency p50/p95/max, the server process's CPU time per search
 *   (all its threads, from /proc/<pid>/task/<tid>/schedstat), the median of every stage span, and
 *   the slowest queries with their stages;
 * - `wrk` with 16 connections: requests per second, latency, CPU per search (server CPU ÷ requests),
 *   and with `--pinned` the same with the server on core 0 and `wrk` on core 1;
 * - idle RSS of the server after start and after the run.
 *
 * Corpora: `demo` (the 69 demo images through the real ingest pipeline) and synthetic captioned
 * corpora of any size (vectors from the real offline embedder, so they cluster like real ones).
 * Each in two states: `fresh` (exactly as bulk loaded: PGlite runs no autovacuum, so no hint bits,
 * visibility map, statistics or merged GIN pending list; the service's own maintenance is turned
 * off for it) and `vacuumed` (after `VACUUM ANALYZE`, what the ingest CLIs and the service do).
 * With the demo corpus, a first start without the word-vector cache is measured too.
 * Corpora are built once under `.tmp/bench-search/` (keyed by the migrations; the 100k one takes
 * minutes) and copied for every run, so each run starts from the same state.
 *
 * Run: bun run bench:search                                   (demo, 10k and 100k, fresh and vacuumed)
 *      bun run bench/search.ts --sizes demo --states vacuumed --seconds 10
 *      options: --sizes demo,10000,100000  --states fresh,vacuumed  --queries 300  --warmup 30
 *               --seconds 10  --connections 16  --threads 2  --pinned  --slowest 5
 *               --no-hypernyms  corpora loaded without WordNet hypernyms (the index as it was before issue 17)
 *      SERVER_ENV='SEARCH_…=…' passes settings to the service.
 */
import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { seededRandom } from "../src/random.ts";
import { commonWords, demoQueries, DEMO_KINDS, STATES, syntheticQueries, SYNTHETIC_KINDS, templateDir, type CorpusState, type QueryBody } from "./search/corpus.ts";
import type { ServiceAnswers } from "./search/server.ts";
import { ROOT } from "./telemetry/processes.ts";

const { values: args } = parseArgs({
  options: {
    sizes: { type: "string", default: "demo,10000,100000" },
    states: { type: "string", default: STATES.join(",") },
    queries: { type: "string", default: "300" },
    warmup: { type: "string", default: "30" },
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "16" },
    threads: { type: "string", default: "2" },
    limit: { type: "string", default: "10" },
    pinned: { type: "boolean", default: false },
    slowest: { type: "string", default: "5" },
    "no-hypernyms": { type: "boolean", default: false },
  },
});
const HYPERNYMS = !args["no-hypernyms"];
const SIZES = args.sizes!.split(",").map((s) => (s === "demo" ? "demo" : Number(s))) as ("demo" | number)[];
const STATE_LIST = args.states!.split(",") as CorpusState[];
const QUERIES = Number(args.queries);
const WARMUP = Number(args.warmup);
const SECONDS = Number(args.seconds);
const CONNECTIONS = Number(args.connections);
const THREADS = Number(args.threads);
const LIMIT = Number(args.limit);
const SLOWEST = Number(args.slowest);
const LOAD_QUERIES = 40_000;

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "-");
function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** CPU time of a process's live threads in ms, from schedstat (nanoseconds; /proc/<pid>/stat counts 10 ms ticks): the request thread, the database worker thread, and the rest (JIT, GC, I/O). */
async function threadCpuMs(pid: number): Promise<{ main: number; worker: number; other: number }> {
  const out = { main: 0, worker: 0, other: 0 };
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const [stat, comm] = await Promise.all([
      Bun.file(`/proc/${pid}/task/${tid}/schedstat`).text().catch(() => "0"),
      Bun.file(`/proc/${pid}/task/${tid}/comm`).text().catch(() => ""),
    ]);
    const ms = Number(stat.split(" ")[0]) / 1e6;
    if (Number(tid) === pid) out.main += ms;
    else if (comm.trim() === "Worker") out.worker += ms;
    else out.other += ms;
  }
  return out;
}

async function processCpuMs(pid: number): Promise<number> {
  const t = await threadCpuMs(pid);
  return t.main + t.worker + t.other;
}

interface Service {
  pid: number;
  port: number;
  ask<T>(message: object): Promise<T>;
  stop(): Promise<void>;
}

async function startService(dataDir: string, extraEnv: Record<string, string> = {}, onListening?: (port: number) => void): Promise<Service> {
  const pending = new Map<number, (answer: unknown) => void>();
  let next = 0;
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...extraEnv };
  for (const pair of (process.env.SERVER_ENV ?? "").split(/\s+/).filter(Boolean)) {
    const [k, ...v] = pair.split("=");
    env[k!] = v.join("=");
  }
  const proc = Bun.spawn([process.execPath, "run", join(ROOT, "bench/search/server.ts"), dataDir], {
    cwd: ROOT,
    env,
    stdout: "pipe",
    stderr: "inherit",
    ipc(message: { id: number; answer: unknown }) {
      pending.get(message.id)?.(message.answer);
      pending.delete(message.id);
    },
  });
  let out = "";
  const decoder = new TextDecoder();
  const { promise, resolve } = Promise.withResolvers<number>();
  void (async () => {
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
      out += decoder.decode(chunk, { stream: true });
      const listening = /listening (\d+)/.exec(out);
      if (listening && onListening) {
        onListening(Number(listening[1]));
        onListening = undefined;
      }
      const match = /ready (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    }
  })();
  const port = await Promise.race([
    promise,
    proc.exited.then((code) => {
      throw new Error(`the service exited with ${code} before it was ready`);
    }),
  ]);
  return {
    pid: proc.pid,
    port,
    ask<T>(message: object) {
      const id = next++;
      const { promise: answer, resolve: done } = Promise.withResolvers<T>();
      pending.set(id, done as (a: unknown) => void);
      proc.send({ ...message, id });
      return answer;
    },
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

function wrkScript(): string {
  // Each wrk thread takes every n-th line of the file, so no two requests carry the same query.
  return `
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  bodies = {}
  local n = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % n == tid then table.insert(bodies, line) end
    i = i + 1
  end
  counter = 0
end
function request()
  counter = counter + 1
  return wrk.format("POST", "/api/search", { ["Content-Type"] = "application/json" }, bodies[(counter - 1) % #bodies + 1])
end
`;
}

function parseDuration(text: string): number {
  const match = /([\d.]+)(us|ms|s|m)/.exec(text);
  if (!match) return NaN;
  const value = Number(match[1]);
  return match[2] === "us" ? value / 1000 : match[2] === "ms" ? value : match[2] === "s" ? value * 1000 : value * 60_000;
}

interface LoadRun {
  rps: number;
  requests: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: string | undefined;
  cpuMsPerSearch: number;
  /** Of which: the request thread, the database worker thread, the rest. */
  threads: { main: number; worker: number; other: number };
  wrkCpuMsPerSearch: number;
}

async function load(service: Service, bodies: QueryBody[], work: string, pinned: boolean): Promise<LoadRun> {
  const file = join(work, `queries-${pinned ? "pinned" : "shared"}.jsonl`);
  await Bun.write(file, bodies.map((b) => JSON.stringify({ ...b, limit: LIMIT })).join("\n") + "\n");
  const script = join(work, "queries.lua");
  await Bun.write(script, wrkScript());
  if (pinned) await Bun.spawn(["taskset", "-a", "-p", "-c", "0", String(service.pid)], { stdout: "ignore" }).exited;
  const cpu0 = await threadCpuMs(service.pid);
  const command = ["wrk", `-t${THREADS}`, `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--latency", "-s", script, `http://127.0.0.1:${service.port}`, "--", file, String(THREADS)];
  const proc = Bun.spawn(pinned ? ["taskset", "-c", "1", ...command] : command, { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(`wrk failed: ${await new Response(proc.stderr).text()}`);
  const cpu1 = await threadCpuMs(service.pid);
  if (pinned) await Bun.spawn(["taskset", "-a", "-p", "-c", "0,1", String(service.pid)], { stdout: "ignore" }).exited;
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  if (!Number.isFinite(rps)) throw new Error(`cannot parse wrk output:\n${out}`);
  if (requests > bodies.length) console.log(`  (note: ${requests} requests > ${bodies.length} distinct queries; some repeated)`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  // A refused request (429 from a rate limit, 5xx) costs next to nothing: counting it would report the refusal's speed.
  if (non2xx > 0) throw new Error(`${non2xx} of ${requests} searches under load did not answer 2xx (a rate limit? see SERVER_ENV)`);
  return {
    rps,
    requests,
    // Anchored: the thread stats line's "+/- Stdev" column (e.g. "89.50%") would match too.
    p50: parseDuration(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? ""),
    p99: parseDuration(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? ""),
    max: parseDuration(/Latency\s+\S+\s+\S+\s+(\S+)/.exec(out)?.[1] ?? ""),
    non2xx,
    errors: /Socket errors:.*/.exec(out)?.[0],
    cpuMsPerSearch: (cpu1.main + cpu1.worker + cpu1.other - cpu0.main - cpu0.worker - cpu0.other) / requests,
    threads: { main: (cpu1.main - cpu0.main) / requests, worker: (cpu1.worker - cpu0.worker) / requests, other: (cpu1.other - cpu0.other) / requests },
    wrkCpuMsPerSearch: Number(proc.resourceUsage()?.cpuTime.total ?? 0) / 1000 / requests,
  };
}

interface Row {
  corpus: string;
  state: CorpusState;
  p50: number;
  p95: number;
  max: number;
  cpuP50: number;
  cpuP95: number;
  rps: number;
  loadP50: number;
  loadP99: number;
  loadCpu: number;
  pinnedRps?: number;
  pinnedCpu?: number;
  rssIdle: number;
  rssAfter: number;
}

async function runCase(size: "demo" | number, state: CorpusState, words: string[]): Promise<Row> {
  const template = await templateDir(size, state, { hypernyms: HYPERNYMS }, console.log);
  const work = await mkdtemp(join(tmpdir(), "bench-search-"));
  const dataDir = join(work, "data");
  await cp(template, dataDir, { recursive: true });
  const random = seededRandom(size === "demo" ? 0xdec0de : 0x5eed + size);
  const kinds = size === "demo" ? DEMO_KINDS : SYNTHETIC_KINDS;
  const all = (size === "demo" ? demoQueries : syntheticQueries)(random, WARMUP + QUERIES + LOAD_QUERIES, words);
  const started = performance.now();
  // "fresh" measures the state as loaded: the service's own VACUUM ANALYZE (at start, every minute) is off.
  const service = await startService(dataDir, state === "fresh" ? { DB_MAINTENANCE_INTERVAL_MS: "0" } : {});
  const startMs = performance.now() - started;
  try {
    const rssIdle = await service.ask<number>({ rss: true });
    const sizes = await service.ask<ServiceAnswers["sizes"]>({ sizes: true });
    const url = `http://127.0.0.1:${service.port}/api/search`;
    const post = async (body: QueryBody) => {
      const t = performance.now();
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...body, limit: LIMIT }) });
      const json = (await res.json()) as { results?: unknown[]; traceId?: string; degraded?: string[] };
      const ms = performance.now() - t;
      if (res.status !== 200) throw new Error(`search answered ${res.status}: ${JSON.stringify(json)}`);
      return { ms, json };
    };
    for (const { body } of all.slice(0, WARMUP)) await post(body);
    const measured: { ms: number; cpu: number; stagesCpu: number; kind: number; body: QueryBody; stages: Record<string, number>; notes: ServiceAnswers["stages"]["notes"]; results: number }[] = [];
    await service.ask({ reset: true });
    for (const { kind, body } of all.slice(WARMUP, WARMUP + QUERIES)) {
      const cpu0 = await processCpuMs(service.pid);
      const { ms, json } = await post(body);
      const cpu = (await processCpuMs(service.pid)) - cpu0;
      const { stages, stagesCpuMs, notes } = await service.ask<ServiceAnswers["stages"]>({ stages: json.traceId });
      measured.push({ ms, cpu, stagesCpu: stagesCpuMs, kind, body, stages, notes, results: json.results?.length ?? 0 });
    }
    const ms = measured.map((m) => m.ms);
    const cpu = measured.map((m) => m.cpu);
    const shared = await load(service, all.slice(WARMUP + QUERIES, WARMUP + QUERIES + LOAD_QUERIES / 2).map((q) => q.body), work, false);
    await service.ask({ reset: true });
    const pinned = args.pinned ? await load(service, all.slice(WARMUP + QUERIES + LOAD_QUERIES / 2).map((q) => q.body), work, true) : undefined;
    await service.ask({ reset: true });
    Bun.gc(true);
    await Bun.sleep(1000);
    const rssAfter = await service.ask<number>({ rss: true });

    const name = size === "demo" ? "demo (69 images)" : `${size.toLocaleString("en-US")} images`;
    console.log(`\n${name}, ${state}: service ready in ${fmt(startMs / 1000)} s, idle RSS ${rssIdle} MB (after the run ${rssAfter} MB)`);
    console.log(
      `  hypernyms stored for ${sizes.expanded} of ${sizes.images} rows; images table with its indexes ${fmt(sizes.tableBytes / 1048576)} MB, search_tsv GIN index ${fmt(sizes.tsvIndexBytes / 1048576)} MB`,
    );
    console.log(`  one client, ${QUERIES} distinct queries after ${WARMUP} warm-up, limit ${LIMIT}, mean results ${fmt(measured.reduce((s, m) => s + m.results, 0) / measured.length)}`);
    console.log(`    client ms   p50 ${fmt(percentile(ms, 50))}  p95 ${fmt(percentile(ms, 95))}  p99 ${fmt(percentile(ms, 99))}  max ${fmt(Math.max(...ms))}  over 100 ms: ${ms.filter((m) => m > 100).length}`);
    console.log(`    server CPU ms per search   p50 ${fmt(percentile(cpu, 50))}  p95 ${fmt(percentile(cpu, 95))}  (all threads of the process); the stages alone p50 ${fmt(percentile(measured.map((m) => m.stagesCpu), 50))}  p95 ${fmt(percentile(measured.map((m) => m.stagesCpu), 95))} (their spans' CPU readings summed: no HTTP, JSON or response)`);
    const stageNames = Object.keys(measured[0]?.stages ?? {});
    console.log(`    stage p50/p95 ms: ${stageNames.map((s) => `${s} ${fmt(percentile(measured.map((m) => m.stages[s] ?? 0), 50), 2)}/${fmt(percentile(measured.map((m) => m.stages[s] ?? 0), 95), 2)}`).join("  ")}`);
    console.log(
      `    full text needed its second tier (any word) in ${measured.filter((m) => m.notes.tiers === 2).length} of ${measured.length} queries; colour words boosted candidates in ${measured.filter((m) => m.notes.colorBoosted > 0).length}`,
    );
    console.log("    query kind                 n   client p50/p95 ms   CPU p50/p95 ms");
    for (const [i, kind] of kinds.entries()) {
      const of = measured.filter((m) => m.kind === i);
      if (of.length === 0) continue;
      console.log(`    ${kind.padEnd(24)} ${String(of.length).padStart(3)}   ${fmt(percentile(of.map((m) => m.ms), 50)).padStart(6)} / ${fmt(percentile(of.map((m) => m.ms), 95)).padEnd(6)}     ${fmt(percentile(of.map((m) => m.cpu), 50)).padStart(5)} / ${fmt(percentile(of.map((m) => m.cpu), 95))}`);
    }
    console.log(`    ${SLOWEST} slowest: client ms, stage ms`);
    for (const m of [...measured].sort((a, b) => b.ms - a.ms).slice(0, SLOWEST)) {
      console.log(`      ${fmt(m.ms).padStart(6)}  ${JSON.stringify(m.body).slice(0, 70).padEnd(70)} ${Object.entries(m.stages).map(([k, v]) => `${k} ${fmt(v)}`).join(" ")}`);
    }
    const line = (label: string, r: LoadRun) =>
      console.log(
        `  ${label}: ${fmt(r.rps)} req/s (${r.requests} requests), latency p50 ${fmt(r.p50)} ms  p99 ${fmt(r.p99)} ms  max ${fmt(r.max)} ms, server CPU ${fmt(r.cpuMsPerSearch, 2)} ms/search (request thread ${fmt(r.threads.main, 2)}, database worker ${fmt(r.threads.worker, 2)}, other ${fmt(r.threads.other, 2)}), wrk ${fmt(r.wrkCpuMsPerSearch, 2)} ms/search${r.non2xx ? `, NON-2xx ${r.non2xx}` : ""}${r.errors ? `, ${r.errors}` : ""}`,
      );
    line(`wrk -t${THREADS} -c${CONNECTIONS} ${SECONDS}s, shared cores`, shared);
    if (pinned) line(`wrk -t${THREADS} -c${CONNECTIONS} ${SECONDS}s, server on core 0, wrk on core 1`, pinned);
    return {
      corpus: size === "demo" ? "demo" : String(size),
      state,
      p50: percentile(ms, 50),
      p95: percentile(ms, 95),
      max: Math.max(...ms),
      cpuP50: percentile(cpu, 50),
      cpuP95: percentile(cpu, 95),
      rps: shared.rps,
      loadP50: shared.p50,
      loadP99: shared.p99,
      loadCpu: shared.cpuMsPerSearch,
      pinnedRps: pinned?.rps,
      pinnedCpu: pinned?.cpuMsPerSearch,
      rssIdle,
      rssAfter,
    };
  } finally {
    await service.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The very first start on a machine: no word-vector cache yet. The service answers at once while a
 * child process builds the cache; `/health` is polled all along. Idle RSS afterwards is the figure
 * the ~600 MB target is about (the parsed 300 MB JSON never enters the service's heap).
 */
async function firstStart() {
  const template = await templateDir("demo", "vacuumed", { hypernyms: HYPERNYMS }, console.log);
  const work = await mkdtemp(join(tmpdir(), "bench-search-first-"));
  await cp(template, join(work, "data"), { recursive: true });
  const health: number[] = [];
  let polling = true;
  const started = performance.now();
  let poller: Promise<void> = Promise.resolve();
  const service = await startService(join(work, "data"), { WORD_VECTORS_CACHE_DIR: join(work, "cache") }, (port) => {
    poller = (async () => {
      while (polling) {
        const t = performance.now();
        const res = await fetch(`http://127.0.0.1:${port}/health`);
        await res.arrayBuffer();
        health.push(performance.now() - t);
        await Bun.sleep(50);
      }
    })();
  });
  const readyS = (performance.now() - started) / 1000;
  polling = false;
  await poller;
  Bun.gc(true);
  await Bun.sleep(1000);
  const rss = await service.ask<number>({ rss: true });
  await service.stop();
  await rm(work, { recursive: true, force: true });
  console.log(
    `\nfirst start (no word-vector cache): ready for full searches after ${fmt(readyS)} s (a child process built the cache); /health polled ${health.length}× meanwhile, slowest ${fmt(Math.max(...health))} ms; idle RSS ${rss} MB`,
  );
  return rss;
}

if (import.meta.main) {
  const load = (await Bun.file("/proc/loadavg").text().catch(() => "?")).split(" ").slice(0, 3).join(" ");
  console.log(`search benchmark, bun ${Bun.version}, load average at start ${load} (the machine is shared: compare within one run)`);
  console.log(
    `settings: sizes=${SIZES.join("/")} states=${STATE_LIST.join("/")} queries=${QUERIES} warmup=${WARMUP} limit=${LIMIT} wrk -t${THREADS} -c${CONNECTIONS} -d${SECONDS}s${args.pinned ? " (+ pinned)" : ""}; service defaults (rrf_k 60, overfetch 3, rerank_top_n 30, ef_search 80, colour-word weight 1, search rate limit off); corpora hypernyms=${HYPERNYMS ? "on" : "off"} ${process.env.SERVER_ENV ?? ""}`,
  );
  const words = await commonWords();
  const firstStartRss = SIZES.includes("demo") ? await firstStart() : undefined;
  const rows: Row[] = [];
  for (const size of SIZES) for (const state of STATE_LIST) rows.push(await runCase(size, state, words));
  const end = (await Bun.file("/proc/loadavg").text().catch(() => "?")).split(" ").slice(0, 3).join(" ");
  console.log(`\nsummary (load average at the end ${end})${firstStartRss ? `; idle RSS after a first start (cache built by a child process): ${firstStartRss} MB` : ""}`);
  console.log("| corpus | state | one client p50 / p95 / max ms | CPU per search p50 / p95 ms | req/s at -c" + CONNECTIONS + " | latency p50 / p99 ms | CPU ms per search under load |" + (args.pinned ? " pinned req/s | pinned CPU ms |" : "") + " idle RSS MB |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |" + (args.pinned ? " --- | --- |" : "") + " --- |");
  for (const r of rows) {
    console.log(
      `| ${r.corpus} | ${r.state} | ${fmt(r.p50)} / ${fmt(r.p95)} / ${fmt(r.max)} | ${fmt(r.cpuP50)} / ${fmt(r.cpuP95)} | ${fmt(r.rps, 0)} | ${fmt(r.loadP50)} / ${fmt(r.loadP99)} | ${fmt(r.loadCpu, 2)} |${args.pinned ? ` ${fmt(r.pinnedRps ?? NaN, 0)} | ${fmt(r.pinnedCpu ?? NaN, 2)} |` : ""} ${r.rssIdle} → ${r.rssAfter} |`,
    );
  }
}
