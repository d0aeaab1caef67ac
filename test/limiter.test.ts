import { describe, expect, test } from "bun:test";
import { ConcurrencyLimiter, OverloadedError, RequestCancelledError } from "../src/limiter.ts";

/** A clock the test moves by hand, so waits and hold times are exact, whatever the machine's load. */
function fakeClock() {
  let now = 1_000;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe("ConcurrencyLimiter", () => {
  test("at most `concurrency` run; the queue is FIFO and its wait measured on the limiter's clock", async () => {
    const clock = fakeClock();
    const limiter = new ConcurrencyLimiter({ concurrency: 2, queueLimit: 2, now: clock.now });
    const a = await limiter.acquire();
    const b = await limiter.acquire();
    // Granted at once: no wait at all, not merely a short one.
    expect(a.waitedMs).toBe(0);
    expect(b.waitedMs).toBe(0);
    const order: string[] = [];
    const c = limiter.acquire().then((p) => (order.push("c"), p));
    clock.advance(5);
    const d = limiter.acquire().then((p) => (order.push("d"), p));
    expect(limiter.inFlight).toBe(2);
    expect(limiter.queued).toBe(2);

    const overflow = await limiter.acquire().catch((e: unknown) => e);
    expect(overflow).toBeInstanceOf(OverloadedError);
    expect((overflow as OverloadedError).status).toBe(503);

    clock.advance(20);
    a.release();
    a.release(); // a second release does nothing
    const pc = await c;
    expect(pc.waitedMs).toBe(25);
    expect(limiter.queued).toBe(1);
    clock.advance(10);
    b.release();
    const pd = await d;
    expect(pd.waitedMs).toBe(30);
    pd.release();
    pc.release();
    expect(order).toEqual(["c", "d"]);
    expect(limiter.inFlight).toBe(0);
  });

  test("Retry-After comes from measured hold times: 1 s before any, then the queue ahead drained at the mean", async () => {
    const clock = fakeClock();
    const limiter = new ConcurrencyLimiter({ concurrency: 2, queueLimit: 2, now: clock.now });
    const refuse = async () => {
      const error = (await limiter.acquire().catch((e: unknown) => e)) as OverloadedError;
      expect(error).toBeInstanceOf(OverloadedError);
      return Number(error.headers["Retry-After"]);
    };
    const held = [await limiter.acquire(), await limiter.acquire()];
    const queued = [limiter.acquire(), limiter.acquire()];
    // Nothing measured yet: no guess of seconds, retry soon.
    expect(await refuse()).toBe(1);
    expect(limiter.meanHoldMs).toBeUndefined();

    // A slot freed after 75 ms (the case the issue measured: 22 s was answered) → 1 s.
    clock.advance(75);
    held[0]!.release();
    expect(limiter.meanHoldMs).toBe(75);
    const third = limiter.acquire();
    expect(await refuse()).toBe(1);

    // A slow hold: 10 s. Two queued ahead of the newcomer and two slots: two rounds at the mean.
    clock.advance(9_925);
    held[1]!.release();
    const mean = 75 * 0.7 + 10_000 * 0.3;
    expect(limiter.meanHoldMs).toBeCloseTo(mean, 6);
    const fourth = limiter.acquire();
    expect(limiter.queued).toBe(2);
    expect(await refuse()).toBe(Math.ceil((2 * mean) / 1000));
    for (const p of [...queued, third, fourth]) (await p).release();
    expect(limiter.inFlight).toBe(0);
  });

  test("an aborted waiter leaves the queue with a 499 cancelled; an aborted signal is refused before queueing", async () => {
    const limiter = new ConcurrencyLimiter({ concurrency: 1, queueLimit: 1 });
    const held = await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal).catch((e: unknown) => e);
    expect(limiter.queued).toBe(1);
    controller.abort(new Error("gone"));
    const error = (await waiting) as RequestCancelledError;
    expect(error).toBeInstanceOf(RequestCancelledError);
    expect(error.status).toBe(499);
    expect(limiter.queued).toBe(0);
    await expect(limiter.acquire(controller.signal)).rejects.toBeInstanceOf(RequestCancelledError);
    expect(limiter.queued).toBe(0);
    held.release();
    expect(limiter.inFlight).toBe(0);
  });
});
