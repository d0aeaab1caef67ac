/** Helpers the telemetry benchmarks share: child processes that print `ready <port>`, and medians. */
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");

export interface Child {
  proc: ReturnType<typeof Bun.spawn>;
  port: number;
  /** Everything the child printed on stdout so far. */
  stdout(): string;
  /** Sends SIGTERM and waits for the exit; returns stdout. */
  stop(): Promise<string>;
}

/** Spawns `bun run <script> ...args` and resolves once it prints `ready <port>`. */
export async function spawnReady(script: string, args: string[] = []): Promise<Child> {
  const proc = Bun.spawn(["bun", "run", join(ROOT, script), ...args], { cwd: ROOT, stdout: "pipe", stderr: "inherit" });
  let out = "";
  const decoder = new TextDecoder();
  const { promise: ready, resolve: resolvePort } = Promise.withResolvers<number>();
  const reading = (async () => {
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
      out += decoder.decode(chunk, { stream: true });
      const match = /ready (\d+)/.exec(out);
      if (match) resolvePort(Number(match[1]));
    }
  })();
  const port = await Promise.race([
    ready,
    proc.exited.then((code) => {
      throw new Error(`${script} exited with ${code} before it was ready`);
    }),
  ]);
  return {
    proc,
    port,
    stdout: () => out,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
      await reading;
      return out;
    },
  };
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

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
