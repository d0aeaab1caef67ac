/**
 * One owner per embedded data directory. The process that opens PGlite in `DATA_DIR` holds an
 * exclusive `flock(2)` on `DATA_DIR/.lock` for as long as the database is open, and writes who it
 * is (pid, host, command, URL once listening) into that file so a second opener can say who holds
 * it. Why flock rather than a lock file with a staleness timeout (proper-lockfile): the kernel
 * releases it the moment the holder dies, so a kill -9 or power loss never blocks the next start
 * and no timing guess can hand one directory to two live processes (a paused holder stays owner).
 * The file is emptied on release, never deleted: unlinking a locked file would let the next opener
 * lock a new file of the same name while a third still waits on the old one.
 */
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { basename, join, resolve } from "node:path";
import { tryLockExclusive, unlock } from "./flock.ts";

/** Who holds (or last held) a data directory. */
export interface LockHolder {
  pid: number;
  host: string;
  /** What the process is: `server`, `ingest`, `seed`, `doctor`, `db:migrate`, … */
  command: string;
  startedAt: string;
  /** A server's base URL, once it listens. */
  url?: string;
}

/** The lock file inside a data directory. */
export const LOCK_FILE = ".lock";

/**
 * Another live process holds the data directory. The message names it and says what to do.
 *
 * @example
 * try { lockDataDir(dir, { command: "server" }); } catch (e) { if (e instanceof DataDirLockedError) console.error(e.message); }
 */
export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder | undefined,
  ) {
    super(lockedMessage(dataDir, holder));
    this.name = "DataDirLockedError";
  }
}

function describeHolder(holder: LockHolder): string {
  const where = holder.host === hostname() ? "" : ` on ${holder.host}`;
  const serving = holder.url ? `, serving ${holder.url}` : "";
  return `pid ${holder.pid}${where} (${holder.command}${serving}, since ${holder.startedAt})`;
}

function lockedMessage(dataDir: string, holder: LockHolder | undefined): string {
  const who = holder ? describeHolder(holder) : "another process (it has not said which yet)";
  const via = holder?.url
    ? ` To add images through it, pass --url ${holder.url} to ingest or seed.`
    : "";
  return `data directory ${dataDir} is in use by ${who}; only one process may open an embedded database. Stop that process first, or use another DATA_DIR.${via}`;
}

/** An acquired lock. */
export interface DataDirLock {
  readonly dataDir: string;
  /** The holder that never released the lock (killed, crashed), when this start took it over. */
  readonly takenOverFrom: LockHolder | undefined;
  /** Adds to what the lock file says about this process (a server's URL once it listens). */
  describe(fields: Pick<LockHolder, "url">): void;
  /** Empties the lock file and releases the lock; later calls do nothing. */
  release(): void;
}

function parseHolder(text: string): LockHolder | undefined {
  if (text.trim() === "") return undefined;
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    return typeof value.pid === "number" ? (value as LockHolder) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What the lock file of `dataDir` says, or undefined when it is absent or empty. The holder may
 * be gone; only `lockDataDir` can tell.
 *
 * @example
 * const holder = readLockHolder("./data"); // { pid: 4242, command: "server", url: "http://127.0.0.1:3000", … }
 */
export function readLockHolder(dataDir: string): LockHolder | undefined {
  try {
    return parseHolder(readFileSync(join(dataDir, LOCK_FILE), "utf8"));
  } catch {
    return undefined;
  }
}

/**
 * False when `holder` ran on this host and its process is gone (killed or crashed: its record
 * stays until the next opener); true otherwise (a process on another host cannot be checked).
 * What `readLockHolder` says about a dead holder (its URL above all) is history, not a service.
 *
 * @example
 * const holder = readLockHolder(dir);
 * if (holder?.url && holderMayBeAlive(holder)) await fetch(`${holder.url}/health`);
 */
export function holderMayBeAlive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, under another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function defaultCommand(): string {
  return process.argv[1] ? basename(process.argv[1]).replace(/\.[cm]?[jt]s$/, "") : "bun";
}

/**
 * Takes the exclusive lock on `dataDir` (created if missing) or throws `DataDirLockedError`
 * naming the holder, at once: it never waits. A lock file left by a holder that died is taken
 * over; `takenOverFrom` says from whom, so the caller can log it.
 *
 * @example
 * const lock = lockDataDir("./data", { command: "server" });
 * lock.describe({ url: "http://127.0.0.1:3000" });
 * lock.release();
 */
export function lockDataDir(dataDir: string, options: { command?: string } = {}): DataDirLock {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  // Opened read-write without truncating: the previous holder's record is read after locking.
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  let locked: boolean;
  try {
    locked = tryLockExclusive(fd);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  if (!locked) {
    closeSync(fd);
    // The holder writes its record right after locking; give a just-started one a moment.
    let holder = readLockHolder(dir);
    if (!holder) {
      Bun.sleepSync(50);
      holder = readLockHolder(dir);
    }
    throw new DataDirLockedError(dir, holder);
  }
  // A clean release empties the file, so a record still here belongs to a holder that died.
  const takenOverFrom = readLockHolder(dir);
  const self: LockHolder = { pid: process.pid, host: hostname(), command: options.command ?? defaultCommand(), startedAt: new Date().toISOString() };
  const write = () => {
    ftruncateSync(fd, 0);
    writeSync(fd, JSON.stringify(self), 0);
  };
  try {
    write();
  } catch (error) {
    // A record that cannot be written (a full disk) must not leave the lock held by a lost fd:
    // this process would then find its own directory "in use" until it exits.
    closeSync(fd);
    throw error;
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off("exit", release);
    try {
      ftruncateSync(fd, 0);
      unlock(fd);
    } finally {
      closeSync(fd);
    }
  };
  // process.exit() skips the caller's close; empty the record then too (a kill -9 cannot, by design).
  process.on("exit", release);
  return {
    dataDir: dir,
    takenOverFrom,
    describe(fields) {
      if (released) return;
      Object.assign(self, fields);
      write();
    },
    release,
  };
}
