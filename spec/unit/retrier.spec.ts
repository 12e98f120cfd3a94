/**
 * The one retrier (src/client/retrier.ts): the delay rule (exponential, ±jitter, never above
 * maxDelayMs), when it gives up (not retriable, maxAttempts, a deadline, minElapsedMs, a stopping
 * owner), its loops in virtual time, and the table of each component's defaults in docs/clients.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { defer, firstValueFrom, throwError, VirtualTimeScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { RETRY_DEFAULTS, Retrier, retryDelay, retryDelayBounds } from '../../src/client/retrier';
import { ConfigError, ConnectionError, ServerError, RivvenTimeoutError, isRetriable, isUnreachable } from '../../src/errors';

const policy = { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 5_000, multiplier: 2, jitter: 0.25 };
const exact = { ...policy, jitter: 0 };

describe('retryDelay: the one delay rule', () => {
  it('doubles from initialDelayMs and stops at maxDelayMs', () => {
    expect(Array.from({ length: 10 }, (_, i) => retryDelay(i, exact))).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]);
  });

  it('never overflows for huge retry counts; multiplier 1 waits the same every time', () => {
    expect(retryDelay(1_000_000, exact)).toBe(5_000);
    expect([0, 1, 5].map((i) => retryDelay(i, { ...exact, initialDelayMs: 250, maxDelayMs: 1_000, multiplier: 1 }))).toEqual([250, 250, 250]);
  });

  it('spreads each wait over ±jitter of itself', () => {
    expect(retryDelay(0, policy, () => 0)).toBe(75);
    expect(retryDelay(0, policy, () => 0.5)).toBe(100);
    expect(retryDelay(0, policy, () => 0.999_999)).toBe(125);
  });

  it('never waits longer than maxDelayMs, jitter included, and still spreads capped waits', () => {
    // The exponential part stops at 5000 / 1.25 = 4000: capped waits spread over [3000, 5000].
    expect(retryDelay(20, policy, () => 0)).toBe(3_000);
    expect(retryDelay(20, policy, () => 0.999_999)).toBe(5_000);
    expect(retryDelayBounds(20, policy)).toEqual({ min: 3_000, max: 5_000 });
    expect(retryDelay(0, { ...policy, initialDelayMs: 100, maxDelayMs: 100 }, () => 0.999_999)).toBeLessThanOrEqual(100);
    expect(retryDelay(5, { ...policy, initialDelayMs: 0, maxDelayMs: 0 }, () => 0.7)).toBe(0);
  });

  it('every wait lies within its bounds and never above maxDelayMs (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (retry, r, initialDelayMs, extra, multiplier, jitter) => {
          const settings = { initialDelayMs, maxDelayMs: initialDelayMs + extra, multiplier, jitter };
          const { min, max } = retryDelayBounds(retry, settings);
          const wait = retryDelay(retry, settings, () => r);
          expect(wait).toBeGreaterThanOrEqual(min);
          expect(wait).toBeLessThanOrEqual(max);
          expect(max).toBeLessThanOrEqual(settings.maxDelayMs);
        },
      ),
    );
  });

  it('real randomness varies the waits (clients that failed together do not retry together)', () => {
    const samples = new Set(Array.from({ length: 50 }, () => retryDelay(4, policy)));
    expect(samples.size).toBeGreaterThan(10);
    for (const s of samples) expect(s).toBeGreaterThanOrEqual(1_200);
    for (const s of samples) expect(s).toBeLessThanOrEqual(2_000);
  });
});

describe('isRetriable: the one rule', () => {
  it('a RivvenError says whether doing it again may succeed; anything else is never retried', () => {
    expect(isRetriable(new ConnectionError('closed'))).toBe(true);
    expect(isRetriable(new RivvenTimeoutError('late'))).toBe(true);
    expect(isRetriable(new ConfigError('x', 'wrong'))).toBe(false);
    expect(isRetriable(new Error('a bug'))).toBe(false);
    expect(isRetriable('a string')).toBe(false);
    // A broker's answer: the server error table decides.
    expect(isRetriable(new ServerError('REBALANCE_TIMEOUT: leader did not sync within 30s'))).toBe(true);
    expect(isRetriable(new ServerError("INCONSISTENT_GROUP_PROTOCOL: assignment references unknown member 'm'"))).toBe(true);
  });
});

describe('Retrier.next: whether and when', () => {
  const clock = () => {
    const scheduler = new VirtualTimeScheduler();
    return { scheduler, retrier: new Retrier(exact, scheduler) };
  };

  it('retries a retriable failure up to maxAttempts attempts in all, the first included', () => {
    const { retrier } = clock();
    const down = new ConnectionError('down');
    expect([1, 2, 3, 4].map((failures) => retrier.next(down, failures))).toEqual([100, 200, 400, undefined]);
  });

  it('never retries what is not retriable, nor once its owner stops; a caller may narrow the rule', () => {
    const { retrier } = clock();
    expect(retrier.next(new ConfigError('x', 'wrong'), 1)).toBeUndefined();
    expect(retrier.next(new ConnectionError('down'), 1, { stopped: () => true })).toBeUndefined();
    // A broker's answer is final where only "no answer" is worth another try.
    expect(retrier.next(new ServerError('REBALANCE_TIMEOUT: late'), 1, { retriable: isUnreachable })).toBeUndefined();
    expect(retrier.next(new RivvenTimeoutError('late'), 1, { retriable: isUnreachable })).toBe(100);
  });

  it('maxAttempts can be replaced by a time bound (Infinity), and minElapsedMs outlasts maxAttempts', () => {
    const { retrier, scheduler } = clock();
    expect(retrier.next(new ConnectionError('down'), 50, { maxAttempts: Number.POSITIVE_INFINITY })).toBe(5_000);
    // A commit across a broker restart: past maxAttempts, but only 1 s into its 20 s.
    scheduler.schedule(() => undefined, 1_000);
    scheduler.flush();
    expect(retrier.next(new ConnectionError('down'), 9, { minElapsedMs: 20_000 }, 0)).toBe(5_000);
    expect(retrier.next(new ConnectionError('down'), 9, { minElapsedMs: 500 }, 0)).toBeUndefined();
  });

  it('a deadline cuts the last wait to it, and past it the last failure stands', () => {
    const { retrier } = clock();
    expect(retrier.next(new ConnectionError('down'), 3, { maxAttempts: 100, deadline: 250 })).toBe(250);
    expect(retrier.next(new ConnectionError('down'), 3, { maxAttempts: 100, deadline: 0 })).toBeUndefined();
  });
});

describe('Retrier loops in virtual time', () => {
  it('retry$: resubscribes at 100, 200, 400 ms, then the last failure stands (marbles)', () => {
    const ts = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('#', undefined, new ConnectionError('down'));
      const result = source.pipe(new Retrier(exact, ts).retry$());
      // 0 → +100 → +200 → +400 = 700, four attempts in all.
      expectObservable(result).toBe('700ms #', undefined, new ConnectionError('down'));
      expectSubscriptions(source.subscriptions).toBe(['(^!)', '100ms (^!)', '300ms (^!)', '700ms (^!)']);
    });
  });

  it('retry$: jittered waits land inside their windows, and onRetry hears each', () => {
    const ts = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const randoms = [0, 0.999_999, 0.5];
    let i = 0;
    const times: number[] = [];
    const heard: number[] = [];
    ts.run(({ expectObservable }) => {
      const source = defer(() => {
        times.push(ts.now());
        return throwError(() => new ConnectionError('down'));
      });
      const result = source.pipe(new Retrier(policy, ts, () => randoms[i++]!).retry$({ onRetry: (_e, _n, wait) => heard.push(wait) }));
      // 75, +250, +400 → 75, 325, 725
      expectObservable(result).toBe('725ms #', undefined, new ConnectionError('down'));
    });
    expect(times).toEqual([0, 75, 325, 725]);
    expect(heard).toEqual([75, 250, 400]);
  });

  it('run: retries work until it resolves, with the waits the sleep is asked for', async () => {
    const waits: number[] = [];
    let attempts = 0;
    const result = await new Retrier(exact).run(
      async (attempt) => {
        attempts = attempt;
        if (attempt < 3) throw new ConnectionError('down');
        return 'ok';
      },
      { sleep: async (ms) => void waits.push(ms) },
    );
    expect({ result, attempts, waits }).toEqual({ result: 'ok', attempts: 3, waits: [100, 200] });
  });

  it('run: a failure that is not retriable is thrown at once', async () => {
    let attempts = 0;
    const refused = new ConfigError('auth', 'bad credentials');
    await expect(
      new Retrier(exact).run(
        async () => {
          attempts++;
          throw refused;
        },
        { sleep: async () => undefined },
      ),
    ).rejects.toBe(refused);
    expect(attempts).toBe(1);
  });

  it('run over the real clock ends (no timer left behind)', async () => {
    await expect(firstValueFrom(defer(() => new Retrier({ ...exact, initialDelayMs: 1, maxDelayMs: 1 }).run(async (n) => (n < 2 ? Promise.reject(new ConnectionError('x')) : n))))).resolves.toBe(2);
  });
});

describe('RETRY_DEFAULTS: one table, and docs/clients.md says what it holds', () => {
  it("docs/clients.md's per-component table matches the code, row by row", () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'docs', 'clients.md'), 'utf8');
    const header = readme.indexOf('| component | one attempt | `maxAttempts` |');
    expect(header).toBeGreaterThan(0);
    const rows = readme
      .slice(header)
      .split('\n')
      .slice(2)
      .filter((line, i, all) => line.startsWith('|') && all.slice(0, i).every((l) => l.startsWith('|')));
    const parsed = Object.fromEntries(
      rows.map((row) => {
        const cells = row.split('|').map((c) => c.trim());
        const component = /`([A-Za-z]+)/.exec(cells[1]!)![1]!;
        const maxAttempts = cells[3]!.startsWith('`Infinity`') ? Number.POSITIVE_INFINITY : Number(/^\d+/.exec(cells[3]!)![0]);
        const [initialDelayMs, maxDelayMs] = /^([\d,]+) \/ ([\d,]+)/.exec(cells[4]!)!.slice(1).map((n) => Number(n.replace(/,/g, '')));
        const jitter = Number(/±(\d+) %/.exec(cells[5]!)![1]) / 100;
        return [component, { maxAttempts, initialDelayMs, maxDelayMs, multiplier: 2, jitter }];
      }),
    );
    expect(parsed).toEqual({ ...RETRY_DEFAULTS });
  });
});
