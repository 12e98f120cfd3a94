/**
 * The producer's contact with the brokers, as its records see it: whether any broker was ever
 * reached, the last failure seen, the one warning when none answers (then counted), and the error
 * an overdue record gets.
 *
 * - Until a broker answers once, a record is due `maxBlockMs` after it was sent: a wrong address
 *   fails fast, with the connection failure (ECONNREFUSED…) as cause (outstanding-records.ts keeps
 *   that deadline until `connected()`).
 * - Once one was reached, a broker that went away is waited for up to `deliveryTimeoutMs` (a restart
 *   costs no send); a record that runs out of it carries the last failure seen.
 */
import { AllServersUnavailableError, RivvenTimeoutError } from '../errors.js';
import type { Log } from '../observability/log.js';
import type { OverdueReason } from './outstanding-records.js';
import type { ProducerHealthFeed } from './producer-health.js';

export interface BrokerContactOptions {
  bootstrapServers: readonly string[];
  maxBlockMs: number;
  deliveryTimeoutMs: number;
  log: Log;
  health: ProducerHealthFeed;
  /** A broker answered for the first time: the first-contact deadline no longer applies. */
  onFirstContact(): void;
}

export class BrokerContact {
  /** Some connection to a broker was opened at least once. */
  private reached = false;
  /** The last failure seen (a connection, a request, a broker answer). */
  lastFailure: unknown;

  constructor(private readonly options: BrokerContactOptions) {}

  /** An attempt failed (it is repeated): remember it as the cause for records that run out of time. */
  failed(error: unknown): void {
    this.lastFailure = error;
  }

  /** No broker answered a round of connection attempts: say it once, then count. */
  unreachable(error: unknown, servers: readonly string[]): void {
    const { health, log } = this.options;
    this.lastFailure = error;
    health.attemptFailed(error);
    const rounds = ++health.counters.unreachableRounds;
    const what = `no broker answers at ${servers.join(', ')}: ${(error as Error).message}`;
    const waits = this.reached
      ? `records wait up to deliveryTimeoutMs (${this.options.deliveryTimeoutMs} ms) for it to come back`
      : `records fail after maxBlockMs (${this.options.maxBlockMs} ms) unless a broker answers (check bootstrapServers and that the broker runs)`;
    if (rounds === 1) log.warn(`${what}; ${waits} (logged once; later rounds are counted in health().unreachableRounds)`, { errorCode: (error as { code?: string }).code ?? 'UNKNOWN' });
    else log.debug(what, { attempt: rounds });
  }

  connected(): void {
    if (this.reached) return;
    this.reached = true;
    this.options.onFirstContact();
  }

  /** Why a record for `topic` failed at its deadline, with the last failure seen as the cause. */
  overdueError(topic: string, reason: OverdueReason): Error {
    const last = this.lastFailure;
    const lastText = last === undefined ? '' : `; last failure: ${(last as Error).message ?? String(last)}`;
    const cause = last === undefined ? undefined : { cause: last };
    if (reason === 'firstContact') {
      return new AllServersUnavailableError(
        `record for ${topic} not sent: no broker of ${this.options.bootstrapServers.join(', ')} could be reached within maxBlockMs (${this.options.maxBlockMs} ms)` +
          (last === undefined ? ' (no connection attempt finished: raise maxBlockMs above connectionTimeoutMs)' : lastText),
        cause,
      );
    }
    return new RivvenTimeoutError(`record for ${topic} not acknowledged within deliveryTimeoutMs (${this.options.deliveryTimeoutMs} ms)${lastText}`, cause);
  }
}
