/**
 * Consistency between the database and the blob store: the checks (`checks.ts`) and the runs that
 * repair them at start or on demand (`reconcile.ts`, `bun run doctor`). The data directory's lock,
 * taken by whatever opens PGlite on disk, lives with that opener in `src/db/lock.ts`.
 */
export { CHECKS, LOST_FOUND_PREFIX, takeInventory, type Check, type CheckContext, type Finding, type Inventory } from "./checks.ts";
export { checkContext, generationGraceMs, reconcileAtStart, runChecks, type CheckOutcome, type IntegrityTarget } from "./reconcile.ts";
