/**
 * What ends a member's generation while it is stable, written against a scheduler (tests use
 * virtual time). Each watch emits its reason once and completes:
 *
 * - the coordinator's: `heartbeatLoop$` heartbeats until the coordinator answers with a reason to
 *   rejoin (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, UNKNOWN_GROUP:
 *   `rejoinReasonOf`);
 * - ours: `pollWatchdog$`, Kafka's max.poll.interval. A reactive consumer has no poll(); the
 *   equivalent is downstream taking records, which it shows by acknowledging them (that is what
 *   frees fetch credit). When records have been waiting for credit with no acknowledgement for
 *   longer than the interval, the subscriber is stuck and the member should give its partitions to
 *   live members. And `partitionCountWatch$`: subscribed topics' partition counts, re-read every
 *   interval; a change (partitions added, a topic created) needs a rebalance so the new partitions
 *   get owners.
 *
 * Also the revoke's bounded wait for downstream (`drainWait$`, used by group-revoke.ts). How the
 * heartbeats reach the coordinator through a dropped connection is kept-membership.ts; the waits
 * of a round (the leader's, the follower's) are group-join.ts.
 */
import { type Observable, catchError, defer, exhaustMap, expand, filter, map, merge, of, skip, take, throwError, timer, type SchedulerLike } from 'rxjs';
import type { HeartbeatResult } from '../client/client-types.js';
import { REBALANCE_IN_PROGRESS_CODE } from '../client/group-operations.js';
import { ServerError } from '../errors.js';

// ---- the coordinator's: heartbeats ---------------------------------------------------------------

export type RejoinReason = 'REBALANCE_IN_PROGRESS' | 'ILLEGAL_GENERATION' | 'UNKNOWN_MEMBER_ID' | 'UNKNOWN_GROUP';

const REJOIN_CODES = new Set<string>(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'UNKNOWN_GROUP', 'REBALANCE_IN_PROGRESS']);

/**
 * Is this error (from JoinGroup/SyncGroup/Heartbeat) the coordinator asking us to rejoin? rivvend
 * nests the reason (`HEARTBEAT_FAILED: ILLEGAL_GENERATION: expected 1, got 0`), so every code in
 * the message counts, not only the first.
 */
export function rejoinReasonOf(error: unknown): RejoinReason | undefined {
  if (!(error instanceof ServerError)) return undefined;
  const codes = error.serverMessage.match(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g) ?? [];
  return codes.find((code) => REJOIN_CODES.has(code)) as RejoinReason | undefined;
}

/**
 * Heartbeat every `intervalMs` (first one after one interval) until the coordinator asks for a
 * rejoin; emit that reason and complete. Other errors (connection loss) error the stream.
 */
export function heartbeatLoop$(
  heartbeat$: () => Observable<HeartbeatResult>,
  intervalMs: number,
  scheduler: SchedulerLike,
  /** Delay of the first heartbeat (default `intervalMs`). */
  firstMs = intervalMs,
): Observable<RejoinReason> {
  return timer(firstMs, intervalMs, scheduler).pipe(
    exhaustMap(() =>
      heartbeat$().pipe(
        map((result): RejoinReason | undefined =>
          result.rebalanceInProgress || result.errorCode === REBALANCE_IN_PROGRESS_CODE ? 'REBALANCE_IN_PROGRESS' : undefined,
        ),
        catchError((error: unknown) => {
          const reason = rejoinReasonOf(error);
          return reason === undefined ? throwError(() => error) : of(reason);
        }),
      ),
    ),
    filter((reason): reason is RejoinReason => reason !== undefined),
    take(1),
  );
}

// ---- ours: the poll watchdog and partition counts ------------------------------------------------

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
 * How soon a subscribed topic that does not exist is looked for again: after 1 s, then 2 s, 4 s,
 * and every 5 s (never less often than metadataRefreshIntervalMs). A consumer started before its
 * topic is created starts consuming within seconds of the creation, not at the next refresh.
 */
export const MISSING_TOPIC_RECHECK = { initialMs: 1_000, maxMs: 5_000 } as const;

/** Ticks after `initialMs`, then doubling delays up to `maxMs` (1 s, 3 s, 7 s, 12 s, 17 s, …). */
export function backoffTicks$(initialMs: number, maxMs: number, scheduler: SchedulerLike): Observable<unknown> {
  return of(initialMs).pipe(
    expand((delay) => timer(delay, scheduler).pipe(map(() => Math.min(delay * 2, maxMs)))),
    skip(1),
  );
}

/**
 * Re-read the counts every `intervalMs` — and, while a subscribed topic does not exist (count 0 in
 * `baseline`), on MISSING_TOPIC_RECHECK's short backoff too; emit once when they differ from
 * `baseline`. A failed read (connection trouble) is skipped: the next tick tries again.
 */
export function partitionCountWatch$(
  readCounts: () => Observable<PartitionCounts>,
  baseline: PartitionCounts,
  intervalMs: number,
  scheduler: SchedulerLike,
): Observable<'METADATA_CHANGED'> {
  // (An interval as short as the first recheck needs no help.)
  const missing = [...baseline.values()].some((n) => n === 0) && intervalMs > MISSING_TOPIC_RECHECK.initialMs;
  const regular$ = timer(intervalMs, intervalMs, scheduler);
  const ticks$ = missing ? merge(regular$, backoffTicks$(MISSING_TOPIC_RECHECK.initialMs, Math.min(MISSING_TOPIC_RECHECK.maxMs, intervalMs), scheduler)) : regular$;
  return ticks$.pipe(
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
