import { closeSync, openSync, readSync } from "node:fs";

/**
 * Process readings for stage spans. CPU comes from `process.cpuUsage()` (getrusage: one syscall,
 * ~1.5 µs here). Resident memory comes from `/proc/self/statm` through a file descriptor opened
 * once — one `pread`, cheaper than `process.memoryUsage.rss()` (~11 µs here) — and a reading
 * younger than `maxAgeMs` is reused, so a burst of short spans shares one read. RSS is itself a
 * page-granular figure that the kernel batches per thread, so finer readings would not be truer.
 * Both figures are process-wide, not per span.
 */
export interface MemoryGauge {
  /** Resident set size in KiB, at most `maxAgeMs` old. */
  rssKb(): number;
  /** Closes the file descriptor; later readings use `process.memoryUsage.rss()`. */
  close(): void;
}

// A gauge dropped without close() (a recorder never shut down) still gives its descriptor back.
const descriptors = new FinalizationRegistry<{ fd: number | undefined }>((held) => {
  if (held.fd !== undefined) closeSync(held.fd);
});

function detectPageKb(readPages: () => number): number {
  const pages = readPages();
  const bytes = process.memoryUsage.rss();
  if (pages <= 0) return 4;
  const ratio = bytes / pages / 1024;
  // Round to the nearest power of two (4, 16, 64 KiB pages).
  const pow = 2 ** Math.round(Math.log2(ratio));
  return pow >= 4 && pow <= 64 ? pow : 4;
}

/**
 * Creates the memory gauge: `/proc/self/statm` on Linux, `process.memoryUsage.rss()` elsewhere.
 *
 * @example
 * const gauge = createMemoryGauge(1);
 * const before = gauge.rssKb();
 */
export function createMemoryGauge(maxAgeMs = 1): MemoryGauge {
  const fallback = () => Math.round(process.memoryUsage.rss() / 1024);
  let readKb: () => number = fallback;
  const held: { fd: number | undefined } = { fd: undefined };
  try {
    const fd = openSync("/proc/self/statm", "r");
    held.fd = fd;
    const buf = Buffer.alloc(96);
    const readPages = () => {
      const n = readSync(fd, buf, 0, buf.length, 0);
      // statm: "size resident shared text lib data dt"; parse the second field without allocating.
      let i = 0;
      while (i < n && buf[i] !== 32) i++;
      i++;
      let pages = 0;
      for (; i < n; i++) {
        const c = buf[i]!;
        if (c < 48 || c > 57) break;
        pages = pages * 10 + (c - 48);
      }
      return pages;
    };
    const pageKb = detectPageKb(readPages);
    readKb = () => readPages() * pageKb;
  } catch {
    if (held.fd !== undefined) closeSync(held.fd);
    held.fd = undefined;
  }
  let last = 0;
  let lastAt = -Infinity;
  const gauge: MemoryGauge = {
    rssKb() {
      const now = performance.now();
      if (now - lastAt >= maxAgeMs) {
        last = readKb();
        lastAt = now;
      }
      return last;
    },
    close() {
      if (held.fd === undefined) return;
      descriptors.unregister(gauge);
      closeSync(held.fd);
      held.fd = undefined;
      readKb = fallback;
    },
  };
  if (held.fd !== undefined) descriptors.register(gauge, held, gauge);
  return gauge;
}
