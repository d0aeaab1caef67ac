/** Helpers the telemetry benchmarks share: child processes that print `ready <port>`, CPU time, medians. */
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");

export interface Child {
  proc: ReturnType<typeof Bun.spawn>;
  port: number;
  /** Everything the child printed where it announces itself (stdout, or stderr with `logFile`). */
  output(): string;
  /** Sends SIGTERM and waits for the exit; returns that output. */
  stop(): Promise<string>;
}

export interface SpawnOptions {
  /** `taskset -c <cpus>`: the CPUs the child (all its threads) may run on. */
  cpus?: string;
  /** The child's stdout goes to this file (request logs, as under systemd); it announces itself on stderr. */
  logFile?: string;
  env?: Record<string, string>;
}

/** Spawns `bun run <script> ...args` and resolves once it prints `ready <port>`. */
export async function spawnReady(script: string, args: string[] = [], options: SpawnOptions = {}): Promise<Child> {
  const command = [...(options.cpus ? ["taskset", "-c", options.cpus] : []), "bun", "run", join(ROOT, script), ...args];
  const proc = Bun.spawn(command, {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdout: options.logFile ? Bun.file(options.logFile) : "pipe",
    stderr: options.logFile ? "pipe" : "inherit",
  });
  const announced = (options.logFile ? proc.stderr : proc.stdout) as ReadableStream<Uint8Array>;
  let out = "";
  const decoder = new TextDecoder();
  const { promise: ready, resolve: resolvePort } = Promise.withResolvers<number>();
  const reading = (async () => {
    for await (const chunk of announced) {
      out += decoder.decode(chunk, { stream: true });
      const match = /ready (\d+)/.exec(out);
      if (match) resolvePort(Number(match[1]));
    }
  })();
  const port = await Promise.race([
    ready,
    proc.exited.then((code) => {
      throw new Error(`${script} exited with ${code} before it was ready:\n${out}`);
    }),
  ]);
  return {
    proc,
    port,
    output: () => out,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
      await reading;
      return out;
    },
  };
}

/** Moves a running process (every thread) onto `cpus` (`taskset -a -p`). */
export async function pin(pid: number, cpus: string): Promise<void> {
  const proc = Bun.spawn(["taskset", "-a", "-p", "-c", cpus, String(pid)], { stdout: "ignore", stderr: "inherit" });
  if ((await proc.exited) !== 0) throw new Error(`taskset failed for ${pid}`);
}

/** CPU time (user + system) a process has used, in µs, from /proc (Linux); undefined elsewhere. */
export async function processCpuMicros(pid: number): Promise<number | undefined> {
  try {
    const fields = (await Bun.file(`/proc/${pid}/stat`).text()).split(") ")[1]!.split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1e6) / 100;
  } catch {
    return undefined;
  }
}

/** The 1-, 5- and 15-minute load averages, for every figure printed. */
export async function loadAverage(): Promise<string> {
  return (await Bun.file("/proc/loadavg").text().catch(() => "? ? ?")).split(" ").slice(0, 3).join(" ");
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
