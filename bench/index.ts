/**
 * Runs benchmarks one after another, each in its own `bun` process so none inherits another's
 * heap or JIT state: the files given on the command line, or every `bench/*.ts` by default
 * (helpers live in subfolders). Exits non-zero if any benchmark failed.
 *
 * Run: bun run bench            |  bun run bench/index.ts bench/telemetry-http.ts
 */
import { Glob } from "bun";
import { basename, join, relative } from "node:path";

const root = join(import.meta.dir, "..");
const given = process.argv.slice(2);
const files =
  given.length > 0
    ? given
    : [...new Glob("*.ts").scanSync({ cwd: import.meta.dir })]
        .filter((f) => f !== basename(import.meta.path))
        .sort()
        .map((f) => relative(root, join(import.meta.dir, f)));

let failed = 0;
for (const file of files) {
  console.log(`\n=== ${file} (${new Date().toISOString()}) ===`);
  const proc = Bun.spawn([process.execPath, "run", file], { cwd: root, stdout: "inherit", stderr: "inherit" });
  const code = await proc.exited;
  if (code !== 0) {
    failed++;
    console.log(`=== ${file} exited with ${code} ===`);
  }
}
if (failed > 0) process.exit(1);
