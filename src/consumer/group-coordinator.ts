/**
 * Group coordination for a `Consumer` subscribed to `topics`: join, (as leader) assign, sync,
 * heartbeat, rebalance, leave. The consumer creates one and hands it a narrow host (group-host.ts):
 * the coordinator connection, its partition states, assignPartitions, health and rebalance events,
 * the scheduler and config. Fetching and acknowledgement stay with the consumer.
 *
 * This file runs the rounds and the stable phase and leaves; a round's JoinGroup/SyncGroup
 * exchange is group-join.ts, what ends a stable generation (heartbeats, our watches) is
 * group-watch.ts, giving partitions up is group-revoke.ts, and how each request survives a dropped
 * coordinator connection is kept-membership.ts.
 */
import { concatMap, defer, firstValueFrom, merge, take, takeUntil } from 'rxjs';
import type { Client } from '../client/client.js';
import type { JoinGroupResult } from '../client/client-types.js';
import { ConnectionError } from '../errors.js';
import type { RevokeReason, TopicPartition } from './consumer-record.js';
import type { GroupHost, GroupPartition, GroupSession } from './group-host.js';
import { GroupJoin } from './group-join.js';
import { GroupRevoke } from './group-revoke.js';
import { heartbeatLoop$, partitionCountWatch$, pollWatchdog$, rejoinReasonOf, type RejoinReason, type WatchReason } from './group-watch.js';
import { keptMembership, type KeptRequest } from './kept-membership.js';

/** First heartbeat of a generation: soon, to catch members that joined just after it was formed. */
const EARLY_HEARTBEAT_MS = 250;
/** Rejoins in a row after receiving nothing while partitions were there to share. */
const MAX_LEFT_OUT_REJOINS = 5;

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
  private generationIdValue = -1;
  /** Called on the next acknowledgement (while out of the group for maxPollIntervalMs). */
  private ackWaiter: (() => void) | undefined;
  private readonly joining: GroupJoin<S, P>;
  private readonly revoking: GroupRevoke<S, P>;

  constructor(private readonly host: GroupHost<S, P>) {
    this.joining = new GroupJoin(host);
    this.revoking = new GroupRevoke(host, this.joining, () => this.generationIdValue);
  }

  /** Member id the coordinator gave us ('' before joining or in static mode). */
  get memberId(): string {
    return this.joining.memberId;
  }

  get generationId(): number {
    return this.generationIdValue;
  }

  /** Forget the membership without leaving (kill(): the group notices after the session timeout). */
  forget(): void {
    this.joining.forgetMemberId();
  }

  /** The consumer calls this on every acknowledgement (before it records the acknowledged offset). */
  onAck(): void {
    const waiter = this.ackWaiter;
    if (waiter !== undefined) {
      this.ackWaiter = undefined;
      waiter();
    }
    this.revoking.noteAck();
  }

  async run(session: S): Promise<void> {
    const host = this.host;
    const config = host.config;
    // 'connecting' until a coordinator connection is made, then 'joining'.
    host.updateHealth({ state: 'connecting' });
    let failures = 0;
    let leftOut = 0;
    while (!session.stopped) {
      let reason: RejoinReason | WatchReason | 'STOPPED' | undefined;
      /** The error that ended the round, when it was not the coordinator asking for a rejoin (for the log line). */
      let failedWith: string | undefined;
      /** The round could not get a coordinator connection at all (no broker answers). */
      let unreachable = true;
      try {
        const client = await host.coordinator();
        unreachable = false;
        if (host.health().state === 'connecting') host.updateHealth({ state: 'joining' });
        // Every request of the round and of the generation it forms goes as the same member over the
        // current coordinator connection: a cut one is repeated, not the round (keptMembership says why).
        const send = this.keptMembership(session, client);
        // A new member's JoinGroup is the exception, sent once: repeating a cut one without the member
        // id its lost answer carried would add a second member, which the leader would wait for.
        const firstSend: KeptRequest = this.joining.memberId === '' ? (request) => request(client) : send;
        // Partition counts as of before joining: whatever the leader assigns is at least this, so a
        // later difference means partitions no one was given (at worst one needless rebalance).
        const [baseline, first] = await Promise.all([this.joining.partitionCounts(send, config.topics), this.joining.join(firstSend, undefined)]);
        await this.revoking.finish(session, () => send((c) => c.heartbeat$(config.groupId, first.generationId, first.memberId)));
        if (session.stopped) break;
        const negotiated = await this.joining.negotiate(session, send, first);
        if (negotiated === 'STOPPED') break;
        if (typeof negotiated === 'string') {
          reason = negotiated;
        } else {
          const { join, assignment } = negotiated;
          if (assignment.every(([, parts]) => parts.length === 0) && leftOut < MAX_LEFT_OUT_REJOINS && (await this.joining.wasLeftOut(send, join.members))) {
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
          const tps: TopicPartition[] = assignment.flatMap(([topic, parts]) => parts.map((partition) => ({ topic, partition })));
          await host.assignPartitions(session, tps, { generationId: join.generationId, memberId: join.memberId, isLeader: join.isLeader });
          failures = 0;
          host.updateHealth({ state: 'stable' });
          reason = await this.stableUntilRejoin(session, send, join, baseline);
        }
      } catch (error) {
        if (session.stopped) break;
        reason = rejoinReasonOf(error);
        if (reason === undefined) {
          const wait = host.retrier.next(error, ++failures);
          if (wait === undefined) throw error;
          failedWith = error instanceof Error ? error.message : String(error);
          if (error instanceof ConnectionError) host.dropCoordinator();
          await host.sleep(session, wait);
        }
      }
      if (reason === 'STOPPED' || session.stopped) break;
      if (reason === 'MAX_POLL_INTERVAL_EXCEEDED') {
        await this.leaveUntilDownstreamAcks(session);
        continue;
      }
      if (reason === undefined && unreachable && host.partitions().length === 0) {
        // No broker answered and nothing is owned: connecting, not rebalancing (the warning says so).
        host.updateHealth({ state: 'connecting' });
        continue;
      }
      host.log.info('rebalancing', { memberId: this.joining.memberId, generation: this.generationIdValue, reason: reason ?? 'ERROR', ...(failedWith === undefined ? {} : { error: failedWith }) });
      host.updateHealth({ state: 'rebalancing', ...(reason === 'METADATA_CHANGED' ? { metadataRebalances: host.health().metadataRebalances + 1 } : {}) });
      // Stop emitting at once; the records given out are waited for after the next JoinGroup.
      this.revoking.begin(reason === 'METADATA_CHANGED' ? 'metadataChanged' : 'rebalance');
      if (reason === 'UNKNOWN_MEMBER_ID' || reason === 'UNKNOWN_GROUP') this.joining.forgetMemberId();
    }
  }

  /**
   * Revoke everything owned (close, unsubscribe, or maxPollIntervalMs): stop emitting, tell
   * listeners, wait for downstream to acknowledge what it was given (not for 'maxPollIntervalExceeded':
   * downstream is stuck), commit, give the partitions up.
   */
  revokeAll(reason: RevokeReason, session?: S): Promise<void> {
    return this.revoking.all(reason, session);
  }

  /** Leave the group (no-op in static mode or when not a member). */
  async leave(): Promise<void> {
    if (this.host.config.assign !== undefined || this.joining.memberId === '') return;
    const memberId = this.joining.memberId;
    this.joining.left();
    try {
      const client = await this.host.coordinator();
      await firstValueFrom(client.leaveGroup$(this.host.config.groupId, memberId), { defaultValue: undefined });
      this.host.log.info('left the group', { memberId, generation: this.generationIdValue });
    } catch {
      // Leaving is a courtesy: the session timeout removes us anyway.
    }
  }

  /**
   * Requests as this member over the current coordinator connection, repeated over a new one when
   * the connection drops (until sessionTimeoutMs passes without an answer). One per round: the
   * round's requests and the stable phase's heartbeats share the "last answered" clock.
   */
  private keptMembership(session: S, joinedOver: Client): KeptRequest {
    const host = this.host;
    const config = host.config;
    return keptMembership(
      {
        coordinator: () => host.coordinator(),
        dropCoordinator: () => host.dropCoordinator(),
        retrier: host.retrier,
        sessionTimeoutMs: config.sessionTimeoutMs,
        stopped: () => session.stopped,
        unreachable: (error, failures) => {
          host.noteError(error);
          if (failures === 1) {
            host.log.warn('lost the group coordinator connection: reconnecting to go on as the same member (no rejoin; owned partitions stay owned)', {
              memberId: this.joining.memberId,
              generation: this.joining.joinedGeneration,
              sessionTimeoutMs: config.sessionTimeoutMs,
              error: error instanceof Error ? error.message : String(error),
            });
          }
        },
        reconnected: (downMs) => {
          host.log.info('the group coordinator answered over a new connection: membership and partitions kept', {
            memberId: this.joining.memberId,
            generation: this.joining.joinedGeneration,
            downMs,
          });
          host.updateHealth({ coordinatorReconnects: host.health().coordinatorReconnects + 1 });
        },
      },
      joinedOver,
    );
  }

  /**
   * The stable phase of a generation: heartbeats, the maxPollIntervalMs watchdog and the partition
   * count watch, until the first of them gives a reason to rejoin (or the session stops).
   *
   * A dropped coordinator connection is not a reason: the heartbeats reconnect and go on with the
   * same member id and generation (`send`, from keptMembership), so partitions stay owned and
   * fetching goes on; only the coordinator's answer (or sessionTimeoutMs without any answer) ends
   * the generation.
   */
  private stableUntilRejoin(session: S, send: KeptRequest, join: JoinGroupResult, baseline: Map<string, number>): Promise<RejoinReason | WatchReason | 'STOPPED'> {
    const host = this.host;
    const config = host.config;
    const heartbeat$ = () => send((c) => c.heartbeat$(config.groupId, join.generationId, join.memberId));
    // Partition counts over whatever coordinator connection is current (a failed read is skipped, not repeated).
    const counts$ = () => defer(async () => this.joining.partitionCounts((request) => defer(() => host.coordinator()).pipe(concatMap(request)), config.topics));
    return firstValueFrom(
      merge(
        heartbeatLoop$(heartbeat$, config.heartbeatIntervalMs, config.scheduler, Math.min(config.heartbeatIntervalMs, EARLY_HEARTBEAT_MS)),
        pollWatchdog$(host.pollProbe, config.maxPollIntervalMs, config.scheduler),
        partitionCountWatch$(counts$, baseline, config.metadataRefreshIntervalMs, config.scheduler),
      ).pipe(take(1), takeUntil(session.stop$)),
      { defaultValue: 'STOPPED' as const },
    );
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
}
