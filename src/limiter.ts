/**
 * A concurrency limit with a bounded FIFO queue behind it, shared by the work that must not run
 * unbounded: image generation (model calls) and uploads (decoding ~20 MB images).
 */
import { ClientFacingError } from "./errors.ts";

/**
 * Past the queue: the service is busy. 503 with `Retry-After`, estimated from measured service
 * times; nothing was done for the refused request.
 *
 * @example
 * throw new OverloadedError(3, "too many generations in progress");
 */
export class OverloadedError extends ClientFacingError {
  constructor(
    readonly retryAfterSeconds: number,
    what = "too many requests in progress",
  ) {
    super(503, "overloaded", `${what}; retry in ${retryAfterSeconds}s`, { headers: { "Retry-After": String(retryAfterSeconds) } });
  }
}

/**
 * The client went away (its request's signal aborted) before its work was done. 499, the status
 * nginx logs for it: nobody reads the answer, but logs and spans show a cancelled request, not a
 * fault of the service.
 *
 * @example
 * if (request.signal.aborted) throw new RequestCancelledError();
 */
export class RequestCancelledError extends ClientFacingError {
  constructor(message = "the client closed the request") {
    super(499, "cancelled", message);
  }
}

/** A slot to run one unit of work; `release` exactly once (later calls do nothing). */
export interface Permit {
  /** Milliseconds spent queued before the slot was granted; 0 when granted at once. */
  waitedMs: number;
  release(): void;
}

export interface LimiterOptions {
  concurrency: number;
  /** How many callers may wait for a slot; one more gets an {@link OverloadedError}. */
  queueLimit: number;
  /** Names the work in the 503 message, e.g. "too many uploads in progress". */
  busyMessage?: string;
  /** Clock in ms (tests pass a fake one); `performance.now` by default. */
  now?: () => number;
}

/** Weight of the newest hold time in the running mean. */
const SMOOTHING = 0.3;

/**
 * At most `concurrency` holders at once, a bounded FIFO queue behind them. A queued caller whose
 * signal aborts leaves the queue. `Retry-After` on refusal is the time the queue ahead would take
 * to drain at the measured mean hold time (1 s while nothing has been measured yet).
 *
 * @example
 * const limiter = new ConcurrencyLimiter({ concurrency: 4, queueLimit: 16 });
 * const permit = await limiter.acquire(request.signal);
 * try { await callModel(); } finally { permit.release(); }
 */
export class ConcurrencyLimiter {
  private active = 0;
  private readonly waiting: { grant: () => void }[] = [];
  /** Mean time a permit is held (exponentially smoothed), once one has been released. */
  private holdMs: number | undefined;
  private readonly now: () => number;

  constructor(private readonly options: LimiterOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** The measured mean hold time in ms, or undefined before the first release. */
  get meanHoldMs(): number | undefined {
    return this.holdMs;
  }

  /**
   * A permit now, or once a holder releases; rejects with {@link OverloadedError} when the queue
   * is full, or with {@link RequestCancelledError} when the signal aborts first.
   */
  acquire(signal?: AbortSignal): Promise<Permit> {
    if (signal?.aborted) return Promise.reject(new RequestCancelledError());
    if (this.active < this.options.concurrency) {
      this.active++;
      return Promise.resolve(this.permit(0));
    }
    if (this.waiting.length >= this.options.queueLimit) {
      return Promise.reject(new OverloadedError(this.retryAfterSeconds(), this.options.busyMessage));
    }
    const queuedAt = this.now();
    return new Promise<Permit>((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.permit(this.now() - queuedAt));
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new RequestCancelledError());
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private permit(waitedMs: number): Permit {
    const granted = this.now();
    let released = false;
    return {
      waitedMs,
      release: () => {
        if (released) return;
        released = true;
        const held = this.now() - granted;
        this.holdMs = this.holdMs === undefined ? held : this.holdMs * (1 - SMOOTHING) + held * SMOOTHING;
        const next = this.waiting.shift();
        if (next) next.grant();
        else this.active--;
      },
    };
  }

  /** Whole seconds until a newcomer would likely get a slot: the queue ahead drained at the mean hold time. */
  private retryAfterSeconds(): number {
    if (this.holdMs === undefined) return 1;
    const rounds = Math.ceil((this.waiting.length + 1) / this.options.concurrency);
    return Math.max(1, Math.ceil((rounds * this.holdMs) / 1000));
  }
}
