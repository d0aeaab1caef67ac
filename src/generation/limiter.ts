import { ClientFacingError } from "../errors.ts";
/**
 * Past the queue: the service is busy. Carries the HTTP shape (503 + `Retry-After`) as plain
 * fields so the HTTP layer maps it without this module importing Hono.
 *
 * @example
 * if (error instanceof OverloadedError) c.header("Retry-After", String(error.retryAfterSeconds));
 */
export class OverloadedError extends ClientFacingError {
  constructor(readonly retryAfterSeconds: number) {
    super(503, "overloaded", `too many generations in progress; retry in ${retryAfterSeconds}s`, {
      headers: { "Retry-After": String(retryAfterSeconds) },
    });
  }
}

/** A slot to run one model call; `release` exactly once (later calls do nothing). */
export interface Permit {
  /** Milliseconds spent queued before the slot was granted. */
  waitedMs: number;
  release(): void;
}

export interface LimiterOptions {
  concurrency: number;
  /** How many callers may wait for a slot; one more gets an {@link OverloadedError}. */
  queueLimit: number;
}

/**
 * At most `concurrency` model calls at once, a bounded FIFO queue behind them. A queued caller
 * whose signal aborts leaves the queue.
 *
 * @example
 * const limiter = new ConcurrencyLimiter({ concurrency: 4, queueLimit: 16 });
 * const permit = await limiter.acquire();
 * try { await callModel(); } finally { permit.release(); }
 */
export class ConcurrencyLimiter {
  private active = 0;
  private readonly waiting: { grant: () => void }[] = [];
  /** Smoothed time a permit is held, for `Retry-After`. */
  private holdMs = 5_000;

  constructor(private readonly options: LimiterOptions) {}

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  acquire(signal?: AbortSignal): Promise<Permit> {
    const started = performance.now();
    if (this.active < this.options.concurrency) {
      this.active++;
      return Promise.resolve(this.permit(started));
    }
    if (this.waiting.length >= this.options.queueLimit) {
      return Promise.reject(new OverloadedError(this.retryAfterSeconds()));
    }
    return new Promise<Permit>((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.permit(started));
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason ?? new Error("aborted"));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private permit(started: number): Permit {
    const granted = performance.now();
    let released = false;
    return {
      waitedMs: granted - started,
      release: () => {
        if (released) return;
        released = true;
        this.holdMs = this.holdMs * 0.8 + (performance.now() - granted) * 0.2;
        const next = this.waiting.shift();
        if (next) next.grant();
        else this.active--;
      },
    };
  }

  /** Seconds until a slot is likely free: the queue drained at the smoothed hold time. */
  private retryAfterSeconds(): number {
    const rounds = (this.waiting.length + 1) / this.options.concurrency;
    return Math.min(120, Math.max(1, Math.ceil((rounds * this.holdMs) / 1000)));
  }
}
