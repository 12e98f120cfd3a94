/**
 * Exponential backoff with proportional jitter, as a pure function plus an RxJS `retry` delay
 * notifier written against a scheduler (so retry timing runs in virtual time in tests).
 *
 * delay(n) = min(maxDelay, initialDelay × multiplier^n) × (1 + jitter × (2r − 1)),  r ∈ [0, 1)
 *
 * With the default jitter of 0.25 each wait is spread uniformly over ±25 % of the capped
 * exponential value — the same jitter rivven-client uses — so a single wait is never more than
 * 1.25 × maxDelay and never less than 0.75 × the exponential value. Spreading the waits keeps
 * many clients that failed together from retrying together.
 */
import { type Observable, timer, type SchedulerLike } from 'rxjs';

export interface BackoffPolicy {
  /** First delay, in milliseconds. */
  readonly initialDelay: number;
  /** Cap on the exponential part, in milliseconds. */
  readonly maxDelay: number;
  /** Growth factor per retry, ≥ 1. */
  readonly multiplier: number;
  /** Jitter as a fraction of the delay, 0..1 (0.25 = ±25 %); 0 makes the delays exact. */
  readonly jitter: number;
}

/** A uniform random number in [0, 1). Injectable for tests. */
export type RandomSource = () => number;

/** The capped exponential delay before retry number `retry` (0-based), without jitter. */
export function exponentialDelay(retry: number, policy: Pick<BackoffPolicy, 'initialDelay' | 'maxDelay' | 'multiplier'>): number {
  if (retry <= 0) return Math.min(policy.initialDelay, policy.maxDelay);
  // Grow step by step and stop at the cap, so huge retry counts never overflow to Infinity/NaN.
  let delay = policy.initialDelay;
  for (let i = 0; i < retry && delay < policy.maxDelay; i++) delay *= policy.multiplier;
  return Math.min(delay, policy.maxDelay);
}

/** The delay before retry number `retry` (0-based), with jitter, in whole milliseconds. */
export function backoffDelay(retry: number, policy: BackoffPolicy, random: RandomSource = Math.random): number {
  const base = exponentialDelay(retry, policy);
  const r = Math.min(Math.max(random(), 0), 1);
  const jittered = base * (1 + policy.jitter * (2 * r - 1));
  return Math.max(0, Math.round(jittered));
}

/** The inclusive range every delay before retry `retry` falls in. */
export function backoffBounds(retry: number, policy: BackoffPolicy): { min: number; max: number } {
  const base = exponentialDelay(retry, policy);
  return { min: Math.max(0, Math.round(base * (1 - policy.jitter))), max: Math.round(base * (1 + policy.jitter)) };
}

/**
 * A `retry({ delay })` notifier: waits `backoffDelay(retryCount − 1)` on `scheduler`. Use it as
 * `source.pipe(retry({ count, delay: backoffNotifier(policy, scheduler) }))`.
 */
export function backoffNotifier(
  policy: BackoffPolicy,
  scheduler: SchedulerLike,
  random: RandomSource = Math.random,
): (error: unknown, retryCount: number) => Observable<0> {
  return (_error, retryCount) => timer(backoffDelay(retryCount - 1, policy, random), scheduler);
}
