/**
 * A circuit breaker for one server, on an RxJS scheduler.
 *
 *   Closed ──(failureThreshold consecutive failures)──▶ Open
 *   Open ──(the recovery delay elapsed, on the scheduler)──▶ Half-Open
 *   Half-Open ──(the one probe succeeds)──▶ Closed
 *   Half-Open ──(the probe fails)──▶ Open (and the recovery timer starts again, twice as long)
 *
 * The recovery delay starts at `initialRecoveryTimeout` and doubles with every reopen (a probe that
 * failed) up to `recoveryTimeout`; closing resets it. So a broker that was down for a moment (a
 * restart) is probed again within about a second, while one that stays down is probed less and
 * less often, down to once per `recoveryTimeout`.
 *
 * Callers ask for a permit before using the server. Closed hands out permits freely; Open refuses
 * (fail fast, no connection attempt); Half-Open hands out exactly one permit — the probe — and
 * refuses everyone else until the probe settles. A permit is settled once: `success()`,
 * `failure()`, or `release()` (neither: cancelled, or an outcome that says nothing about the
 * server's health). Outcomes of permits issued before the last transition are ignored, so a late
 * reply from before the breaker opened cannot close it.
 */
import { BehaviorSubject, type Observable, asyncScheduler, distinctUntilChanged, type SchedulerLike, type Subscription } from 'rxjs';

/**
 * A circuit breaker's state: `closed` lets requests through, `open` refuses them at once, `half-open`
 * lets one probe through.
 */
export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit (≥ 1). */
  failureThreshold: number;
  /** The longest the circuit stays open before one probe is let through, in milliseconds. */
  recoveryTimeout: number;
  /** How long it stays open the first time (doubling per reopen up to `recoveryTimeout`). Default: `recoveryTimeout`. */
  initialRecoveryTimeout?: number;
  /** Where the recovery timer runs (virtual time in tests). Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

export interface CircuitPermit {
  /** True for the single Half-Open probe. */
  readonly probe: boolean;
  /** The server answered. */
  success(): void;
  /** The server failed (connect failure, broken connection, timeout). */
  failure(): void;
  /** Neither: cancelled, or an outcome that says nothing about the server. */
  release(): void;
}

/** One server's circuit breaker, as health reports it. */
export interface CircuitSnapshot {
  /** The breaker's state. */
  state: CircuitState;
  /** Failures in a row since the last success (the breaker opens at `failureThreshold`). */
  consecutiveFailures: number;
  /** When the circuit last opened (scheduler clock, ms). */
  openedAt: number | undefined;
  /** When an open circuit lets its probe through (scheduler clock, ms). */
  halfOpenAt: number | undefined;
  /** Whether the Half-Open probe is out. */
  probeInFlight: boolean;
}

export class CircuitBreaker {
  private readonly stateSubject = new BehaviorSubject<CircuitState>('closed');
  private readonly scheduler: SchedulerLike;
  private failures = 0;
  private generation = 0;
  private probeOut = false;
  private openedAt: number | undefined;
  /** Opens in a row without closing (sets the recovery delay). */
  private reopens = 0;
  private currentRecovery = 0;
  private recoveryTimer: Subscription | undefined;
  private disposed = false;

  /** The current state, then every transition. Completes on `dispose()`. */
  readonly state$: Observable<CircuitState>;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.state$ = this.stateSubject.pipe(distinctUntilChanged());
  }

  get state(): CircuitState {
    return this.stateSubject.value;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  snapshot(): CircuitSnapshot {
    return {
      state: this.state,
      consecutiveFailures: this.failures,
      openedAt: this.openedAt,
      halfOpenAt: this.state === 'open' && this.openedAt !== undefined ? this.openedAt + this.currentRecovery : undefined,
      probeInFlight: this.probeOut,
    };
  }

  /** Would a request be let through right now (without taking the permit)? */
  get allowsRequests(): boolean {
    return this.state === 'closed' || (this.state === 'half-open' && !this.probeOut);
  }

  /** A permit to use the server, or undefined if the circuit refuses (open, or probe already out). */
  tryAcquire(): CircuitPermit | undefined {
    if (this.disposed) return undefined;
    switch (this.state) {
      case 'closed':
        return this.permit(false);
      case 'half-open':
        if (this.probeOut) return undefined;
        this.probeOut = true;
        return this.permit(true);
      case 'open':
        return undefined;
    }
  }

  /** A failure not tied to a permit (e.g. a pooled connection broke). Counts in Closed, reopens Half-Open. */
  recordFailure(): void {
    if (this.disposed) return;
    if (this.state === 'closed') {
      this.failures++;
      if (this.failures >= this.options.failureThreshold) this.open();
    } else if (this.state === 'half-open') {
      this.failures++;
      this.open();
    }
  }

  /**
   * A success not tied to a permit: a connection made while the circuit refused requests (a lane
   * that tried every server anyway) worked, so the server is back — close the circuit.
   */
  recordSuccess(): void {
    if (this.disposed) return;
    this.failures = 0;
    if (this.state !== 'closed') {
      this.recoveryTimer?.unsubscribe();
      this.recoveryTimer = undefined;
      this.transition('closed');
    }
  }

  /** Stop the recovery timer and complete `state$`. Permits settled afterwards are ignored. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.recoveryTimer?.unsubscribe();
    this.recoveryTimer = undefined;
    this.generation++;
    this.stateSubject.complete();
  }

  private permit(probe: boolean): CircuitPermit {
    const generation = this.generation;
    let settled = false;
    const settle = (outcome: 'success' | 'failure' | 'release') => {
      if (settled) return;
      settled = true;
      if (this.disposed || generation !== this.generation) return; // issued before the last transition
      if (probe) this.probeOut = false;
      if (outcome === 'success') {
        this.failures = 0;
        if (this.state === 'half-open') this.transition('closed');
      } else if (outcome === 'failure') {
        this.recordFailure();
      }
    };
    return {
      probe,
      success: () => settle('success'),
      failure: () => settle('failure'),
      release: () => settle('release'),
    };
  }

  private open(): void {
    this.openedAt = this.scheduler.now();
    const { recoveryTimeout } = this.options;
    const initial = Math.min(this.options.initialRecoveryTimeout ?? recoveryTimeout, recoveryTimeout);
    this.currentRecovery = Math.min(recoveryTimeout, initial * 2 ** Math.min(this.reopens, 30));
    this.reopens++;
    this.recoveryTimer?.unsubscribe();
    this.recoveryTimer = this.scheduler.schedule(() => {
      this.recoveryTimer = undefined;
      if (!this.disposed && this.state === 'open') this.transition('half-open');
    }, this.currentRecovery);
    this.transition('open');
  }

  private transition(state: CircuitState): void {
    this.generation++;
    this.probeOut = false;
    if (state === 'closed') {
      this.failures = 0;
      this.openedAt = undefined;
      this.reopens = 0;
    }
    this.stateSubject.next(state);
  }
}
