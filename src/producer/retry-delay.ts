/**
 * The producer's wait between delivery attempts: exponential from `retry.initialDelayMs` by
 * `retry.multiplier`, with ±`retry.jitter` (0.2 by default, as Kafka's producer), and never longer
 * than `retry.maxDelayMs` — jitter included, so with the default 1,000 ms a broker that is back is
 * noticed within a second. Attempts go on until the records' `deliveryTimeoutMs` (KIP-91);
 * `retry.maxAttempts` only caps their number if set.
 */
import { backoffDelay, type RandomSource } from '../client/backoff.js';
import type { ResolvedRetryPolicy } from '../connection-settings.js';

export type RetryDelaySettings = Pick<ResolvedRetryPolicy, 'initialDelayMs' | 'maxDelayMs' | 'multiplier' | 'jitter'>;

/** The wait before retry number `retry` (0-based), in whole milliseconds, ≤ maxDelayMs. */
export function retryDelay(retry: number, settings: RetryDelaySettings, random: RandomSource = Math.random): number {
  // The exponential part is capped below the maximum so that the jittered wait stays within it.
  const maxDelay = settings.maxDelayMs / (1 + settings.jitter);
  const initialDelay = Math.min(settings.initialDelayMs, maxDelay);
  const delay = backoffDelay(retry, { initialDelay, maxDelay, multiplier: settings.multiplier, jitter: settings.jitter }, random);
  return Math.min(delay, settings.maxDelayMs);
}
