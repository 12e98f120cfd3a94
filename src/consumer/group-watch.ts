/**
 * Watches that end a member's generation from our side, written against a scheduler (tests use
 * virtual time). Each emits its reason once and completes:
 *
 * - `pollWatchdog$`: Kafka's max.poll.interval. A reactive consumer has no poll(); the equivalent
 *   is downstream taking records, which it shows by acknowledging them (that is what frees fetch
 *   credit). When records have been waiting for credit with no acknowledgement for longer than the
 *   interval, the subscriber is stuck and the member should give its partitions to live members.
 * - `partitionCountWatch$`: subscribed topics' partition counts, re-read every interval; a change
 *   (partitions added, a topic created) needs a rebalance so the new partitions get owners.
 */
import { type Observable, catchError, defer, exhaustMap, filter, map, merge, of, take, timer, type SchedulerLike } from 'rxjs';

export type WatchReason = 'MAX_POLL_INTERVAL_EXCEEDED' | 'METADATA_CHANGED';

export interface PollProbe {
  /** Records wait for downstream: a partition cannot fetch because downstream has not acknowledged enough. */
  waiting(): boolean;
  /** Acknowledgements so far (of any record): a change means downstream took records. */
  acks(): number;
}

/** How often the watchdog looks: a fifth of the interval (at most every second), so it fires ≤ 20 % early or late. */
export function pollCheckPeriod(maxPollIntervalMs: number): number {
  return Math.max(1, Math.min(1_000, Math.floor(maxPollIntervalMs / 5)));
}

export function pollWatchdog$(probe: PollProbe, maxPollIntervalMs: number, scheduler: SchedulerLike): Observable<'MAX_POLL_INTERVAL_EXCEEDED'> {
  return defer(() => {
    const period = pollCheckPeriod(maxPollIntervalMs);
    // Start of the current wait: the clock runs only while records are waiting, and restarts at
    // the first check that sees new acknowledgements (so it may run up to one period long).
    let since = scheduler.now();
    let acks = probe.acks();
    return timer(period, period, scheduler).pipe(
      map(() => {
        const now = scheduler.now();
        const seen = probe.acks();
        if (!probe.waiting() || seen !== acks) {
          since = now;
          acks = seen;
          return false;
        }
        return now - since > maxPollIntervalMs;
      }),
      filter(Boolean),
      map(() => 'MAX_POLL_INTERVAL_EXCEEDED' as const),
      take(1),
    );
  });
}

/** Topic → partition count (0 for a topic that does not exist). */
export type PartitionCounts = ReadonlyMap<string, number>;

export function sameCounts(a: PartitionCounts, b: PartitionCounts): boolean {
  if (a.size !== b.size) return false;
  for (const [topic, n] of a) if (b.get(topic) !== n) return false;
  return true;
}

/**
 * Re-read the counts every `intervalMs`; emit once when they differ from `baseline`. A failed read
 * (connection trouble) is skipped: the next interval tries again.
 */
export function partitionCountWatch$(
  readCounts: () => Observable<PartitionCounts>,
  baseline: PartitionCounts,
  intervalMs: number,
  scheduler: SchedulerLike,
): Observable<'METADATA_CHANGED'> {
  return timer(intervalMs, intervalMs, scheduler).pipe(
    exhaustMap(() => readCounts().pipe(catchError(() => of(baseline)))),
    filter((counts) => !sameCounts(counts, baseline)),
    map(() => 'METADATA_CHANGED' as const),
    take(1),
  );
}

/** How often a revoke looks whether the records it waits for are acknowledged (besides on every ack). */
export const DRAIN_POLL_MS = 25;

/**
 * A revoke's wait for downstream to acknowledge the records it was given of the revoked partitions
 * (Reactor Kafka's maxDelayRebalance): 'DRAINED' as soon as `drained()` holds — looked at on each
 * `acks$` emission and every `pollMs` — or 'TIMEOUT' after `maxDelayMs`.
 */
export function drainWait$(
  drained: () => boolean,
  acks$: Observable<unknown>,
  maxDelayMs: number,
  scheduler: SchedulerLike,
  pollMs = DRAIN_POLL_MS,
): Observable<'DRAINED' | 'TIMEOUT'> {
  return defer(() => {
    if (drained()) return of('DRAINED' as const);
    return merge(
      merge(acks$, timer(pollMs, pollMs, scheduler)).pipe(
        filter(() => drained()),
        map(() => 'DRAINED' as const),
      ),
      timer(maxDelayMs, scheduler).pipe(map(() => 'TIMEOUT' as const)),
    ).pipe(take(1));
  });
}
