/**
 * `bun run doctor [--repair]`: checks the configured data — an embedded data directory (PGlite and
 * local blobs in `DATA_DIR`, whose lock it takes, so it refuses while a service runs there) or a
 * Neon + S3 pair (beside running instances; it then leaves anything younger than
 * `RECONCILE_GRACE_MS` alone) — and reports temp files, blobs without records, records without
 * blobs, open generations, and images missing labels (when a labeler is configured), embeddings or
 * hypernyms. `--repair` fixes what is safe to fix; the missing parts are filled by the same
 * functions as `bun run backfill` (`src/ingest/backfill.ts`).
 *
 * Exit codes follow fsck(8): 0 nothing wrong, 1 problems found and all repaired, 4 problems
 * left, 8 the doctor could not check, 16 usage.
 */
import { parseArgs } from "node:util";
import { createAiProviders } from "../ai/index.ts";
import type { AppConfig } from "../config.ts";
import { openDatabase, type Database } from "../db/client.ts";
import { createHypernymExpander } from "../ingest/hypernyms.ts";
import { checkContext, runChecks, type CheckOutcome } from "../integrity/reconcile.ts";
import { createBlobStore } from "../storage/index.ts";
import { noopTelemetry } from "../telemetry/index.ts";
import { cliConfig } from "./ingest.ts";

/** fsck(8)'s exit codes, which operators' scripts already know. */
export const DOCTOR_EXIT = { clean: 0, repaired: 1, problemsLeft: 4, couldNotCheck: 8, usage: 16 } as const;

const USAGE = "usage: bun run doctor [--repair]   (checks DATA_DIR, or DATABASE_URL + S3_BUCKET when set)";

const problems = (outcomes: readonly CheckOutcome[]) => outcomes.reduce((n, o) => n + (o.finding?.count ?? 0) + (o.error ? 1 : 0), 0);

/**
 * The exit code for a run: `before` is the first pass, `after` the pass after repairs (if any).
 *
 * @example
 * process.exit(doctorExitCode(before, after));
 */
export function doctorExitCode(before: readonly CheckOutcome[], after?: readonly CheckOutcome[]): number {
  if (problems(before) === 0) return DOCTOR_EXIT.clean;
  if (after && problems(after) === 0) return DOCTOR_EXIT.repaired;
  return DOCTOR_EXIT.problemsLeft;
}

/**
 * The report: one line per check (`ok`, `PROBLEM`, `repaired`, `skipped`, `FAILED`), examples
 * and advice under it.
 *
 * @example
 * console.log(formatReport(outcomes));
 */
export function formatReport(outcomes: readonly CheckOutcome[]): string {
  const lines: string[] = [];
  for (const { check, finding, repaired, error } of outcomes) {
    if (error) {
      lines.push(`  FAILED    ${check.name}: ${error}`);
      continue;
    }
    if (!finding) continue;
    if (finding.skipped) {
      lines.push(`  skipped   ${check.name}: ${finding.skipped}`);
      continue;
    }
    const status = finding.count === 0 ? "ok" : repaired ? "repaired" : "PROBLEM";
    const fixable = finding.count > 0 && !repaired && finding.repairable > 0 ? ` (--repair fixes ${finding.repairable})` : "";
    lines.push(`  ${status.padEnd(9)} ${check.name}: ${finding.summary}${fixable}${repaired ? ` -> ${repaired}` : ""}`);
    for (const example of finding.examples) lines.push(`              ${example}`);
    if (finding.count > 0 && finding.advice) lines.push(`              ${finding.advice}`);
  }
  return lines.join("\n");
}

function describeTarget(config: AppConfig, database: Database): string {
  const db =
    database.kind === "pglite-disk"
      ? `PGlite in ${config.dataDir}/pglite (this process holds the data directory)`
      : database.kind === "neon"
        ? "the Postgres database at DATABASE_URL"
        : "an in-memory database";
  const blobs = config.s3 ? `S3 bucket ${config.s3.bucket}` : `local blobs in ${config.dataDir}/blobs`;
  return `${db}, ${blobs}`;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({ options: { repair: { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false } } }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(DOCTOR_EXIT.usage);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(DOCTOR_EXIT.clean);
  }
  const { config, log } = cliConfig(DOCTOR_EXIT.couldNotCheck);
  const telemetry = noopTelemetry();
  let database: Database;
  try {
    // No migrations: the doctor looks, and changes only what --repair is asked to.
    database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, telemetry, log, migrate: false, owner: "doctor" });
  } catch (error) {
    console.error(`doctor: cannot check: ${(error as Error).message}`);
    process.exit(DOCTOR_EXIT.couldNotCheck);
  }
  let code: number = DOCTOR_EXIT.couldNotCheck;
  try {
    const storage = await createBlobStore(config, telemetry, log);
    try {
      const ai = createAiProviders(config, { telemetry, log });
      const target = { database, storage, config, embedder: ai.embedder, labeler: ai.labeler, hypernyms: createHypernymExpander({ wordVectors: ai.wordVectors }), telemetry, log };
      const first = checkContext(target);
      console.log(`doctor: ${describeTarget(config, database)}`);
      if (first.blobs === "shared") console.log(`  shared store: leftovers younger than ${Math.round(first.graceMs / 1000)} s may be another instance's and are left alone`);
      const before = await runChecks(first, { repair: values.repair });
      console.log(formatReport(before));
      const repairedAny = before.some((o) => o.repaired);
      // Checked again from scratch, so the exit code says what is left, not what was hoped.
      const after = repairedAny ? await runChecks(checkContext(target), { repair: false }) : undefined;
      code = doctorExitCode(before, after);
      const left = after ? problems(after) : problems(before);
      if (code === DOCTOR_EXIT.clean) console.log("no problems found");
      else if (code === DOCTOR_EXIT.repaired) console.log("problems found and repaired; checked again: none left");
      else if (after) console.log(`${left} problem(s) left after repair:\n${formatReport(after.filter((o) => (o.finding?.count ?? 0) > 0 || o.error))}`);
      else console.log(`${left} problem(s) found${values.repair ? "" : "; `bun run doctor --repair` fixes what is safe to fix"}`);
    } finally {
      await storage.close();
    }
  } catch (error) {
    console.error(`doctor: ${(error as Error).message}`);
    code = DOCTOR_EXIT.couldNotCheck;
  } finally {
    await database.close();
  }
  process.exit(code);
}

if (import.meta.main) await main();
