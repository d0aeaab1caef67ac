/**
 * `bun run ingest <folder> [--role tone-ref] [--category natural] [--concurrency 4] [--recursive] [--url http://host:port]`
 *
 * Stores every JPEG, PNG, WebP, AVIF and GIF in a folder, with optional sidecars beside each
 * image: `name.txt` (the caption) or `name.json` (`{"caption", "labels", "category"}`). Files
 * already stored (same bytes) are skipped. When a service answers on `--url` (default
 * `http://127.0.0.1:$PORT`, then the URL of the server holding `DATA_DIR`) the images are
 * uploaded to it; otherwise, or with `--direct`, they go straight into the configured database
 * and blob store, which for an embedded data directory means taking its lock: a directory
 * another process holds ends the CLI with exit code 2 and a message naming that process.
 */
import { readdir, readFile } from "node:fs/promises";
import { basename, extname, join, relative } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { ConfigError, loadConfig, type AppConfig } from "../config.ts";
import { IMAGE_ROLES } from "../db/schema.ts";
import { DataDirLockedError, holderMayBeAlive, readLockHolder } from "../db/lock.ts";
import { httpSink, pipelineSink, progressReporter, runBulk, summarize, type BulkItem, type BulkOutcome, type IngestSink } from "../ingest/bulk.ts";
import { openIngestDeps } from "../ingest/context.ts";
import type { IngestInput } from "../ingest/pipeline.ts";
import { createLogger, type Logger } from "../log.ts";
import type { ImageRole } from "../storage/keys.ts";
import { createTelemetry } from "../telemetry/index.ts";

const IMAGE_EXTENSIONS = new Set([".jpg", ".jpeg", ".png", ".webp", ".avif", ".gif"]);

const Sidecar = z
  .object({
    caption: z.string().optional(),
    labels: z.union([z.array(z.string()), z.string().transform((s) => s.split(","))]).optional(),
    category: z.string().optional(),
  })
  .strict();

async function exists(path: string): Promise<boolean> {
  return Bun.file(path).exists();
}

/**
 * Reads a file's sidecar: `name.json` (caption, labels, category) or else `name.txt` (caption).
 *
 * @example
 * await readSidecar("photos/boat.jpg") // { caption: "a red boat" } from photos/boat.txt
 */
export async function readSidecar(imagePath: string): Promise<z.infer<typeof Sidecar>> {
  const stem = imagePath.slice(0, imagePath.length - extname(imagePath).length);
  if (await exists(`${stem}.json`)) {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(`${stem}.json`, "utf8"));
    } catch {
      throw new Error(`${basename(stem)}.json is not valid JSON`);
    }
    const parsed = Sidecar.safeParse(raw);
    if (!parsed.success) throw new Error(`${basename(stem)}.json: ${parsed.error.issues[0]?.path.join(".") || "value"} ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  }
  if (await exists(`${stem}.txt`)) return { caption: (await readFile(`${stem}.txt`, "utf8")).trim() };
  return {};
}

/**
 * The images in a folder (optionally its subfolders), sorted, as bulk items with their sidecars.
 *
 * @example
 * const items = await folderItems("./photos", { role: "tone-ref", category: "natural" });
 */
export async function folderItems(folder: string, defaults: { role?: ImageRole; category?: string; recursive?: boolean } = {}): Promise<BulkItem[]> {
  const entries = await readdir(folder, { recursive: defaults.recursive ?? false, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase()))
    .map((e) => join(e.parentPath, e.name))
    .sort();
  return files.map((path) => ({
    name: relative(folder, path),
    async load(): Promise<IngestInput> {
      const sidecar = await readSidecar(path);
      return {
        bytes: new Uint8Array(await readFile(path)),
        caption: sidecar.caption,
        labels: sidecar.labels,
        category: sidecar.category ?? defaults.category,
        role: defaults.role,
        originalName: basename(path),
      };
    },
  }));
}

/**
 * Runs items through a sink with a progress bar on stderr and prints the summary; opens (and
 * closes) the pipeline's dependencies and telemetry when no `--url` is given.
 *
 * @example
 * const outcomes = await runWithProgress(config, log, items, { concurrency: 4 });
 */
export async function runWithProgress(
  config: AppConfig,
  log: Logger,
  items: BulkItem[],
  options: { concurrency: number; url?: string; apiKey?: string; owner?: string },
): Promise<BulkOutcome[]> {
  const telemetry = createTelemetry(config.telemetry, { log });
  let sink: IngestSink;
  let close = async (_: { wrote: boolean }) => {};
  if (options.url) {
    sink = httpSink(options.url, options.apiKey);
  } else {
    let opened;
    try {
      opened = await openIngestDeps(config, { telemetry, log, owner: options.owner });
    } catch (error) {
      if (!(error instanceof DataDirLockedError)) throw error;
      console.error(error.message);
      await telemetry.shutdown();
      process.exit(2);
    }
    sink = pipelineSink(opened.deps);
    close = opened.close;
  }
  let outcomes: BulkOutcome[] = [];
  try {
    outcomes = await runBulk(items, sink, { concurrency: options.concurrency, onProgress: progressReporter(process.stderr) });
    console.log(summarize(outcomes));
    return outcomes;
  } finally {
    // A failed run may have stored some: vacuum unless it is known that nothing new was stored.
    await close({ wrote: outcomes.length === 0 || outcomes.some((o) => o.status === "ingested") });
    await telemetry.shutdown();
  }
}

/**
 * The running service to upload to: `url` when given (it must answer `/health`), else the local
 * service on `PORT` if one answers, else undefined (ingest in this process).
 *
 * @example
 * const url = await findService(config, values.url); // "http://127.0.0.1:3000" or undefined
 */
export async function findService(config: AppConfig, url: string | undefined): Promise<string | undefined> {
  const candidate = (url ?? `http://127.0.0.1:${config.port}`).replace(/\/+$/, "");
  try {
    const response = await fetch(`${candidate}/health`, { signal: AbortSignal.timeout(url ? 10_000 : 3_000) });
    await response.arrayBuffer();
    if (response.ok) return candidate;
    if (url) throw new Error(`${candidate}/health answered ${response.status}`);
  } catch (error) {
    if (url) throw new Error(`no service answers at ${candidate}: ${(error as Error).message}`);
  }
  return undefined;
}

/**
 * The server that holds the embedded data directory, when its lock names a URL that answers.
 *
 * @example
 * const url = await dataDirService(config); // "http://127.0.0.1:4000" when a server on port 4000 holds DATA_DIR
 */
export async function dataDirService(config: AppConfig): Promise<string | undefined> {
  if (config.databaseUrl) return undefined;
  const holder = readLockHolder(config.dataDir);
  // A killed server leaves its record: its port may serve another data directory by now.
  if (!holder?.url || !holderMayBeAlive(holder)) return undefined;
  return findService(config, holder.url).catch(() => undefined);
}

/**
 * Where a CLI sends its images: nowhere (in this process) with `--direct`, else `findService`,
 * else the server holding `DATA_DIR` (it may listen on another port than `PORT`); a `--url`
 * that does not answer ends the process with exit code 2. Undefined means "work in this
 * process", which for an embedded data directory still needs its lock.
 *
 * @example
 * const url = await serviceOrExit(config, values);
 */
export async function serviceOrExit(config: AppConfig, options: { direct?: boolean; url?: string }): Promise<string | undefined> {
  if (options.direct) return undefined;
  try {
    return (await findService(config, options.url)) ?? (await dataDirService(config));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
}

/**
 * The CLI's settings: the environment's, with logs quiet unless LOG_LEVEL asks otherwise. A bad
 * setting ends the process with `exitCode` (default 2; the doctor's codes follow fsck).
 *
 * @example
 * const { config, log } = cliConfig();
 */
export function cliConfig(exitCode = 2): { config: AppConfig; log: Logger } {
  try {
    const config = loadConfig(process.env);
    const log = createLogger({ level: process.env.LOG_LEVEL ? config.logLevel : "warn" });
    return { config, log };
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`configuration error: ${error.message}`);
      process.exit(exitCode);
    }
    throw error;
  }
}

const USAGE =
  "usage: bun run ingest <folder> [--role corpus|tone-ref|angle-ref] [--category NAME] [--concurrency N] [--recursive] [--url http://host:port | --direct]";

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        role: { type: "string" },
        category: { type: "string" },
        concurrency: { type: "string", default: "4" },
        recursive: { type: "boolean", default: false },
        url: { type: "string" },
        direct: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length !== 1) {
    console.error(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const role = values.role as ImageRole | undefined;
  if (role !== undefined && !IMAGE_ROLES.includes(role)) {
    console.error(`--role must be one of ${IMAGE_ROLES.join(", ")}\n${USAGE}`);
    process.exit(2);
  }
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    console.error(`--concurrency must be a whole number from 1 to 64\n${USAGE}`);
    process.exit(2);
  }
  const folder = positionals[0]!;
  let items: BulkItem[];
  try {
    items = await folderItems(folder, { role, category: values.category, recursive: values.recursive });
  } catch (error) {
    console.error(`cannot read ${folder}: ${(error as Error).message}`);
    process.exit(2);
  }
  if (items.length === 0) {
    console.error(`no JPEG, PNG, WebP, AVIF or GIF files in ${folder}`);
    process.exit(1);
  }
  const { config, log } = cliConfig();
  const url = await serviceOrExit(config, values);
  console.error(url ? `uploading to ${url}` : "ingesting in this process (no service answered)");
  const outcomes = await runWithProgress(config, log, items, { concurrency, url, apiKey: process.env.API_KEY, owner: "ingest" });
  process.exit(outcomes.some((o) => o.status === "failed") ? 1 : 0);
}

if (import.meta.main) await main();
