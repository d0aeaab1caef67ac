/**
 * The web app's assets: what a browser downloads (each file raw, gzip and brotli, as the service
 * precompresses them) and what building them costs the first page request of a process
 * (`Bun.build` of src/web/client/ plus compression), median of several builds, and what the script
 * is made of (minified bytes by source: the client, hono's JSX runtime, hono's typed client).
 *
 * Run: bun run bench/web-assets.ts [--builds 7]
 */
import { parseArgs } from "node:util";
import { loadavg } from "node:os";
import { buildAssets } from "../src/web/assets.ts";

const { values } = parseArgs({ options: { builds: { type: "string", default: "7" } } });
const builds = Math.max(1, Number(values.builds) || 7);

const times: number[] = [];
let manifest = await buildAssets();
for (let i = 0; i < builds; i++) {
  const started = performance.now();
  manifest = await buildAssets();
  times.push(performance.now() - started);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)]!;

console.log(`bun ${Bun.version}, load ${loadavg().map((l) => l.toFixed(1)).join(" ")}, ${builds} builds after one warm-up`);
console.log("file                          raw B   gzip B   br B");
let total = { raw: 0, gzip: 0, br: 0 };
for (const asset of manifest.files.values()) {
  console.log(`${asset.name.padEnd(28)} ${String(asset.raw.length).padStart(7)} ${String(asset.gzip.length).padStart(8)} ${String(asset.br.length).padStart(6)}`);
  total = { raw: total.raw + asset.raw.length, gzip: total.gzip + asset.gzip.length, br: total.br + asset.br.length };
}
console.log(`${"total".padEnd(28)} ${String(total.raw).padStart(7)} ${String(total.gzip).padStart(8)} ${String(total.br).padStart(6)}`);
const groups = new Map<string, number>();
for (const [path, bytes] of manifest.inputs) {
  const group = /node_modules\/hono\/dist\/client\//.test(path) || path.endsWith("hono/dist/utils/cookie.js")
    ? "hono/client (typed API client)"
    : /node_modules\/hono\//.test(path)
      ? "hono/jsx/dom (runtime)"
      : /src\/web\/shared\//.test(path)
        ? "src/web/shared"
        : /src\/web\/client\//.test(path)
          ? "src/web/client"
          : path;
  groups.set(group, (groups.get(group) ?? 0) + bytes);
}
console.log("script by source (minified bytes, before compression):");
for (const [group, bytes] of [...groups].sort((a, b) => b[1] - a[1])) console.log(`  ${group.padEnd(32)} ${String(bytes).padStart(7)}`);
console.log(`build + compress: median ${median.toFixed(0)} ms (min ${times[0]!.toFixed(0)}, max ${times.at(-1)!.toFixed(0)})`);
