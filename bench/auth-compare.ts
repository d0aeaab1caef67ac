/**
 * Does the API-key check leak how much of a key a guess got right? Runs the service's own auth
 * middleware (`apiKeyAuth`, i.e. `hono/bearer-auth` over `API_KEYS`) in process and times wrong
 * keys that share 0, half, or all but the last character with the real key, interleaved, and the
 * real key for comparison. A plain `===`/Set lookup would be faster the earlier a guess differs;
 * a constant-time compare shows no trend. Prints the medians and the ratio to the 0-prefix case.
 *
 * Run: bun run bench/auth-compare.ts   (ROUNDS=… to change the sample count)
 */
import { Hono } from "hono";
import { loadConfig } from "../src/config.ts";
import { apiKeyAuth } from "../src/http/auth.ts";

const KEY = `k-${"7".repeat(62)}`; // a 64-character key
const ROUNDS = Number(process.env.ROUNDS ?? 20_000);

const app = new Hono();
app.use(apiKeyAuth(loadConfig({ API_KEYS: KEY })));
app.post("/api/x", (c) => c.text("ok"));

const flip = (prefix: number) => KEY.slice(0, prefix) + (KEY[prefix] === "a" ? "b" : "a") + KEY.slice(prefix + 1);
const variants: Array<[string, string]> = [
  ["wrong at character 1", flip(0)],
  ["wrong at character 32", flip(32)],
  ["wrong at character 64 (last)", flip(KEY.length - 1)],
  ["the real key", KEY],
];

const samples = new Map<string, number[]>(variants.map(([name]) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, key] of variants) {
    const request = new Request("http://x/api/x", { method: "POST", headers: { authorization: `Bearer ${key}` } });
    const start = Bun.nanoseconds();
    await app.request(request);
    samples.get(name)!.push(Bun.nanoseconds() - start);
  }
}

const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1]!;
const base = median(samples.get(variants[0]![0])!);
console.log(`auth-compare: Bun ${Bun.version}, key length ${KEY.length}, ${ROUNDS} rounds interleaved, median µs per request through apiKeyAuth`);
for (const [name] of variants) {
  const m = median(samples.get(name)!);
  console.log(`  ${name.padEnd(30)} ${(m / 1000).toFixed(2)} µs  (×${(m / base).toFixed(3)} of character 1)`);
}
