/**
 * What `close({ timeoutMs })` does with the records still waiting when its bound runs out: each gets
 * an outcome that says what is known of it — never sent (`ClosedError`: not stored), or sent and
 * never answered (`UnknownOutcomeError`: it may be stored; the message says how many) — and one
 * warning says how many of each.
 */
import { ClosedError, UnknownOutcomeError } from '../errors.js';
import type { Log } from '../observability/log.js';
import type { PendingRecord } from './producer-record.js';

export function failUnsettled(
  waiting: readonly PendingRecord[],
  timeoutMs: number,
  lastFailure: unknown,
  settle: (entry: PendingRecord, error: unknown) => void,
  log: Log,
): void {
  if (waiting.length === 0) return;
  const sent = waiting.filter((entry) => entry.batched).length;
  const notSent = waiting.length - sent;
  const unknown = new UnknownOutcomeError(
    `the producer closed after close({ timeoutMs: ${timeoutMs} }) before the broker answered for ${sent} sent record(s): they may or may not be stored (read the partition, or let consumers drop duplicates)`,
    lastFailure === undefined ? undefined : { cause: lastFailure },
  );
  const dropped = new ClosedError(`the producer closed after close({ timeoutMs: ${timeoutMs} }) before ${notSent} accepted record(s) could be sent: they were not stored`);
  for (const entry of waiting) {
    // Not yet handed to the broker: withdrawn, so its batch skips it.
    if (!entry.batched) entry.cancelled = true;
    settle(entry, entry.batched ? unknown : dropped);
  }
  if (log.enabled('warn')) log.warn(`closed with ${sent} record(s) of unknown outcome and ${notSent} never sent`, { unknown: sent, notSent });
}
