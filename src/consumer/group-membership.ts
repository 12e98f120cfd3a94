/**
 * Group membership timing, written against a scheduler: the heartbeat loop (emits once, the
 * reason to rejoin, when the coordinator says so — REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION,
 * UNKNOWN_MEMBER_ID — then completes; heartbeats never overlap), the follower's wait for the
 * leader, and the readiness marker members put in their JoinGroup subscriptions.
 */
import { EMPTY, Observable, catchError, exhaustMap, filter, map, merge, of, take, throwError, timer, type SchedulerLike } from 'rxjs';
import type { HeartbeatResult } from '../client/client-types.js';
import { REBALANCE_IN_PROGRESS_CODE } from '../client/operations.js';
import { ServerError } from '../errors.js';

// The code is defined once, where heartbeat replies are decoded.
export { REBALANCE_IN_PROGRESS_CODE };

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

/**
 * A follower's wait for the leader's assignment. rivvend's SyncGroup barrier is replaced whenever a
 * member (re)joins, which can strand a follower blocked in SyncGroup until its session expires; so
 * followers poll with heartbeats (which also keep the session alive) until the group is stable,
 * then SyncGroup answers at once. Emits 'STABLE' or a rejoin reason (also on `timeoutMs`).
 *
 * With `recheckMs`, emits 'RECHECK' once that long passed without the group becoming stable: when
 * the leader dies mid-rebalance, rivvend names a new leader (any member) when its session expires
 * and tells no one — heartbeats keep answering REBALANCE_IN_PROGRESS — so a waiting follower must
 * join again now and then to learn whether it leads now.
 */
export function awaitStable$(
  heartbeat$: () => Observable<HeartbeatResult>,
  pollMs: number,
  timeoutMs: number,
  scheduler: SchedulerLike,
  recheckMs?: number,
): Observable<RejoinReason | 'STABLE' | 'RECHECK'> {
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
    recheckMs !== undefined && recheckMs < timeoutMs ? timer(recheckMs, scheduler).pipe(map(() => 'RECHECK' as const)) : EMPTY,
  ).pipe(take(1));
}

/**
 * Readiness, carried in JoinGroup subscriptions. rivvend answers JoinGroup at once instead of
 * holding it until every member has rejoined (Kafka's barrier), so the leader cannot tell from the
 * member list who is still finishing the records of its revoked partitions. Each rivvend-rx
 * member therefore adds one entry to its subscriptions: `rivven-rx:revoking` while it still holds
 * partitions of the last generation, `rivven-rx:ready-for-generation:<n>` once it has committed
 * and given them up; the leader assigns when every member says it is ready for the current
 * generation. The ':' makes the entries invalid topic names, so they never match a topic (a leader
 * of another client asks for their metadata, fails, and skips them). Members without an entry
 * (other clients) are not waited for.
 */
const MARKER_PREFIX = 'rivven-rx:';
const READY_PREFIX = `${MARKER_PREFIX}ready-for-generation:`;
const REVOKING_MARKER = `${MARKER_PREFIX}revoking`;

/** Subscriptions for JoinGroup: the topics and our readiness (`readyFor` undefined: still revoking). */
export function joinSubscriptions(topics: readonly string[], readyFor: number | undefined): string[] {
  return [...topics, readyFor === undefined ? REVOKING_MARKER : `${READY_PREFIX}${readyFor}`];
}

export type MemberReadiness = { kind: 'ready'; generationId: number } | { kind: 'revoking' } | { kind: 'foreign' };

/** A member's topics (markers removed) and readiness, from its JoinGroup subscriptions. */
export function parseSubscriptions(subscriptions: readonly string[]): { topics: string[]; readiness: MemberReadiness } {
  let readiness: MemberReadiness = { kind: 'foreign' };
  const topics: string[] = [];
  for (const entry of subscriptions) {
    if (!entry.startsWith(MARKER_PREFIX)) topics.push(entry);
    else if (entry === REVOKING_MARKER) readiness = { kind: 'revoking' };
    else if (entry.startsWith(READY_PREFIX)) {
      const generationId = Number(entry.slice(READY_PREFIX.length));
      readiness = Number.isSafeInteger(generationId) ? { kind: 'ready', generationId } : { kind: 'revoking' };
    }
  }
  return { topics, readiness };
}

/** Has this member finished revoking for `generationId` (other clients' members always count as ready)? */
export function isReadyFor(readiness: MemberReadiness, generationId: number): boolean {
  return readiness.kind === 'foreign' || (readiness.kind === 'ready' && readiness.generationId === generationId);
}
