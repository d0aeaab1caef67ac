import { afterAll, expect, test } from "bun:test";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const cacheDir = await mkdtemp(join(tmpdir(), "word-vectors-cache-"));
afterAll(() => rm(cacheDir, { recursive: true, force: true }));

interface Answer {
  results: unknown[];
  degraded: string[];
}

test("a first start (no word-vector cache yet) answers /health and searches at once, degraded, then builds the cache in a child process and searches fully", async () => {
  const proc = Bun.spawn([process.execPath, "run", "src/server.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PORT: "0", HOST: "127.0.0.1", DATABASE_URL: "memory://", LOG_LEVEL: "info", OTEL_SDK_DISABLED: "true", WORD_VECTORS_CACHE_DIR: cacheDir, SEARCH_VECTORS_WAIT_MS: "0" },
    stdout: "pipe",
    stderr: "inherit",
  });
  let output = "";
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) output += decoder.decode(chunk, { stream: true });
  })();
  const line = async (pattern: RegExp) => {
    for (let i = 0; i < 6000; i++) {
      const found = output.split("\n").find((l) => pattern.test(l));
      if (found) return JSON.parse(found) as Record<string, unknown>;
      if (proc.exitCode !== null) break;
      await Bun.sleep(20);
    }
    throw new Error(`no log line matching ${pattern}: ${output}`);
  };
  try {
    const { url } = (await line(/"msg":"listening"/)) as { url: string };
    const search = async () => {
      const res = await fetch(`${url}/api/search`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"query":"red car"}' });
      expect(res.status).toBe(200);
      return (await res.json()) as Answer;
    };
    // The cache is built by a child process: this process answers meanwhile.
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const early = await search();
    expect(early.degraded).toEqual(["search.expand", "search.embed", "search.rerank"]);
    let answer = early;
    let healthChecks = 0;
    while (!output.includes('"msg":"word vectors loaded"')) {
      expect((await fetch(`${url}/health`)).status).toBe(200);
      healthChecks++;
      await Bun.sleep(50);
    }
    answer = await search();
    expect(answer.degraded).toEqual([]);
    expect(healthChecks).toBeGreaterThan(0);
    expect((await line(/"msg":"word vectors loaded"/)).source).toBe("built");
    expect(await readdir(cacheDir)).toEqual(["wink-sg-100d.v2.bin"]);
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    await reading;
  }
}, 180_000);
