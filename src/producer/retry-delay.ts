/**
 * The producer's wait between delivery attempts: exponential from `retryBackoffMs`, with ±20 %
 * jitter (as Kafka's producer), and never longer than `retryBackoffMaxMs` — jitter included, so
 * with the default 1,000 ms a broker that is back is noticed within a second. Attempts go on until
 * the records' `deliveryTimeout` (KIP-91); `retries` only caps their number if set.
 */
import { backoffDelay, type RandomSource } from '../client/backoff.js';

/** Spread of each wait (±20 %), so producers that failed together do not retry in step. */
export const RETRY_JITTER = 0.2;

export interface RetryDelaySettings {
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
}

/** The wait before retry number `retry` (0-based), in whole milliseconds, ≤ retryBackoffMaxMs. */
export function retryDelay(retry: number, settings: RetryDelaySettings, random: RandomSource = Math.random): number {
  // The exponential part is capped below the maximum so that the jittered wait stays within it.
  const maxDelay = settings.retryBackoffMaxMs / (1 + RETRY_JITTER);
  const initialDelay = Math.min(settings.retryBackoffMs, maxDelay);
  const delay = backoffDelay(retry, { initialDelay, maxDelay, multiplier: 2, jitter: RETRY_JITTER }, random);
  return Math.min(delay, settings.retryBackoffMaxMs);
}
