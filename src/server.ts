import { ConfigError, loadConfig, type AppConfig } from "./config.ts";
import { createAiProviders } from "./ai/index.ts";
import { createApp, type AppDeps } from "./http/app.ts";
import { maxRequestBodyBytes } from "./http/limits.ts";
import { openDatabase, type Database } from "./db/index.ts";
import { startMaintenance } from "./db/maintenance.ts";
import { createGenerationDeps } from "./generation/index.ts";
import { reconcileAtStart } from "./integrity/index.ts";
import { createHypernymExpander } from "./ingest/hypernyms.ts";
import { createSearchDeps } from "./search/pipeline.ts";
import { createLogger, type Logger } from "./log.ts";
import { createBlobStore, type BlobStore } from "./storage/index.ts";
import { createTelemetry, type Telemetry } from "./telemetry/index.ts";

export interface RunningServer {
  url: string;
  port: number;
  deps: AppDeps;
  /** Stops accepting, lets in-flight requests finish (bounded), flushes spans, closes resources. */
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  telemetry?: Telemetry;
  /** An open, migrated database to use instead of opening the configured one (tests); the caller closes it. */
  database?: Database;
  /** A blob store to use instead of opening the configured one (tests); the caller closes it. */
  storage?: BlobStore;
}

/**
 * Opens everything the service needs and starts listening.
 *
 * @example
 * const server = await startServer(loadConfig({ PORT: "0", DATABASE_URL: "memory://" }));
 * await fetch(`${server.url}/health`);
 * await server.stop();
 */
export async function startServer(config: AppConfig, options: StartOptions = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger({ level: config.logLevel });
  for (const warning of config.telemetryWarnings) log.warn(`telemetry setting ignored: ${warning}`);
  const telemetry = options.telemetry ?? createTelemetry(config.telemetry, { log });
  const closers: Array<() => Promise<void>> = [];
  // Closes what was opened, last first: at stop, and when startup fails after the database is
  // open (the data directory's lock and the maintenance timer must not outlive a failed start).
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch (error) {
        log.warn("shutdown: a resource did not close cleanly", { error: (error as Error).message });
      }
    }
  };
  let ready = false;
  let draining = false;

  // Data safety, in this order: lock the data directory (openDatabase does, for PGlite on disk: a
  // second process fails here naming the holder) → open and migrate → reconcile crash leftovers
  // (below, once storage is open) → maintenance (background) → serve. An unreachable database stops startup.
  const database =
    options.database ??
    (await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, telemetry, log, migrate: config.migrateOnStart, owner: "server" }));
  if (!options.database) closers.push(() => database.close());

  let ai: ReturnType<typeof createAiProviders>;
  let deps: AppDeps;
  let server: ReturnType<typeof Bun.serve>;
  try {
    const storage: BlobStore = options.storage ?? (await createBlobStore(config, telemetry, log));
    if (!options.storage) closers.push(() => storage.close());
    // A database passed in belongs to the caller (tests), who reconciles it if it wants to.
    if (!options.database) await reconcileAtStart({ database, storage, config }, log);
    // PGlite runs no autovacuum: check now (a freshly bulk-loaded data dir) and every interval.
    const maintenance = startMaintenance(database, { intervalMs: config.maintenanceIntervalMs, log });
    closers.push(() => maintenance.stop());

    // Gemini when GEMINI_API_KEY is set, the embedded offline models otherwise (word vectors load lazily).
    ai = createAiProviders(config, { telemetry, log });
    // WordNet hypernyms at ingest (loaded on the first upload, ~50 ms); search never looks them up.
    const hypernyms = createHypernymExpander({ wordVectors: ai.wordVectors });
    const images = { db: database.db, storage, embedder: ai.embedder, labeler: ai.labeler, hypernyms, telemetry, config, log };
    const search = createSearchDeps({ db: database, embedder: ai.embedder, wordVectors: ai.wordVectors, textModel: ai.textModel, telemetry, config, log });

    const generation = createGenerationDeps({ config, telemetry, log, db: database.db, storage, ai });

    deps = { config, telemetry, log, database, images, generation, search, isReady: () => ready, isDraining: () => draining };
    const app = createApp(deps);
    server = Bun.serve({
      port: config.port,
      hostname: config.host,
      fetch: app.fetch,
      // Generations may run longer (GEMINI_TIMEOUT_MS and a queue wait): their route lifts it per request.
      idleTimeout: config.limits.idleTimeoutSeconds,
      maxRequestBodySize: maxRequestBodyBytes(config),
    });
  } catch (error) {
    // e.g. the port is taken: release the data directory so the next start (or a CLI) can take it.
    await closeAll();
    throw error;
  }
  ready = true;
  // Loads the offline word vectors now rather than on the first search (~0.2-3 s, ~300 MB).
  ai.wordVectors.ready().catch((error: unknown) => log.warn("word vectors did not load; searches will retry", { error: (error as Error).message }));
  const url = `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${server.port}`;
  // Named in the lock so a second server or a CLI can say where this one answers.
  database.lock?.describe({ url });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Readiness answers 503 from now on. While requests are in flight the listener stays open
      // (for at most half the grace), so a load balancer still reaches the probe, sees the 503 and
      // stops routing here; then the listener closes and in-flight requests get the rest.
      draining = true;
      const deadline = performance.now() + config.shutdownGraceMs;
      const listenUntil = performance.now() + config.shutdownGraceMs / 2;
      while (server.pendingRequests > 0 && performance.now() < listenUntil) await Bun.sleep(20);
      const drained = server.stop(false).then(() => true);
      const inTime = await Promise.race([drained, Bun.sleep(Math.max(0, deadline - performance.now())).then(() => false)]);
      if (!inTime) {
        log.warn("shutdown: in-flight requests did not finish in time; closing them", { grace_ms: config.shutdownGraceMs });
        await server.stop(true);
      }
      await telemetry.shutdown(5_000);
      await closeAll();
    })());

  return { url, port: server.port ?? config.port, deps, stop };
}

async function main(): Promise<void> {
  // Installed first: Bun as PID 1 (Docker) ignores a signal it has no handler for, so a stop
  // during startup would otherwise wait out `docker stop`'s grace and end in SIGKILL.
  let server: RunningServer | undefined;
  let log: Logger | undefined;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!server) {
      // Nothing is serving or queued yet: stop at once.
      log?.info("shutting down before startup finished", { signal });
      process.exit(0);
    }
    // A second signal while draining: stop now.
    if (stopping) process.exit(1);
    stopping = true;
    log!.info("shutting down", { signal });
    server.stop().then(
      () => process.exit(0),
      (error) => {
        log!.error("shutdown failed", { error: (error as Error).message });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  let config: AppConfig;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`configuration error: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  log = createLogger({ level: config.logLevel });
  try {
    server = await startServer(config, { log });
  } catch (error) {
    log.error(`startup failed: ${(error as Error).message}`);
    process.exit(1);
  }
  log.info("listening", { url: server.url, version: config.version });
}

if (import.meta.main) await main();
