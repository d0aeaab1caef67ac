/**
 * The image's stop, as far as a file can show it (no Docker engine here): SIGTERM's drain plus the
 * span flush fit `docker stop`'s default grace, and the word-vector cache is built in a layer that
 * a change to the service code does not invalidate. `test/infra.test.ts` checks the rest of the
 * Dockerfile; `test/telemetry-lifecycle.test.ts` runs the early-SIGTERM case as a real process.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
/** Instructions of the last stage, continuation lines joined, comments dropped. */
const finalStage = dockerfile
  .split(/^FROM /m)
  .at(-1)!
  .replace(/\\\n/g, " ")
  .split("\n")
  .filter((line) => line.trim() !== "" && !line.trimStart().startsWith("#"));

/** docker stop's default wait between SIGTERM and SIGKILL. */
const DOCKER_STOP_MS = 10_000;

describe("the Docker image", () => {
  test("drain (SHUTDOWN_GRACE_MS) plus the span flush fit docker stop's default 10 s", () => {
    const grace = Number(/SHUTDOWN_GRACE_MS=(\d+)/.exec(finalStage.filter((l) => l.startsWith("ENV")).join(" "))?.[1]);
    // The flush budget server.ts gives telemetry.shutdown() at stop.
    const flush = Number(/telemetry\.shutdown\((\d[\d_]*)\)/.exec(readFileSync(join(ROOT, "src", "server.ts"), "utf8"))?.[1]!.replaceAll("_", ""));
    expect(grace).toBeGreaterThan(0);
    expect(flush).toBeGreaterThan(0);
    expect(grace + flush).toBeLessThan(DOCKER_STOP_MS);
    // A longer drain is documented with the grace it needs.
    expect(dockerfile).toContain("--stop-timeout");
  });

  test("the word-vector cache is built before the service code is copied in", () => {
    const build = finalStage.findIndex((l) => l.includes("buildWordVectorCache"));
    const copySrc = finalStage.findIndex((l) => /^COPY\s+src\s/.test(l));
    expect(build).toBeGreaterThan(-1);
    expect(copySrc).toBeGreaterThan(build);
    // Only the cache builder itself is in the image when the layer is built.
    const before = finalStage.slice(0, build).filter((l) => /^COPY\s+src/.test(l));
    expect(before).toEqual(["COPY src/ai/word-vectors.ts ./src/ai/word-vectors.ts"]);
    // ... and it imports nothing else from src at run time (type-only imports are erased).
    const source = readFileSync(join(ROOT, "src", "ai", "word-vectors.ts"), "utf8");
    const localImports = [...source.matchAll(/^import\s+(?!type\b)[^;]*from\s+"(\.[^"]+)"/gm)].map((m) => m[1]);
    expect(localImports).toEqual([]);
  });

  test("the healthcheck asks 127.0.0.1 (the service listens on IPv4; localhost may be ::1)", () => {
    const healthcheck = finalStage.find((l) => l.startsWith("HEALTHCHECK")) ?? "";
    expect(healthcheck).toContain("http://127.0.0.1:${PORT:-3000}/health");
    expect(healthcheck).not.toContain("localhost");
  });
});
