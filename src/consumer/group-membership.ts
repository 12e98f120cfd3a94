/**
 * Group membership timing, written against a scheduler: the heartbeat loop (emits once, the
 * reason to rejoin, when the coordinator says so — REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION,
 * UNKNOWN_MEMBER_ID — then completes; heartbeats never overlap), the follower's wait for the
 * leader, and the readiness marker members put in their JoinGroup subscriptions.
 */
import { EMPTY, type Observable, catchError, concatMap, defer, exhaustMap, filter, from, map, merge, of, retry, take, tap, throwError, timer, type SchedulerLike } from 'rxjs';
import type { Client } from '../client/client.js';
import type { HeartbeatResult } from '../client/client-types.js';
import { REBALANCE_IN_PROGRESS_CODE } from '../client/group-operations.js';
import { ConnectionError, ServerError, TimeoutError, isUnreachable } from '../errors.js';
import type { Retrier } from '../client/retrier.js';

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

/** What kept membership needs (group-coordinator.ts gives it the consumer's coordinator lane). */
export interface KeptMembershipHost {
  /** The coordination connection; a failed one is never handed out again (server-lanes.ts), so this reconnects. */
  coordinator(): Promise<Client>;
  /** Forget the coordination connection (a timeout left it in doubt). */
  dropCoordinator(): void;
  /** The consumer's retrier: its waits, and its clock. */
  readonly retrier: Retrier;
  /** The coordinator expires a member after this long without a heartbeat (rivvend `check_timeouts`). */
  readonly sessionTimeoutMs: number;
  /** No retries once the session is stopping. */
  stopped(): boolean;
  /** A request could not reach the coordinator; it is tried again on a new connection. */
  unreachable(error: unknown, failures: number): void;
  /** A request was answered over a connection other than the previous answer's: the membership survived a reconnect. */
  reconnected(downMs: number): void;
}

/** Sends one group request as the same member, over whatever coordinator connection is current. */
export type KeptRequest = <T>(request: (client: Client) => Observable<T>) => Observable<T>;

/**
 * Group requests that keep the membership through a dropped coordinator connection.
 *
 * rivvend 0.0.22 starts a rebalance on ANY JoinGroup to a Stable group, even one that repeats a
 * known member id: `GroupCoordinator::join_group` → `ConsumerGroup::add_member` (rivven-core
 * consumer_group.rs) re-inserts the member and calls `transition_to_preparing_rebalance`, which
 * bumps the generation of a Stable group. A dropped connection, on the other hand, costs the member
 * nothing there: no handler removes members when their connection closes (only LeaveGroup and
 * `check_timeouts`, after sessionTimeoutMs without a heartbeat, do), and Heartbeat and SyncGroup
 * check the member id and generation only — not the connection they arrive on. A SyncGroup
 * repeated for the same generation answers the same assignment (a Stable group answers at once; a
 * leader's repeated assignment is re-applied unchanged). So a member whose connection dropped —
 * in the stable phase or half-way through a round — must NOT start over with a new JoinGroup: it
 * reconnects and repeats the request that was cut, as the same member and generation. The
 * coordinator's answer then says whether to rejoin (UNKNOWN_MEMBER_ID after an expiry,
 * UNKNOWN_GROUP after a broker restart — groups live in memory —, ILLEGAL_GENERATION or
 * REBALANCE_IN_PROGRESS when others rebalanced meanwhile).
 *
 * Each call of the returned function is one request: over the current coordinator connection,
 * retried (reconnecting, with the retry policy's backoff) while the coordinator is unreachable and
 * the last answered request is younger than sessionTimeoutMs. Past that the coordinator, if it is
 * alive, has expired the member (and may have handed its partitions on): the request fails with a
 * ConnectionError saying so, and the coordinator loop rejoins as a new round.
 */
export function keptMembership(
  host: KeptMembershipHost,
  /** The connection the membership was joined over (an answer over another one is a kept reconnect). */
  joinedOver?: Client,
): KeptRequest {
  let previous: Client | undefined = joinedOver;
  const { retrier } = host;
  let answeredAt = retrier.scheduler.now();
  return <T>(request: (client: Client) => Observable<T>): Observable<T> => {
    let failures = 0;
    let downSince: number | undefined;
    return defer(() => from(host.coordinator())).pipe(
      concatMap((client) =>
        request(client).pipe(
          tap(() => {
            const now = retrier.scheduler.now();
            if (previous !== undefined && client !== previous) host.reconnected(downSince === undefined ? 0 : now - downSince);
            previous = client;
            answeredAt = now;
          }),
        ),
      ),
      retry({
        delay: (error: unknown) => {
          if (!isUnreachable(error) || host.stopped()) return throwError(() => error);
          const now = retrier.scheduler.now();
          downSince ??= now;
          const silentMs = now - answeredAt;
          // Bounded by the session, not by a count: past it a live coordinator has expired us.
          failures++;
          const wait = retrier.next(error, failures, { retriable: isUnreachable, maxAttempts: Number.POSITIVE_INFINITY, deadline: answeredAt + host.sessionTimeoutMs });
          if (wait === undefined) {
            return throwError(
              () =>
                new ConnectionError(
                  `no request reached the group coordinator for ${silentMs} ms (sessionTimeoutMs ${host.sessionTimeoutMs}): ` +
                    `a live coordinator has expired this member, so it rejoins as a new member; last error: ${error instanceof Error ? error.message : String(error)}`,
                  { cause: error },
                ),
            );
          }
          host.unreachable(error, failures);
          // A timed-out request leaves its connection in doubt; a broken one is already forgotten by the lanes.
          if (error instanceof TimeoutError || error instanceof ConnectionError) host.dropCoordinator();
          return timer(wait, retrier.scheduler);
        },
      }),
    );
  };
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
