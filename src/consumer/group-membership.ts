/**
 * Group membership timing, written against a scheduler: the heartbeat loop. It emits once, the
 * reason to rejoin, when the coordinator says so (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION,
 * UNKNOWN_MEMBER_ID), then completes. Heartbeats never overlap (a slow one delays the next).
 */
import { Observable, catchError, exhaustMap, filter, map, merge, of, take, throwError, timer, type SchedulerLike } from 'rxjs';
import type { HeartbeatResult } from '../client/client-types.js';
import { ServerError } from '../errors.js';

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
): Observable<RejoinReason> {
  return timer(intervalMs, intervalMs, scheduler).pipe(
    exhaustMap(() =>
      heartbeat$().pipe(
        map((result): RejoinReason | undefined => (result.rebalanceInProgress || result.errorCode === 27 ? 'REBALANCE_IN_PROGRESS' : undefined)),
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

/**
 * A follower's wait for the leader's assignment. rivvend's SyncGroup barrier is replaced whenever a
 * member (re)joins, which can strand a follower blocked in SyncGroup until its session expires; so
 * followers poll with heartbeats (which also keep the session alive) until the group is stable,
 * then SyncGroup answers at once. Emits 'STABLE' or a rejoin reason (also on `timeoutMs`).
 */
export function awaitStable$(
  heartbeat$: () => Observable<HeartbeatResult>,
  pollMs: number,
  timeoutMs: number,
  scheduler: SchedulerLike,
): Observable<RejoinReason | 'STABLE'> {
  return merge(
    timer(0, pollMs, scheduler).pipe(
      exhaustMap(() =>
        heartbeat$().pipe(
          map((result): RejoinReason | 'STABLE' | undefined => (result.errorCode === 0 ? 'STABLE' : undefined)),
          catchError((error: unknown) => {
            const reason = rejoinReasonOf(error);
            return reason === undefined ? throwError(() => error) : of(reason);
          }),
        ),
      ),
      filter((outcome): outcome is RejoinReason | 'STABLE' => outcome !== undefined),
    ),
    timer(timeoutMs, scheduler).pipe(map((): RejoinReason => 'REBALANCE_IN_PROGRESS')),
  ).pipe(take(1));
}
