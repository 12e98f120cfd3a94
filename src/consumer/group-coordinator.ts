/**
 * Group coordination for a `Consumer` subscribed to `topics`: join, (as leader) assign, sync,
 * heartbeat, rebalance, leave. The consumer creates one and hands it a narrow host: the coordinator
 * connection, its partition states, assignPartitions, health and rebalance events, the scheduler
 * and config. Fetching and acknowledgement stay in consumer.ts.
 */
import { EMPTY, Subject, catchError, concatMap, defer, exhaustMap, firstValueFrom, from, ignoreElements, merge, take, takeUntil, timer, type Observable } from 'rxjs';
import type { Client } from '../client/client.js';
import type { GroupAssignments, HeartbeatResult, JoinGroupResult } from '../client/client-types.js';
import { ConnectionError, RivvenError, ServerError } from '../errors.js';
import { toGroupAssignments } from './assignors.js';
import type { Log } from '../observability/log.js';
import type { ResolvedConsumerConfig } from './consumer-config.js';
import type { ConsumerHealth } from './consumer-health.js';
import type { CommittedOffsets, RebalanceEvent, RevokeReason, TopicPartition } from './consumer-record.js';
import { drainWait$, partitionCountWatch$, pollWatchdog$, type PollProbe, type WatchReason } from './group-watch.js';
import {
  awaitStable$,
  heartbeatLoop$,
  isReadyFor,
  joinSubscriptions,
  parseSubscriptions,
  rejoinReasonOf,
  type RejoinReason,
} from './group-membership.js';

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
/** First heartbeat of a generation: soon, to catch members that joined just after it was formed. */
const EARLY_HEARTBEAT_MS = 250;
/** Rejoins in a row after receiving nothing while partitions were there to share. */
const MAX_LEFT_OUT_REJOINS = 5;
/** JoinGroups in a row to say "ready" while the generation keeps moving. */
const MAX_READY_JOINS = 5;

/** What the coordinator reads of a subscription (consumer.ts's Session). */
export interface GroupSession {
  readonly stopped: boolean;
  /** Replays the stop. */
  readonly stop$: Observable<void>;
  /** Downstream: once it is closed (unsubscribed), no acknowledgement will come. */
  readonly subscriber: { readonly closed: boolean };
}

/** What the coordinator reads and changes of a partition the consumer owns (consumer.ts's PartitionState). */
export interface GroupPartition {
  readonly topic: string;
  readonly partition: number;
  /** Next offset after the last record handed downstream in this epoch. */
  readonly delivered: bigint | undefined;
  /** Next offset to commit (highest acknowledged + 1) in this epoch. */
  readonly acked: bigint | undefined;
  /** No more emission (a revoke is under way). */
  emitting: boolean;
  /** Revoked: acks ignored, the fetch loop ends. */
  stopped: boolean;
  /** Wake the partition's fetch loop. */
  signal(): void;
}

export interface AssignmentMeta {
  generationId: number;
  memberId: string;
  isLeader: boolean;
}

/** The parts of the Consumer the coordinator works with. */
export interface GroupHost<S extends GroupSession, P extends GroupPartition> {
  readonly config: ResolvedConsumerConfig;
  readonly pollProbe: PollProbe;
  /** The coordination connection (opened on first use). */
  coordinator(): Promise<Client>;
  /** Forget a failed coordination connection. */
  dropCoordinator(): void;
  /** Partitions owned now. */
  partitions(): P[];
  /** Forget a revoked partition (unless it was replaced meanwhile). */
  release(state: P): void;
  /** Commit the acknowledged offsets of these partitions. */
  commit$(states: P[]): Observable<CommittedOffsets>;
  /** Take these partitions: positions, fetch loops, assignments$, the 'assigned' event. */
  assignPartitions(session: S, tps: TopicPartition[], meta: AssignmentMeta): Promise<void>;
  assignmentsChanged(tps: TopicPartition[]): void;
  rebalance(event: RebalanceEvent): void;
  health(): ConsumerHealth;
  updateHealth(change: Partial<ConsumerHealth>): void;
  /** Acknowledgements so far (also of stale records). */
  ackCount(): number;
  /** Resolves after `ms` on the scheduler, or at once when the session stops. */
  sleep(session: S, ms: number): Promise<void>;
  /** Reconnect delay after `failures` failures in a row. */
  backoff(failures: number): number;
  /** Group life cycle lines (join, sync, rebalance, leave: info). */
  readonly log: Log;
}

/** A member and what its JoinGroup subscriptions say. */
interface Member {
  memberId: string;
  topics: string[];
  ready: boolean;
}

type Negotiated = { join: JoinGroupResult; assignment: [string, number[]][] } | RejoinReason | 'STOPPED';

/**
 * One round, as rivvend 0.0.22 allows it (it answers JoinGroup at once, not when every member has
 * rejoined, and names a new leader silently when one expires):
 *
 * 1. A member that notices a rebalance stops emitting for its partitions and says `revoked`.
 * 2. It joins (marker "revoking"), then waits — heartbeating to keep its session — until downstream
 *    has acknowledged what it was given of those partitions (at most maxDelayRebalanceMs), commits,
 *    gives them up, and joins again saying "ready for generation n".
 * 3. The leader re-reads the member list until every member is ready for the generation (at most
 *    rebalanceTimeoutMs; then it assigns to the ready ones), assigns and syncs. So no partition is
 *    handed on while its last owner still processes records of it.
 * 4. Followers poll with heartbeats until the group is stable, then sync; every heartbeat interval
 *    they join again, to learn whether the leader died and they lead now.
 */
export class GroupCoordinator<S extends GroupSession, P extends GroupPartition> {
  private memberIdValue = '';
  private generationIdValue = -1;
  /** Generation of our last JoinGroup answer (heartbeats while revoking use it). */
  private joinedGeneration = -1;
  /** Called on the next acknowledgement (while out of the group for maxPollIntervalMs). */
  private ackWaiter: (() => void) | undefined;
  /** Acknowledgements, for revokes waiting for downstream. */
  private readonly acks = new Subject<void>();
  /** The revoke being finished (drain, commit, release), if one is. */
  private finishing: Promise<void> | undefined;
  /** Member and generation of the last "joined" line (JoinGroup repeats while a round settles: log changes only). */
  private loggedJoin = '';

  constructor(private readonly host: GroupHost<S, P>) {}

  /** Member id the coordinator gave us ('' before joining or in static mode). */
  get memberId(): string {
    return this.memberIdValue;
  }

  get generationId(): number {
    return this.generationIdValue;
  }

  /** Forget the membership without leaving (kill(): the group notices after the session timeout). */
  forget(): void {
    this.memberIdValue = '';
  }

  /** The consumer calls this on every acknowledgement (before it records the acknowledged offset). */
  onAck(): void {
    const waiter = this.ackWaiter;
    if (waiter !== undefined) {
      this.ackWaiter = undefined;
      waiter();
    }
    // After the caller has updated the partition's acknowledged offset.
    if (this.acks.observed) queueMicrotask(() => this.acks.next());
  }

  async run(session: S): Promise<void> {
    const host = this.host;
    const config = host.config;
    host.updateHealth({ state: 'joining' });
    let failures = 0;
    let leftOut = 0;
    while (!session.stopped) {
      let reason: RejoinReason | WatchReason | 'STOPPED' | undefined;
      try {
        const client = await host.coordinator();
        // Partition counts as of before joining: whatever the leader assigns is at least this, so a
        // later difference means partitions no one was given (at worst one needless rebalance).
        const [baseline, first] = await Promise.all([this.partitionCounts(client, config.topics), this.join(client, undefined)]);
        await this.finishRevoke(session, () => client.heartbeat$(config.groupId, first.generationId, first.memberId));
        if (session.stopped) break;
        const negotiated = await this.negotiate(session, client, first);
        if (negotiated === 'STOPPED') break;
        if (typeof negotiated === 'string') {
          reason = negotiated;
        } else {
          const { join, assignment } = negotiated;
          if (assignment.every(([, parts]) => parts.length === 0) && leftOut < MAX_LEFT_OUT_REJOINS && (await this.wasLeftOut(client, join.members))) {
            // The leader assigned with a member list taken before we joined: we got nothing although
            // there is enough to share. Rejoining starts a new generation.
            leftOut++;
            continue;
          }
          leftOut = 0;
          this.generationIdValue = join.generationId;
          host.log.info('synced with the group: assignment received', {
            memberId: join.memberId,
            generation: join.generationId,
            leader: join.isLeader,
            partitions: assignment.reduce((n, [, parts]) => n + parts.length, 0),
          });
          const tps = assignment.flatMap(([topic, parts]) => parts.map((partition) => ({ topic, partition })));
          await host.assignPartitions(session, tps, { generationId: join.generationId, memberId: join.memberId, isLeader: join.isLeader });
          failures = 0;
          host.updateHealth({ state: 'stable' });
          reason = await firstValueFrom(
            merge(
              heartbeatLoop$(
                () => client.heartbeat$(config.groupId, join.generationId, join.memberId),
                config.heartbeatIntervalMs,
                config.scheduler,
                Math.min(config.heartbeatIntervalMs, EARLY_HEARTBEAT_MS),
              ),
              pollWatchdog$(host.pollProbe, config.maxPollIntervalMs, config.scheduler),
              partitionCountWatch$(() => defer(() => this.partitionCounts(client, config.topics)), baseline, config.metadataRefreshIntervalMs, config.scheduler),
            ).pipe(take(1), takeUntil(session.stop$)),
            { defaultValue: 'STOPPED' as const },
          );
        }
      } catch (error) {
        if (session.stopped) break;
        reason = rejoinReasonOf(error);
        if (reason === undefined) {
          const code = error instanceof ServerError ? error.serverCode : undefined;
          const retriable = code === 'REBALANCE_TIMEOUT' || code === 'INCONSISTENT_GROUP_PROTOCOL' || (error instanceof RivvenError && error.retriable);
          if (!retriable || ++failures >= config.retry.maxAttempts) throw error;
          if (error instanceof ConnectionError) host.dropCoordinator();
          await host.sleep(session, host.backoff(failures));
        }
      }
      if (reason === 'STOPPED' || session.stopped) break;
      if (reason === 'MAX_POLL_INTERVAL_EXCEEDED') {
        await this.leaveUntilDownstreamAcks(session);
        continue;
      }
      host.log.info('rebalancing', { memberId: this.memberIdValue, generation: this.generationIdValue, reason });
      host.updateHealth({ state: 'rebalancing', ...(reason === 'METADATA_CHANGED' ? { metadataRebalances: host.health().metadataRebalances + 1 } : {}) });
      // Stop emitting at once; the records given out are waited for after the next JoinGroup.
      this.beginRevoke(reason === 'METADATA_CHANGED' ? 'metadataChanged' : 'rebalance');
      if (reason === 'UNKNOWN_MEMBER_ID' || reason === 'UNKNOWN_GROUP') this.memberIdValue = '';
    }
  }

  /**
   * Revoke everything owned (close, unsubscribe, or maxPollIntervalMs): stop emitting, tell
   * listeners, wait for downstream to acknowledge what it was given (not for 'maxPollIntervalExceeded':
   * downstream is stuck), commit, give the partitions up.
   */
  async revokeAll(reason: RevokeReason, session?: S): Promise<void> {
    await this.finishing?.catch(() => undefined);
    this.beginRevoke(reason);
    const { config } = this.host;
    const memberId = this.memberIdValue;
    const generationId = this.joinedGeneration;
    const keepAlive =
      config.assign === undefined && memberId !== ''
        ? () => from(this.host.coordinator()).pipe(concatMap((c) => c.heartbeat$(config.groupId, generationId, memberId)))
        : undefined;
    await this.finishRevoke(session, keepAlive, reason !== 'maxPollIntervalExceeded');
  }

  /** Leave the group (no-op in static mode or when not a member). */
  async leave(): Promise<void> {
    if (this.host.config.assign !== undefined || this.memberIdValue === '') return;
    const memberId = this.memberIdValue;
    this.memberIdValue = '';
    this.loggedJoin = '';
    try {
      const client = await this.host.coordinator();
      await firstValueFrom(client.leaveGroup$(this.host.config.groupId, memberId), { defaultValue: undefined });
      this.host.log.info('left the group', { memberId, generation: this.generationIdValue });
    } catch {
      // Leaving is a courtesy: the session timeout removes us anyway.
    }
  }

  // ---- revoking ---------------------------------------------------------------------------------

  /** Stop emitting for every owned partition and announce the revoke (once per revoke). */
  private beginRevoke(reason: RevokeReason): void {
    const states = this.host.partitions().filter((s) => !s.stopped && s.emitting);
    for (const state of states) state.emitting = false;
    if (states.length > 0) {
      this.host.rebalance({
        type: 'revoked',
        partitions: states.map((s) => ({ topic: s.topic, partition: s.partition })),
        generationId: this.generationIdValue,
        reason,
      });
    }
  }

  /** Wait for downstream (bounded), commit, give up every owned partition. */
  private finishRevoke(session: S | undefined, keepAlive: (() => Observable<unknown>) | undefined, drain = true): Promise<void> {
    const states = this.host.partitions();
    if (states.length === 0) return Promise.resolve();
    this.beginRevoke('rebalance');
    const finishing = (async () => {
      if (drain) await this.drain(states, keepAlive, session);
      const host = this.host;
      for (const state of states) {
        state.stopped = true;
        state.signal();
      }
      try {
        await firstValueFrom(host.commit$(states), { defaultValue: undefined });
      } catch {
        // The coordinator may be gone; the new owner re-reads from the last commit (at-least-once).
      }
      for (const state of states) host.release(state);
      host.assignmentsChanged([]);
      host.updateHealth({ assignedPartitions: 0 });
    })();
    const tracked: Promise<void> = finishing.finally(() => {
      if (this.finishing === tracked) this.finishing = undefined;
    });
    this.finishing = tracked;
    return finishing;
  }

  /**
   * Until downstream has acknowledged every record emitted for `states` (or is gone, or
   * maxDelayRebalanceMs passed), heartbeating meanwhile so the coordinator keeps us.
   */
  private async drain(states: P[], keepAlive: (() => Observable<unknown>) | undefined, session: S | undefined): Promise<void> {
    const { config } = this.host;
    // A subscriber that has never acknowledged anything (it forgot to) would only make us wait the full delay.
    if (config.maxDelayRebalanceMs === 0 || this.host.ackCount() === 0) return;
    const subscriber = session?.subscriber;
    // Stopped from elsewhere (kill()): nothing more will be acknowledged.
    const drained = () => (subscriber?.closed ?? false) || states.every((s) => s.stopped || isDrained(s));
    const heartbeats$ =
      keepAlive === undefined
        ? EMPTY
        : timer(config.heartbeatIntervalMs, config.heartbeatIntervalMs, config.scheduler).pipe(
            exhaustMap(() => keepAlive().pipe(catchError(() => EMPTY))),
            ignoreElements(),
          );
    const outcome = await firstValueFrom(merge(drainWait$(drained, this.acks, config.maxDelayRebalanceMs, config.scheduler), heartbeats$).pipe(take(1)));
    if (outcome === 'TIMEOUT') this.host.updateHealth({ rebalanceDrainTimeouts: this.host.health().rebalanceDrainTimeouts + 1 });
  }

  // ---- a round ----------------------------------------------------------------------------------

  private async join(client: Client, readyFor: number | undefined): Promise<JoinGroupResult> {
    const { config } = this.host;
    const result = await firstValueFrom(
      client.joinGroup$(config.groupId, this.memberIdValue, {
        sessionTimeoutMs: config.sessionTimeoutMs,
        rebalanceTimeoutMs: config.rebalanceTimeoutMs,
        subscriptions: joinSubscriptions(config.topics, readyFor),
      }),
    );
    this.memberIdValue = result.memberId;
    this.joinedGeneration = result.generationId;
    const joined = `${result.memberId}/${result.generationId}`;
    if (joined !== this.loggedJoin) {
      this.loggedJoin = joined;
      this.host.log.info('joined the group', { memberId: result.memberId, generation: result.generationId, leader: result.isLeader, members: result.members.length });
    }
    return result;
  }

  /** Say we are ready for the generation of `join`; again while the generation moves on. */
  private async joinReady(client: Client, join: JoinGroupResult): Promise<JoinGroupResult> {
    for (let i = 0; i < MAX_READY_JOINS; i++) {
      const next = await this.join(client, join.generationId);
      if (next.generationId === join.generationId) return next;
      join = next;
    }
    return join;
  }

  /** Steps 3 and 4: the assignment of this member, or why to start over. */
  private async negotiate(session: S, client: Client, first: JoinGroupResult): Promise<Negotiated> {
    const { config } = this.host;
    const deadline = config.scheduler.now() + config.rebalanceTimeoutMs;
    const heartbeat$ = (j: JoinGroupResult): Observable<HeartbeatResult> => client.heartbeat$(config.groupId, j.generationId, j.memberId);
    let join = await this.joinReady(client, first);
    for (;;) {
      if (session.stopped) return 'STOPPED';
      if (join.isLeader) {
        const ready = await this.awaitReadyMembers(session, client, join, deadline);
        if (ready === 'STOPPED') return 'STOPPED';
        join = ready.join;
        if (!join.isLeader) continue;
        const assignments = await this.computeAssignments(client, ready.members);
        return { join, assignment: await firstValueFrom(client.syncGroup$(config.groupId, join.generationId, join.memberId, assignments)) };
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
        join = await this.joinReady(client, join);
        continue;
      }
      if (outcome !== 'STABLE') return outcome;
      return { join, assignment: await firstValueFrom(client.syncGroup$(config.groupId, join.generationId, join.memberId, [])) };
    }
  }

  /** As leader: re-read the member list until every member is ready for the generation (or the deadline). */
  private async awaitReadyMembers(session: S, client: Client, join: JoinGroupResult, deadline: number): Promise<{ join: JoinGroupResult; members: Member[] } | 'STOPPED'> {
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
      join = await this.joinReady(client, join);
      if (!join.isLeader) return { join, members: [] };
    }
  }

  /**
   * Downstream sat on records for longer than maxPollIntervalMs (Kafka's max.poll.interval): give
   * the partitions to live members — commit what was acknowledged, leave the group — and rejoin
   * once downstream acknowledges anything again (a sign it is taking records).
   */
  private async leaveUntilDownstreamAcks(session: S): Promise<void> {
    const host = this.host;
    const health = host.health();
    host.updateHealth({ state: 'left', maxPollIntervalExceeded: health.maxPollIntervalExceeded + 1, lastMaxPollIntervalExceededAt: host.config.scheduler.now() });
    const revoking = this.revokeAll('maxPollIntervalExceeded');
    // Revoked states stop emitting synchronously above: acks from here on are downstream catching up.
    const acksAtRevoke = host.ackCount();
    await revoking;
    await this.leave();
    if (host.ackCount() === acksAtRevoke) {
      await new Promise<void>((resolve) => {
        const stopped = session.stop$.subscribe(() => resolve());
        this.ackWaiter = () => {
          stopped.unsubscribe();
          resolve();
        };
      });
      this.ackWaiter = undefined;
    }
    if (!session.stopped) host.updateHealth({ state: 'joining' });
  }

  /** Partition count of each topic (0 if it does not exist yet); requests go out together. */
  private async partitionCounts(client: Client, topics: readonly string[]): Promise<Map<string, number>> {
    const counts = await Promise.all(
      topics.map(async (topic) => {
        try {
          return (await firstValueFrom(client.getMetadata$(topic))).partitions;
        } catch (error) {
          if (!(error instanceof ServerError)) throw error;
          return 0;
        }
      }),
    );
    return new Map(topics.map((topic, i) => [topic, counts[i]!]));
  }

  /** Our subscribed topics have at least as many partitions as the group (as we saw it) has members. */
  private async wasLeftOut(client: Client, members: [string, string[]][]): Promise<boolean> {
    let total = 0;
    for (const n of (await this.partitionCounts(client, this.host.config.topics)).values()) total += n;
    return total > 0 && total >= Math.max(1, members.length);
  }

  private async computeAssignments(client: Client, members: Member[]): Promise<GroupAssignments> {
    // A subscribed topic that does not exist yet counts 0 partitions.
    const counts = await this.partitionCounts(client, [...new Set(members.flatMap((m) => m.topics))]);
    const plan = this.host.config.assignor.assign(
      members.map(({ memberId, topics }) => ({ memberId, topics })),
      counts,
    );
    return toGroupAssignments(plan);
  }
}

/** Downstream acknowledged every record it was given of this partition in the current epoch. */
function isDrained(state: GroupPartition): boolean {
  return state.delivered === undefined || (state.acked !== undefined && state.acked >= state.delivered);
}
