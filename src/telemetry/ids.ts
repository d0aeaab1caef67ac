import { randomFillSync } from "node:crypto";

/**
 * Trace and span ids, cut from a pool of random bytes refilled 8 KiB at a time: one
 * `randomFillSync` per ~340 spans and a native hex encode per id, several times cheaper than
 * building ids from `Math.random` strings.
 */
const POOL_BYTES = 8192;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

function randomHex(bytes: number): string {
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString("hex", offset, offset + bytes);
  offset += bytes;
  return hex;
}

/** A random non-zero 16-byte trace id as 32 lowercase hex characters. */
export function newTraceId(): string {
  const id = randomHex(16);
  return id === "00000000000000000000000000000000" ? newTraceId() : id;
}

/** A random non-zero 8-byte span id as 16 lowercase hex characters. */
export function newSpanId(): string {
  const id = randomHex(8);
  return id === "0000000000000000" ? newSpanId() : id;
}
