/**
 * The one retrier. Everything in rivven-rx that tries something again — a request on the next
 * server, a reconnect, a produce batch, a metadata read, a commit, a group round — asks it:
 *
 * - **whether** to try again: a failure `isRetriable` (errors.ts, the one rule; a caller may only
 *   narrow it, e.g. to `isUnreachable` where a broker's answer is final), while the session is not
 *   stopping, within `retry.maxAttempts` attempts (the first included), within a deadline if the
 *   caller has one (a record's `deliveryTimeoutMs`), and — where an operation must outlast a
 *   broker restart — not before `minElapsedMs` has passed;
 * - **how long** to wait: `retryDelay`, the one delay rule;
 * - and it runs the loop, as an RxJS operator (`retry$`) or over promises (`run`).
 *
 * It also holds each component's default policy (`RETRY_DEFAULTS`), the table docs/clients.md's table
 * is checked against (spec/unit/retrier.spec.ts). KafkaJS's `createRetry` and franz-go's single
 * `retryBackoff` are the models: one policy shape, one delay function, one place to read.
 */
import { type MonoTypeOperatorFunction, type SchedulerLike, asyncScheduler, firstValueFrom, retry, throwError, timer } from 'rxjs';
import type { ResolvedRetryPolicy } from '../connection-settings.js';
import { isRetriable } from '../errors.js';

/** A uniform random number in [0, 1). Injectable for tests. */
export type RandomSource = () => number;

export type RetryDelaySettings = Pick<ResolvedRetryPolicy, 'initialDelayMs' | 'maxDelayMs' | 'multiplier' | 'jitter'>;

/**
 * The wait before retry number `retry` (0-based), in whole milliseconds: exponential from
 * `initialDelayMs` by `multiplier`, spread uniformly over ±`jitter` of itself (so clients that
 * failed together do not retry together), and never longer than `maxDelayMs` — jitter included:
 * the exponential part is capped at `maxDelayMs / (1 + jitter)`, so a broker that is back is
 * noticed within `maxDelayMs`.
 */
export function retryDelay(retry: number, settings: RetryDelaySettings, random: RandomSource = Math.random): number {
  const cap = settings.maxDelayMs / (1 + settings.jitter);
  let base = Math.min(settings.initialDelayMs, cap);
  // Grow step by step and stop at the cap, so huge retry counts never overflow to Infinity/NaN.
  for (let i = 0; i < retry && base < cap; i++) base *= settings.multiplier;
  base = Math.min(base, cap);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.min(settings.maxDelayMs, Math.max(0, Math.round(base * (1 + settings.jitter * (2 * r - 1)))));
}

/** The inclusive range every `retryDelay(retry, settings)` falls in. */
export function retryDelayBounds(retry: number, settings: RetryDelaySettings): { min: number; max: number } {
  return { min: retryDelay(retry, settings, () => 0), max: retryDelay(retry, settings, () => 1) };
}

/**
 * Each component's default `retry`, and what one attempt is there. `multiplier` 2 and `jitter`
 * 0.25 (rivven-client's) everywhere; the components differ in how many attempts a failure gets
 * before the caller hears of it, and how long one wait may grow.
 */
export const RETRY_DEFAULTS = Object.freeze({
  /** One batch send or metadata read; `deliveryTimeoutMs` bounds delivery, not a count. */
  Producer: policy(Number.POSITIVE_INFINITY, 1_000),
  /** One reconnect after a connection or request failure (`records$` errors after this many in a row). */
  Consumer: policy(10, 10_000),
  /** One request, each attempt on the next server. */
  ResilientClient: policy(4, 5_000),
  /** One round over the servers for a new connection (each request bounds its own wait). */
  PipelinedClient: policy(Number.POSITIVE_INFINITY, 5_000),
  /** One round over the servers, each tried once (a dead cluster is reported at once). */
  Client: policy(1, 5_000),
  /** One round over the servers for the coordinator connection (again only when none answered). */
  TransactionalProducer: policy(1, 1_000),
}) satisfies Readonly<Record<string, Readonly<ResolvedRetryPolicy>>>;

function policy(maxAttempts: number, maxDelayMs: number): Readonly<ResolvedRetryPolicy> {
  return Object.freeze({ maxAttempts, initialDelayMs: 100, maxDelayMs, multiplier: 2, jitter: 0.25 });
}

/** What a caller adds to the policy for one operation. */
export interface RetryOptions {
  /** Which failures are tried again: `isRetriable` unless narrowed (never widen it: errors.ts decides). */
  retriable?: (error: unknown) => boolean;
  /** Attempts in all, if not the policy's `maxAttempts` (Infinity: bounded by time only). */
  maxAttempts?: number;
  /** Keep trying until this long after the first attempt even past `maxAttempts` (an operation that must outlast a broker restart). */
  minElapsedMs?: number;
  /** No attempt starts after this time (on the retrier's scheduler): the wait is cut to it, and past it the last failure stands. */
  deadline?: number;
  /** The operation's owner is closing: no more attempts. */
  stopped?: () => boolean;
  /** Before each wait: the failure, how many attempts failed so far, the wait. */
  onRetry?: (error: unknown, failures: number, delayMs: number) => void;
}

export class Retrier {
  constructor(
    readonly policy: ResolvedRetryPolicy,
    readonly scheduler: SchedulerLike = asyncScheduler,
    private readonly random: RandomSource = Math.random,
  ) {}

  /** The wait before retry number `retry` (0-based): `retryDelay` of this policy. */
  delay(retry: number): number {
    return retryDelay(retry, this.policy, this.random);
  }

  /**
   * After `failures` attempts in a row failed, the last with `error`: the wait before the next
   * attempt, or `undefined` to give up. `startedAt` (scheduler time of the first attempt) is needed
   * for `minElapsedMs`.
   */
  next(error: unknown, failures: number, options: RetryOptions = {}, startedAt?: number): number | undefined {
    if (!(options.retriable ?? isRetriable)(error) || options.stopped?.() === true) return undefined;
    const now = this.scheduler.now();
    const maxAttempts = options.maxAttempts ?? this.policy.maxAttempts;
    const outlasting = options.minElapsedMs !== undefined && startedAt !== undefined && now - startedAt < options.minElapsedMs;
    if (failures >= maxAttempts && !outlasting) return undefined;
    const wait = this.delay(failures - 1);
    if (options.deadline === undefined) return wait;
    if (now >= options.deadline) return undefined;
    return Math.min(wait, options.deadline - now);
  }

  /** `source.pipe(retrier.retry$(options))`: resubscribe after each failure the retrier allows, after its wait. */
  retry$<T>(options: RetryOptions = {}): MonoTypeOperatorFunction<T> {
    return (source) => {
      const startedAt = this.scheduler.now();
      return source.pipe(
        retry({
          delay: (error: unknown, failures: number) => {
            const wait = this.next(error, failures, options, startedAt);
            if (wait === undefined) return throwError(() => error);
            options.onRetry?.(error, failures, wait);
            return timer(wait, this.scheduler);
          },
        }),
      );
    };
  }

  /**
   * `work(attempt)` (1-based) until it resolves or the retrier gives up (then its last failure).
   * `sleep` waits between attempts (default: a timer on the scheduler); a caller whose session can
   * stop passes one that ends early.
   */
  async run<T>(work: (attempt: number) => Promise<T>, options: RetryOptions & { sleep?: (ms: number) => Promise<void> } = {}): Promise<T> {
    const startedAt = this.scheduler.now();
    const sleep = options.sleep ?? ((ms: number) => firstValueFrom(timer(ms, this.scheduler)).then(() => undefined));
    for (let attempt = 1; ; attempt++) {
      try {
        return await work(attempt);
      } catch (error) {
        const wait = this.next(error, attempt, options, startedAt);
        if (wait === undefined) throw error;
        options.onRetry?.(error, attempt, wait);
        await sleep(wait);
      }
    }
  }
}
