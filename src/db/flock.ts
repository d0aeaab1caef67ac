/**
 * `flock(2)` through `bun:ffi`: an exclusive, non-blocking advisory lock on an open file. The
 * kernel drops it when the process dies, however it dies, so a lock can never outlive its holder.
 * No npm package exposes flock without a native build step; the binding is three symbols.
 */
import { dlopen, FFIType, read, type Pointer } from "bun:ffi";

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

interface Libc {
  flock(fd: number, operation: number): number;
  errno(): number;
  /** EWOULDBLOCK on this platform. */
  wouldBlock: number;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  if (process.platform !== "linux" && process.platform !== "darwin") {
    throw new Error(`locking a data directory needs flock(2), which ${process.platform} does not have; use DATABASE_URL instead of an embedded database`);
  }
  const linux = process.platform === "linux";
  const errnoSymbol = linux ? "__errno_location" : "__error";
  const lib = dlopen(linux ? "libc.so.6" : "libSystem.B.dylib", {
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    [errnoSymbol]: { args: [], returns: FFIType.ptr },
  });
  const errnoPointer = lib.symbols[errnoSymbol] as unknown as () => Pointer;
  libc = {
    flock: (fd, operation) => lib.symbols.flock(fd, operation) as number,
    errno: () => read.i32(errnoPointer(), 0),
    wouldBlock: linux ? 11 : 35,
  };
  return libc;
}

/**
 * Takes an exclusive lock on `fd` without waiting: true when taken, false when another open file
 * (in this or any process) holds it; any other failure throws with the errno.
 *
 * @example
 * const fd = openSync(path, "a+");
 * if (!tryLockExclusive(fd)) throw new Error("in use");
 */
export function tryLockExclusive(fd: number): boolean {
  const c = load();
  if (c.flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
  const errno = c.errno();
  if (errno === c.wouldBlock) return false;
  throw new Error(`flock failed (errno ${errno})`);
}

/**
 * Releases a lock taken by `tryLockExclusive` (closing the file does it too).
 *
 * @example
 * unlock(fd);
 */
export function unlock(fd: number): void {
  load().flock(fd, LOCK_UN);
}
