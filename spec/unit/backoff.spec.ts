/**
 * Exponential backoff with ±jitter: the pure delay sequence, its cap, the jitter bounds, and the
 * retry timing in virtual time (TestScheduler marbles).
 */
import fc from 'fast-check';
import { defer, retry, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { backoffBounds, backoffDelay, backoffNotifier, exponentialDelay, type BackoffPolicy } from '../../src/client/backoff';

const rust: BackoffPolicy = { initialDelay: 100, maxDelay: 5_000, multiplier: 2, jitter: 0.25 };

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('backoff', () => {
  it('doubles from retryInitialDelay and stops at retryMaxDelay', () => {
    const delays = Array.from({ length: 10 }, (_, i) => exponentialDelay(i, rust));
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]);
  });

  it('never overflows for huge retry counts', () => {
    expect(exponentialDelay(10_000, rust)).toBe(5_000);
    expect(exponentialDelay(1_000_000, { initialDelay: 1, maxDelay: 7, multiplier: 1.5 })).toBe(7);
  });

  it('with multiplier 1 waits the same every time', () => {
    expect([0, 1, 5].map((i) => exponentialDelay(i, { initialDelay: 250, maxDelay: 1000, multiplier: 1 }))).toEqual([250, 250, 250]);
  });

  it('without jitter the delays are exact', () => {
    expect([0, 1, 2, 7].map((i) => backoffDelay(i, { ...rust, jitter: 0 }, () => 0.9))).toEqual([100, 200, 400, 5000]);
  });

  it('jitter spreads each delay over ±25 % of the capped value', () => {
    expect(backoffDelay(0, rust, () => 0)).toBe(75);
    expect(backoffDelay(0, rust, () => 0.5)).toBe(100);
    expect(backoffDelay(0, rust, () => 0.999999)).toBe(125);
    expect(backoffDelay(20, rust, () => 0)).toBe(3_750);
    expect(backoffDelay(20, rust, () => 0.999999)).toBe(6_250);
    expect(backoffBounds(3, rust)).toEqual({ min: 600, max: 1000 });
  });

  it('every jittered delay stays within its bounds (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (retryIndex, r, initial, extra, multiplier, jitter) => {
          const policy = { initialDelay: initial, maxDelay: initial + extra, multiplier, jitter };
          const { min, max } = backoffBounds(retryIndex, policy);
          const delay = backoffDelay(retryIndex, policy, () => r);
          expect(delay).toBeGreaterThanOrEqual(min);
          expect(delay).toBeLessThanOrEqual(max);
          expect(max).toBeLessThanOrEqual(Math.round(policy.maxDelay * (1 + jitter)));
        },
      ),
    );
  });

  it('real randomness actually varies the delays (not all equal)', () => {
    const samples = new Set(Array.from({ length: 50 }, () => backoffDelay(4, rust)));
    expect(samples.size).toBeGreaterThan(10);
    for (const s of samples) expect(s).toBeGreaterThanOrEqual(1200);
    for (const s of samples) expect(s).toBeLessThanOrEqual(2000);
  });

  it('retries at 100, 200, 400, capped 500, 500 ms in virtual time (marbles)', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('#');
      const policy: BackoffPolicy = { initialDelay: 100, maxDelay: 500, multiplier: 2, jitter: 0 };
      const result = source.pipe(retry({ count: 5, delay: backoffNotifier(policy, ts) }));
      // 0 → +100 → +200 → +400 → +500 (cap) → +500 (cap) = 1700
      expectObservable(result).toBe('1700ms #');
      expectSubscriptions(source.subscriptions).toBe(['(^!)', '100ms (^!)', '300ms (^!)', '700ms (^!)', '1200ms (^!)', '1700ms (^!)']);
    });
  });

  it('jittered retries land inside their windows in virtual time', () => {
    const ts = scheduler();
    const randoms = [0, 0.999999, 0.5, 0.25];
    let i = 0;
    const times: number[] = [];
    ts.run(({ expectObservable }) => {
      const source = defer(() => {
        times.push(ts.now());
        return throwError(() => new Error('down'));
      });
      const result = source.pipe(retry({ count: 4, delay: backoffNotifier(rust, ts, () => randoms[i++]!) }));
      // 75, +250, +400, +700  → 75, 325, 725, 1425
      expectObservable(result).toBe('1425ms #', undefined, new Error('down'));
    });
    expect(times).toEqual([0, 75, 325, 725, 1425]);
  });
});
