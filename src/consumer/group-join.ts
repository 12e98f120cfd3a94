/**
 * The join/sync part of a group round: JoinGroup (our member id and generation, the readiness
 * marker members put in their subscriptions), the leader's wait for ready members and its
 * assignment, the follower's wait for a stable group (`awaitStable$`), SyncGroup.
 * group-coordinator.ts runs the rounds; this holds who we are in the group. Its neighbours:
 * group-watch.ts ends a stable generation (heartbeats, our watches), group-revoke.ts gives
 * partitions up, kept-membership.ts carries each request through a dropped connection.
 */
import { EMPTY, catchError, concatMap, exhaustMap, filter, firstValueFrom, map, merge, of, take, takeUntil, throwError, timer, type Observable, type SchedulerLike } from 'rxjs';
import type { GroupAssignments, HeartbeatResult, JoinGroupResult } from '../client/client-types.js';
import { ServerError } from '../errors.js';
import { toGroupAssignments } from './assignors.js';
import type { GroupHost, GroupPartition, GroupSession } from './group-host.js';
import { rejoinReasonOf, type RejoinReason } from './group-watch.js';
import type { KeptRequest } from './kept-membership.js';

/** How often a follower asks whether the leader has assigned yet. */
const FOLLOWER_POLL_MS = 100;
/** How often the leader re-reads the member list while members finish revoking. */
const LEADER_POLL_MS = 100;
/**
 * The first generation of a new group waits this long for more members (Kafka's
 * group.initial.rebalance.delay), so members started together share the first assignment instead
 * of the first one taking everything and revoking it again a moment later.
 */
const INITIAL_REBALANCE_DELAY_MS = 500;
/** JoinGroups in a row to say "ready" while the generation keeps moving. */
const MAX_READY_JOINS = 5;

/** A member and what its JoinGroup subscriptions say. */
interface Member {
  memberId: string;
  topics: string[];
  ready: boolean;
}

/**
 * The group became Stable in the generation we joined before we said (again) that we are ready:
 * the leader has synced, so there is an assignment to take and no JoinGroup to send — one would
 * start another rebalance (rivvend bumps the generation of a Stable group on any JoinGroup).
 */
interface Settled {
  settledIn: JoinGroupResult;
}

export type Negotiated = { join: JoinGroupResult; assignment: [string, number[]][] } | RejoinReason | 'STOPPED';

export class GroupJoin<S extends GroupSession, P extends GroupPartition> {
  private memberIdValue = '';
  /** Generation of our last JoinGroup answer (heartbeats while revoking use it). */
  private joinedGenerationValue = -1;
  /** Member and generation of the last "joined" line (JoinGroup repeats while a round settles: log changes only). */
  private loggedJoin = '';

  constructor(private readonly host: Pick<GroupHost<S, P>, 'config' | 'sleep' | 'log'>) {}

  /** Member id the coordinator gave us ('' before joining, after leaving, or in static mode). */
  get memberId(): string {
    return this.memberIdValue;
  }

  get joinedGeneration(): number {
    return this.joinedGenerationValue;
  }

  /** Join as a new member next time (the coordinator no longer knows this id, or kill()). */
  forgetMemberId(): void {
    this.memberIdValue = '';
  }

  /** We left the group: a later join is a new member and logs its "joined" line again. */
  left(): void {
    this.memberIdValue = '';
    this.loggedJoin = '';
  }

  /**
   * JoinGroup through `send`: group-coordinator.ts sends every request of a round as the same
   * member over whatever coordinator connection is current (kept-membership.ts),
   * so a dropped connection repeats the request that was cut instead of starting the round over.
   */
  async join(send: KeptRequest, readyFor: number | undefined): Promise<JoinGroupResult>;
  /** ...unless the group has settled in the generation of `unlessSettled` (checked with a heartbeat first, on every attempt). */
  async join(send: KeptRequest, readyFor: number | undefined, unlessSettled: JoinGroupResult): Promise<JoinGroupResult | Settled>;
  async join(send: KeptRequest, readyFor: number | undefined, unlessSettled?: JoinGroupResult): Promise<JoinGroupResult | Settled> {
    const { config } = this.host;
    const answer = await firstValueFrom(
      send((client): Observable<JoinGroupResult | Settled> => {
        const join$ = client.joinGroup$(config.groupId, this.memberIdValue, {
          sessionTimeoutMs: config.sessionTimeoutMs,
          rebalanceTimeoutMs: config.rebalanceTimeoutMs,
          subscriptions: joinSubscriptions(config.topics, readyFor),
        });
        if (unlessSettled === undefined) return join$;
        // Heartbeat and JoinGroup are one request for keptMembership: a JoinGroup cut by a dropped
        // connection is repeated only after the group is seen still rebalancing.
        return client.heartbeat$(config.groupId, unlessSettled.generationId, unlessSettled.memberId).pipe(
          // A newer generation or a forgotten member: joining is the answer.
          catchError((error: unknown) => (rejoinReasonOf(error) === undefined ? throwError(() => error) : of(undefined))),
          concatMap((beat) => (beat !== undefined && beat.errorCode === 0 && !beat.rebalanceInProgress ? of({ settledIn: unlessSettled }) : join$)),
        );
      }),
    );
    if ('settledIn' in answer) return answer;
    const result = answer;
    this.memberIdValue = result.memberId;
    this.joinedGenerationValue = result.generationId;
    const joined = `${result.memberId}/${result.generationId}`;
    if (joined !== this.loggedJoin) {
      this.loggedJoin = joined;
      this.host.log.info('joined the group', { memberId: result.memberId, generation: result.generationId, leader: result.isLeader, members: result.members.length });
    }
    return result;
  }

  /** Steps 3 and 4 of a round (see GroupCoordinator): the assignment of this member, or why to start over. */
  async negotiate(session: S, send: KeptRequest, first: JoinGroupResult): Promise<Negotiated> {
    const { config } = this.host;
    const deadline = config.scheduler.now() + config.rebalanceTimeoutMs;
    const heartbeat$ = (j: JoinGroupResult): Observable<HeartbeatResult> => send((client) => client.heartbeat$(config.groupId, j.generationId, j.memberId));
    const syncAsFollower = async (j: JoinGroupResult): Promise<Negotiated> => ({
      join: j,
      assignment: await firstValueFrom(send((client) => client.syncGroup$(config.groupId, j.generationId, j.memberId, []))),
    });
    let ready = await this.joinReady(send, first);
    if ('settledIn' in ready) return syncAsFollower(ready.settledIn);
    let join = ready;
    for (;;) {
      if (session.stopped) return 'STOPPED';
      if (join.isLeader) {
        const ready = await this.awaitReadyMembers(session, send, join, deadline);
        if (ready === 'STOPPED') return 'STOPPED';
        if ('settledIn' in ready) return syncAsFollower(ready.settledIn);
        join = ready.join;
        if (!join.isLeader) continue;
        const assignments = await this.computeAssignments(send, ready.members);
        const leader = join;
        return { join, assignment: await firstValueFrom(send((client) => client.syncGroup$(config.groupId, leader.generationId, leader.memberId, assignments))) };
      }
      const remaining = Math.max(1, deadline - config.scheduler.now());
      const current = join;
      const outcome = await firstValueFrom(
        awaitStable$(() => heartbeat$(current), FOLLOWER_POLL_MS, remaining, config.scheduler, config.heartbeatIntervalMs).pipe(takeUntil(session.stop$)),
        { defaultValue: 'STOPPED' as const },
      );
      if (outcome === 'STOPPED') return 'STOPPED';
      if (outcome === 'RECHECK') {
        // Still rebalancing after a heartbeat interval: is the leader gone (and are we the leader now)?
        ready = await this.joinReady(send, join);
        if ('settledIn' in ready) return syncAsFollower(ready.settledIn);
        join = ready;
        continue;
      }
      if (outcome !== 'STABLE') return outcome;
      return syncAsFollower(current);
    }
  }

  /** Partition count of each topic (0 if it does not exist yet); requests go out together. */
  async partitionCounts(send: KeptRequest, topics: readonly string[]): Promise<Map<string, number>> {
    const counts = await Promise.all(
      topics.map(async (topic) => {
        try {
          return (await firstValueFrom(send((client) => client.getMetadata$(topic)))).partitions;
        } catch (error) {
          if (!(error instanceof ServerError)) throw error;
          return 0;
        }
      }),
    );
    return new Map(topics.map((topic, i) => [topic, counts[i]!]));
  }

  /** Our subscribed topics have at least as many partitions as the group (as we saw it) has members. */
  async wasLeftOut(send: KeptRequest, members: [string, string[]][]): Promise<boolean> {
    let total = 0;
    for (const n of (await this.partitionCounts(send, this.host.config.topics)).values()) total += n;
    return total > 0 && total >= Math.max(1, members.length);
  }

  /**
   * Say we are ready for the generation of `join`; again while the generation moves on. Unless the
   * group has settled in that generation meanwhile (a heartbeat asks first): then take its assignment.
   */
  private async joinReady(send: KeptRequest, join: JoinGroupResult): Promise<JoinGroupResult | Settled> {
    for (let i = 0; i < MAX_READY_JOINS; i++) {
      const next = await this.join(send, join.generationId, join);
      if ('settledIn' in next) return next;
      if (next.generationId === join.generationId) {
        this.host.log.debug('told the group it is ready for the generation', { memberId: next.memberId, generation: next.generationId });
        return next;
      }
      join = next;
    }
    return join;
  }

  /** As leader: re-read the member list until every member is ready for the generation (or the deadline). */
  private async awaitReadyMembers(session: S, send: KeptRequest, join: JoinGroupResult, deadline: number): Promise<{ join: JoinGroupResult; members: Member[] } | Settled | 'STOPPED'> {
    const { config } = this.host;
    // A new group: give members started together a moment to join the first generation.
    const initialUntil = join.generationId === 0 && join.members.length === 1 ? config.scheduler.now() + INITIAL_REBALANCE_DELAY_MS : 0;
    for (;;) {
      const generationId = join.generationId;
      const members = join.members.map(([memberId, subscriptions]): Member => {
        const { topics, readiness } = parseSubscriptions(subscriptions);
        return { memberId, topics, ready: memberId === join.memberId || isReadyFor(readiness, generationId) };
      });
      const now = config.scheduler.now();
      if (now >= deadline) return { join, members: members.filter((m) => m.ready) };
      if (members.every((m) => m.ready) && now >= initialUntil) return { join, members };
      await this.host.sleep(session, LEADER_POLL_MS);
      if (session.stopped) return 'STOPPED';
      const next = await this.joinReady(send, join);
      if ('settledIn' in next) return next;
      join = next;
      if (!join.isLeader) return { join, members: [] };
    }
  }

  private async computeAssignments(send: KeptRequest, members: Member[]): Promise<GroupAssignments> {
    // A subscribed topic that does not exist yet counts 0 partitions.
    const counts = await this.partitionCounts(send, [...new Set(members.flatMap((m) => m.topics))]);
    const plan = this.host.config.assignor.assign(
      members.map(({ memberId, topics }) => ({ memberId, topics })),
      counts,
    );
    return toGroupAssignments(plan);
  }
}

// ---- the follower's wait ---------------------------------------------------------------------------

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

// ---- readiness markers -----------------------------------------------------------------------------

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
