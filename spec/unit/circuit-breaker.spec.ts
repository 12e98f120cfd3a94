/**
 * The circuit breaker's transitions in virtual time: Closed counts consecutive failures, Open
 * refuses, Half-Open lets exactly one probe through, the probe's outcome decides.
 */
import { TestScheduler } from 'rxjs/testing';
import { CircuitBreaker, type CircuitPermit, type CircuitState } from '../../src/client/circuit-breaker';

const LETTER: Record<CircuitState, string> = { closed: 'c', open: 'o', 'half-open': 'h' };
const VALUES = { c: 'closed', o: 'open', h: 'half-open' } as const;

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

/** Run `script` at virtual times; returns the breaker. */
function at(ts: TestScheduler, time: number, work: () => void): void {
  ts.schedule(work, time);
}

describe('CircuitBreaker', () => {
  it('opens after the threshold of consecutive failures, then goes Half-Open after the recovery timeout', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      const breaker = new CircuitBreaker({ failureThreshold: 3, recoveryTimeout: 100, scheduler: ts });
      for (const t of [10, 20, 30]) at(ts, t, () => breaker.tryAcquire()!.failure());
      expectObservable(breaker.state$, '^ 300ms !').toBe('c 29ms o 99ms h', VALUES);
    });
  });

  it('the recovery delay starts at initialRecoveryTimeout, doubles per failed probe up to recoveryTimeout, and resets on close', () => {
    const ts = scheduler();
    const seen: [number, CircuitState][] = [];
    ts.run(() => {
      const breaker = new CircuitBreaker({ failureThreshold: 1, recoveryTimeout: 400, initialRecoveryTimeout: 100, scheduler: ts });
      breaker.state$.subscribe((state) => seen.push([ts.now(), state]));
      at(ts, 0, () => breaker.tryAcquire()!.failure()); // open; probe allowed after 100
      at(ts, 101, () => breaker.tryAcquire()!.failure()); // the probe fails: 200 this time
      at(ts, 302, () => breaker.tryAcquire()!.failure()); // 400
      at(ts, 703, () => breaker.tryAcquire()!.failure()); // capped at 400
      at(ts, 1104, () => breaker.tryAcquire()!.success()); // healthy: the next open starts at 100 again
      at(ts, 1200, () => breaker.tryAcquire()!.failure());
    });
    expect(seen).toEqual([
      [0, 'closed'],
      [0, 'open'],
      [100, 'half-open'],
      [101, 'open'],
      [301, 'half-open'],
      [302, 'open'],
      [702, 'half-open'],
      [703, 'open'],
      [1103, 'half-open'],
      [1104, 'closed'],
      [1200, 'open'],
      [1300, 'half-open'],
    ]);
  });

  it('a success in between resets the count: failures must be consecutive', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      const breaker = new CircuitBreaker({ failureThreshold: 3, recoveryTimeout: 100, scheduler: ts });
      at(ts, 1, () => breaker.tryAcquire()!.failure());
      at(ts, 2, () => breaker.tryAcquire()!.failure());
      at(ts, 3, () => breaker.tryAcquire()!.success());
      at(ts, 4, () => breaker.tryAcquire()!.failure());
      at(ts, 5, () => breaker.tryAcquire()!.failure());
      at(ts, 6, () => expect(breaker.consecutiveFailures).toBe(2));
      at(ts, 7, () => breaker.tryAcquire()!.failure());
      expectObservable(breaker.state$, '^ 50ms !').toBe('c 6ms o', VALUES);
    });
  });

  it('refuses every request while Open (fail fast) and lets exactly one probe through in Half-Open', () => {
    const ts = scheduler();
    const refusedWhileOpen: boolean[] = [];
    const halfOpenPermits: (CircuitPermit | undefined)[] = [];
    ts.run(({ expectObservable }) => {
      const breaker = new CircuitBreaker({ failureThreshold: 1, recoveryTimeout: 100, scheduler: ts });
      at(ts, 0, () => breaker.tryAcquire()!.failure());
      at(ts, 50, () => refusedWhileOpen.push(breaker.tryAcquire() === undefined, breaker.tryAcquire() === undefined));
      at(ts, 150, () => {
        for (let i = 0; i < 5; i++) halfOpenPermits.push(breaker.tryAcquire());
      });
      at(ts, 160, () => halfOpenPermits[0]!.success());
      expectObservable(breaker.state$, '^ 300ms !').toBe('o 99ms h 59ms c', VALUES);
    });
    expect(refusedWhileOpen).toEqual([true, true]);
    expect(halfOpenPermits[0]?.probe).toBe(true);
    expect(halfOpenPermits.slice(1)).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('a failed probe reopens and restarts the recovery timer', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      const breaker = new CircuitBreaker({ failureThreshold: 2, recoveryTimeout: 100, scheduler: ts });
      at(ts, 0, () => breaker.tryAcquire()!.failure());
      at(ts, 0, () => breaker.tryAcquire()!.failure());
      at(ts, 120, () => breaker.tryAcquire()!.failure()); // the probe fails at 120
      at(ts, 230, () => breaker.tryAcquire()!.success()); // the next probe (half-open at 220) succeeds
      expectObservable(breaker.state$.pipe(), '^ 400ms !').toBe('o 99ms h 19ms o 99ms h 9ms c', VALUES);
    });
  });

  it('a released probe (cancelled, says nothing) frees the probe slot without changing state', () => {
    const ts = scheduler();
    const probes: (CircuitPermit | undefined)[] = [];
    ts.run(({ expectObservable }) => {
      const breaker = new CircuitBreaker({ failureThreshold: 1, recoveryTimeout: 10, scheduler: ts });
      at(ts, 0, () => breaker.tryAcquire()!.failure());
      at(ts, 20, () => probes.push(breaker.tryAcquire(), breaker.tryAcquire()));
      at(ts, 21, () => probes[0]!.release());
      at(ts, 22, () => probes.push(breaker.tryAcquire()));
      expectObservable(breaker.state$, '^ 50ms !').toBe('o 9ms h', VALUES);
    });
    expect(probes.map((p) => p?.probe)).toEqual([true, undefined, true]);
  });

  it('ignores late outcomes of permits issued before a transition', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      const breaker = new CircuitBreaker({ failureThreshold: 1, recoveryTimeout: 100, scheduler: ts });
      let early: CircuitPermit | undefined;
      at(ts, 0, () => {
        early = breaker.tryAcquire();
        breaker.tryAcquire()!.failure(); // opens
      });
      at(ts, 50, () => early!.success()); // a reply from before the circuit opened cannot close it
      at(ts, 150, () => early!.failure()); // settled already: no effect in Half-Open either
      expectObservable(breaker.state$, '^ 200ms !').toBe('o 99ms h', VALUES);
    });
  });

  it('a failure not tied to a permit (a broken connection) counts in Closed and reopens Half-Open', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      const breaker = new CircuitBreaker({ failureThreshold: 2, recoveryTimeout: 10, scheduler: ts });
      at(ts, 1, () => breaker.recordFailure());
      at(ts, 2, () => breaker.recordFailure());
      at(ts, 15, () => breaker.recordFailure());
      expectObservable(breaker.state$, '^ 40ms !').toBe('c 1ms o 9ms h 2ms o 9ms h', VALUES);
    });
  });

  it('dispose() stops the recovery timer and completes state$', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      const breaker = new CircuitBreaker({ failureThreshold: 1, recoveryTimeout: 100, scheduler: ts });
      at(ts, 0, () => breaker.tryAcquire()!.failure());
      at(ts, 50, () => breaker.dispose());
      expectObservable(breaker.state$).toBe('o 49ms |', VALUES);
      at(ts, 60, () => expect(breaker.tryAcquire()).toBeUndefined());
    });
  });

  it('snapshot says when the probe will go out', () => {
    const ts = scheduler();
    ts.run(() => {
      const breaker = new CircuitBreaker({ failureThreshold: 1, recoveryTimeout: 100, scheduler: ts });
      at(ts, 5, () => breaker.tryAcquire()!.failure());
      at(ts, 6, () => expect(breaker.snapshot()).toEqual({ state: 'open', consecutiveFailures: 1, openedAt: 5, halfOpenAt: 105, probeInFlight: false }));
      at(ts, 106, () => {
        breaker.tryAcquire();
        expect(breaker.snapshot()).toMatchObject({ state: 'half-open', probeInFlight: true });
      });
    });
  });

  it('every transition is observable in order', () => {
    const states: string[] = [];
    const ts = scheduler();
    ts.run(() => {
      const breaker = new CircuitBreaker({ failureThreshold: 1, recoveryTimeout: 5, scheduler: ts });
      breaker.state$.subscribe((s) => states.push(LETTER[s]));
      at(ts, 0, () => breaker.tryAcquire()!.failure());
      at(ts, 6, () => breaker.tryAcquire()!.success());
    });
    expect(states.join('')).toBe('cohc');
  });
});
