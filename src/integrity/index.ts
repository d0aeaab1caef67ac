/**
 * Data safety: one owner per embedded data directory (`lock.ts`), consistency checks between the
 * database and the blob store (`checks.ts`) and the runs that repair them at start or on demand
 * (`reconcile.ts`, `bun run doctor`).
 */
export { DataDirLockedError, LOCK_FILE, lockDataDir, readLockHolder, type DataDirLock, type LockHolder } from "./lock.ts";
export { CHECKS, LOST_FOUND_PREFIX, takeInventory, type Check, type CheckContext, type Finding, type Inventory } from "./checks.ts";
export { checkContext, generationGraceMs, reconcileAtStart, runChecks, type CheckOutcome, type IntegrityTarget } from "./reconcile.ts";
