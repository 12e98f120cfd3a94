/**
 * `Consumer`: a reactive consumer. `records$` (and `batches$`) are cold: subscribing joins the group
 * (or takes the static assignment) and starts one fetch loop per assigned partition; the last
 * unsubscribe commits what was acknowledged, leaves the group and stops fetching.
 *
 * Connections: one for group coordination and commits, and up to `fetchConnections` fetch
 * "lanes" (partitions spread over them). rivvend answers one connection's requests strictly in
 * order, so a long-poll Consume holds up everything queued behind it on its connection: fetches
 * never share a connection with heartbeats, and partitions sharing a lane split the long-poll wait.
 *
 * Group membership ends from our side too: when downstream sits on records without acknowledging
 * for maxPollIntervalMs (Kafka's max.poll.interval), or when a subscribed topic's partition count
 * changes (checked every metadataRefreshIntervalMs) — see group-watch.ts.
 *
 * Flow control: a partition holds at most `maxPollRecords` emitted-but-unacknowledged records; it
 * fetches again once acknowledgements bring that under half. So a slow subscriber bounds memory to
 * partitions × maxPollRecords records.
 */
import {
  BehaviorSubject,
  EMPTY,
  Observable,
  ReplaySubject,
  Subject,
  Subscription,
  catchError,
  concatMap,
  defer,
  exhaustMap,
  firstValueFrom,
  forkJoin,
  from,
  interval,
  map,
  merge,
  of,
  share,
  take,
  takeUntil,
  timer,
  type Subscriber,
} from 'rxjs';
import { exponentialDelay } from '../client/backoff.js';
import { Client } from '../client/client.js';
import type { ConsumedRecord, GroupAssignments } from '../client/client-types.js';
import { ConfigError, ConnectionError, RivvenError, ServerError } from '../errors.js';
import { tryDecompressValue, tryDecompressValueSync } from '../protocol/compression.js';
import { toGroupAssignments } from './assignors.js';
import { resolveConsumerConfig, type ConsumerConfig, type ResolvedConsumerConfig } from './consumer-config.js';
import { INITIAL_CONSUMER_HEALTH, type ConsumerHealth } from './consumer-health.js';
import {
  tpKey,
  type CommittedOffsets,
  type ConsumerRecord,
  type RebalanceEvent,
  type RevokeReason,
  type TopicPartition,
  type TopicPartitionOffset,
} from './consumer-record.js';
import { partitionCountWatch$, pollWatchdog$, type PollProbe, type WatchReason } from './group-watch.js';
import { awaitStable$, heartbeatLoop$, rejoinReasonOf, type RejoinReason } from './group-membership.js';

/** Beyond one heartbeat interval: time for a member that noticed the rebalance to commit and rejoin. */
const REBALANCE_SETTLE_MARGIN_MS = 250;
/** Rejoins in a row after receiving nothing while partitions were there to share. */
const MAX_LEFT_OUT_REJOINS = 5;
/** How often a follower asks whether the leader has assigned yet. */
const FOLLOWER_POLL_MS = 100;

class PartitionState {
  /** Next offset to fetch (everything before it was emitted). */
  position: bigint;
  /** Offset credit is counted from (the assignment or the last seek). */
  epochStart: bigint;
  /**
   * End of what was emitted (last emitted offset + 1) in this epoch. Can lag `position`, which also
   * steps over records the broker does not show (transaction markers, aborted records under
   * read_committed): those are never emitted, so they must not count as unacknowledged.
   */
  emittedEnd: bigint;
  epoch = 0;
  /** Next offset to commit (highest acknowledged + 1) in this epoch. */
  acked: bigint | undefined;
  committed: bigint | undefined;
  paused = false;
  /** Next offset after the last record emitted downstream in this epoch (deliveredOffsets()). */
  delivered: bigint | undefined;
  /** rewindToCommitted$ calls under way: nothing is fetched or emitted meanwhile. */
  rewinds = 0;
  /** A rewind could not read the committed offset: hold the partition until a rewind or seek succeeds. */
  rewindFailed = false;
  /** No more emission (a revoke is under way). */
  emitting = true;
  /** Revoked: acks ignored, loop ends. */
  stopped = false;
  wake: (() => void) | undefined;
  /** Fetch connection ('fetch-<lane>') this partition's requests go over. */
  lane: ClientKind = 'fetch-0';
  /** Long-poll wait: fetchMaxWaitMs shared by the partitions of the lane (see assignPartitions). */
  maxWaitMs = 0;

  constructor(
    readonly topic: string,
    readonly partition: number,
    position: bigint,
    committed: bigint | undefined,
  ) {
    this.position = position;
    this.epochStart = position;
    this.emittedEnd = position;
    this.committed = committed;
  }

  /** Fetching is on hold (paused, or a rewind is under way or failed). */
  held(): boolean {
    return this.paused || this.rewinds > 0 || this.rewindFailed;
  }

  /** Start a new epoch at `offset`: records fetched or emitted before are stale (dropped, their acks ignored). */
  restart(offset: bigint): void {
    this.position = offset;
    this.epochStart = offset;
    this.emittedEnd = offset;
    this.epoch++;
    this.acked = undefined;
    this.delivered = undefined;
  }

  /** Records emitted and not acknowledged (by offset span). */
  outstanding(): bigint {
    const floor = this.acked ?? this.epochStart;
    return this.emittedEnd > floor ? this.emittedEnd - floor : 0n;
  }

  signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

class Session {
  stopped = false;
  /** Replays the stop, so waits that start after it end at once. */
  readonly stop$ = new ReplaySubject<void>(1);
  stopPromise: Promise<void> | undefined;
  constructor(readonly subscriber: Subscriber<FetchedBatch>) {}
}

/** The coordination connection, or fetch lane n. */
type ClientKind = 'coordinator' | `fetch-${number}`;

/** Records of one fetch, with the partition state and epoch they were fetched in: live only while both still hold. */
interface FetchedBatch {
  state: PartitionState;
  epoch: number;
  records: ConsumerRecord[];
}

function isLive(state: PartitionState, epoch: number): boolean {
  return state.epoch === epoch && state.emitting && !state.stopped && state.rewinds === 0;
}

export class Consumer {
  private readonly config: ResolvedConsumerConfig;
  private readonly assignmentsSubject = new BehaviorSubject<TopicPartition[]>([]);
  private readonly rebalanceSubject = new Subject<RebalanceEvent>();
  private readonly clients = new Map<ClientKind, Promise<Client>>();
  private readonly partitions = new Map<string, PartitionState>();
  private readonly pendingSeeks = new Map<string, bigint>();
  private readonly pausedKeys = new Set<string>();
  private readonly healthSubject = new BehaviorSubject<ConsumerHealth>(INITIAL_CONSUMER_HEALTH);
  /** Acknowledgements so far, also of stale records (they show downstream is taking records). */
  private ackCount = 0;
  /** Called on the next acknowledgement (while out of the group for maxPollIntervalMs). */
  private ackWaiter: (() => void) | undefined;
  private readonly pollProbe: PollProbe = {
    // Records are waiting for downstream when a partition cannot fetch for lack of credit: downstream
    // holds over half of maxPollRecords unacknowledged. (Not merely "something unacknowledged": a
    // subscriber that filters out the last records without acking them is not stuck.)
    waiting: () => {
      const max = BigInt(this.config.maxPollRecords);
      for (const s of this.partitions.values()) if (!s.stopped && !s.held() && s.outstanding() * 2n > max) return true;
      return false;
    },
    acks: () => this.ackCount,
  };
  private session: Session | undefined;
  private closed = false;
  private memberIdValue = '';
  private generationIdValue = -1;

  /** The partitions this consumer owns right now. */
  readonly assignments$: Observable<TopicPartition[]>;
  /** `revoked` (before partitions are given up; acks made in the handler are still committed) and `assigned` (after). */
  readonly rebalances$: Observable<RebalanceEvent>;
  /** Records in the arrays they were fetched in (one partition each). Cold and shared. */
  readonly batches$: Observable<ConsumerRecord[]>;
  /** Records one by one; in order within a partition. Cold and shared with `batches$`. */
  readonly records$: Observable<ConsumerRecord>;
  /** Group life cycle (state, partitions owned) and departures for maxPollIntervalMs; replays the latest. */
  readonly health$: Observable<ConsumerHealth>;

  private constructor(config: ResolvedConsumerConfig) {
    this.config = config;
    this.assignments$ = this.assignmentsSubject.asObservable();
    this.rebalances$ = this.rebalanceSubject.asObservable();
    this.health$ = this.healthSubject.asObservable();
    const fetched$ = new Observable<FetchedBatch>((subscriber) => {
      if (this.closed) {
        subscriber.error(new ConfigError('consumer', 'this consumer is closed; create a new one'));
        return undefined;
      }
      const session = new Session(subscriber);
      this.session = session;
      void this.run(session);
      return () => {
        void this.stopSession(session);
      };
    }).pipe(share());
    // Stale records (from before a seek, rewind or revoke that happened while a batch was being
    // emitted) are dropped here, at the last moment; emitted ones count for deliveredOffsets().
    // Hand-written rather than mergeMap/filter/tap: this runs per record.
    this.batches$ = new Observable<ConsumerRecord[]>((subscriber) =>
      fetched$.subscribe({
        next: ({ state, epoch, records }) => {
          if (!isLive(state, epoch)) return;
          state.delivered = records[records.length - 1]!.offset + 1n;
          subscriber.next(records);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
    this.records$ = new Observable<ConsumerRecord>((subscriber) =>
      fetched$.subscribe({
        next: ({ state, epoch, records }) => {
          for (const record of records) {
            if (subscriber.closed || !isLive(state, epoch)) return;
            state.delivered = record.offset + 1n;
            subscriber.next(record);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
  }

  /** Validate the configuration (throws ConfigError) and create a consumer; nothing connects until `records$` is subscribed. */
  static create(config: ConsumerConfig): Consumer {
    return new Consumer(resolveConsumerConfig(config));
  }

  get groupId(): string {
    return this.config.groupId;
  }

  /** Member id the coordinator gave us ('' before joining or in static mode). */
  get memberId(): string {
    return this.memberIdValue;
  }

  get generationId(): number {
    return this.generationIdValue;
  }

  /** The latest health$ value. */
  health(): ConsumerHealth {
    return this.healthSubject.value;
  }

  private healthUpdate(change: Partial<ConsumerHealth>): void {
    if (this.healthSubject.closed) return;
    this.healthSubject.next({ ...this.healthSubject.value, ...change });
  }

  private noteAck(): void {
    this.ackCount++;
    const waiter = this.ackWaiter;
    if (waiter !== undefined) {
      this.ackWaiter = undefined;
      waiter();
    }
  }

  // ---- positions ----------------------------------------------------------------------------

  /** Next offset this consumer will fetch from the partition, or undefined if it does not own it. */
  position(topic: string, partition: number): bigint | undefined {
    return this.partitions.get(tpKey(topic, partition))?.position;
  }

  /**
   * Continue from `offset`. Takes effect at once: no record fetched before the call is emitted
   * afterwards (also not one whose fetch was in flight), and acks of earlier records are ignored.
   * Applies at assignment if the partition is not owned yet.
   */
  seek(topic: string, partition: number, offset: bigint): void {
    if (typeof offset !== 'bigint' || offset < 0n) throw new ConfigError('offset', `expected a bigint ≥ 0, got ${String(offset)}`);
    const state = this.partitions.get(tpKey(topic, partition));
    if (state === undefined || state.stopped) {
      this.pendingSeeks.set(tpKey(topic, partition), offset);
      return;
    }
    state.restart(offset);
    state.rewindFailed = false;
    state.signal();
  }

  /**
   * Per owned partition: the offset after the last record emitted downstream (by records$ or
   * batches$) since the partition was assigned or last seeked/rewound. Partitions with nothing
   * emitted since then are left out. A record counts from the moment it is handed to the
   * subscriber's `next`, so a handler sees its own record included.
   */
  deliveredOffsets(): TopicPartitionOffset[] {
    const out: TopicPartitionOffset[] = [];
    for (const state of this.partitions.values()) {
      if (state.delivered !== undefined && !state.stopped) out.push({ topic: state.topic, partition: state.partition, offset: state.delivered });
    }
    return out;
  }

  /**
   * Acknowledge, per partition, everything before `offset` (next-offset form, as deliveredOffsets()
   * returns it): like calling ack() on those records — the offsets become committable and fetch
   * credit is freed. For operators that no longer see the records (transactional()). An entry is
   * ignored when the partition is not owned, or its offset lies outside the current epoch's
   * delivered range (before the assignment/seek/rewind start, or beyond deliveredOffsets()).
   *
   * `committed: true` says the offsets are already committed for the group (by a transaction's
   * sendOffsets): the consumer records them as committed and will not commit them itself. Without
   * it, a commit of an older acknowledged offset (auto-commit, on revoke) racing with a transaction
   * that committed a newer one could move the group's offset back.
   */
  acknowledgeDelivered(offsets: readonly TopicPartitionOffset[], options: { committed?: boolean } = {}): void {
    if (offsets.length > 0) this.noteAck();
    for (const { topic, partition, offset } of offsets) {
      const state = this.partitions.get(tpKey(topic, partition));
      if (state === undefined || state.stopped || state.delivered === undefined) continue;
      if (offset < state.epochStart || offset > state.delivered) continue;
      this.acknowledgeUpTo(state, offset);
      if (options.committed === true && state.acked === offset && (state.committed === undefined || offset > state.committed)) state.committed = offset;
    }
  }

  /** Everything before `next` is processed (acks never move backwards). */
  private acknowledgeUpTo(state: PartitionState, next: bigint): void {
    if (state.acked === undefined || next > state.acked) {
      state.acked = next;
      // Only a fetch loop waiting for credit needs to hear about it.
      if (state.wake !== undefined && state.outstanding() * 2n <= BigInt(this.config.maxPollRecords)) state.signal();
    }
  }

  /**
   * Go back to the group's committed offsets (the autoOffsetReset policy where there is none) for
   * the given partitions (default: all owned; others are ignored). Cold. On subscribe, synchronously,
   * the partitions stop emitting — nothing fetched before (in flight or mid-batch) is emitted after
   * — and their deliveredOffsets() are cleared; then the committed offsets are read, the partitions
   * seek there and resume, and the Observable emits once and completes. Unsubscribing early does
   * not cancel the rewind. If the committed offsets cannot be read it errors and the partitions
   * stay on hold (nothing emitted) until a later rewind or seek succeeds — never resuming past
   * records that were delivered but not committed.
   */
  rewindToCommitted$(partitions?: TopicPartition[]): Observable<void> {
    return new Observable<void>((subscriber) => {
      const states = this.ownedStates(partitions);
      for (const state of states) {
        state.rewinds++;
        state.restart(state.position);
      }
      void this.completeRewind(states).then(
        () => {
          subscriber.next();
          subscriber.complete();
        },
        (error: unknown) => subscriber.error(error),
      );
    });
  }

  private async completeRewind(states: PartitionState[]): Promise<void> {
    let failed = true;
    try {
      const client = await this.client('coordinator');
      const targets = await Promise.all(
        states.map(async (state) => {
          const committed = await firstValueFrom(client.getOffset$(this.config.groupId, state.topic, state.partition));
          if (committed !== undefined) return { committed, position: committed };
          const bounds = await firstValueFrom(client.getOffsetBounds$(state.topic, state.partition));
          return { committed, position: this.config.autoOffsetReset === 'earliest' ? bounds.earliest : bounds.latest };
        }),
      );
      states.forEach((state, i) => {
        const { committed, position } = targets[i]!;
        state.restart(position);
        state.committed = committed;
        state.rewindFailed = false;
      });
      failed = false;
    } finally {
      for (const state of states) {
        state.rewinds--;
        if (failed) state.rewindFailed = true;
        state.signal();
      }
    }
  }

  private ownedStates(partitions: TopicPartition[] | undefined): PartitionState[] {
    const all = [...this.partitions.values()].filter((s) => !s.stopped);
    if (partitions === undefined) return all;
    const wanted = new Set(partitions.map((tp) => tpKey(tp.topic, tp.partition)));
    return all.filter((s) => wanted.has(tpKey(s.topic, s.partition)));
  }

  /** Seek the given partitions (default: all owned) to their earliest offset. */
  seekToBeginning$(partitions?: TopicPartition[]): Observable<void> {
    return this.seekEach$(partitions, (c, tp) => c.getOffsetBounds$(tp.topic, tp.partition).pipe(map((b) => b.earliest)));
  }

  /** Seek the given partitions (default: all owned) past their last record. */
  seekToEnd$(partitions?: TopicPartition[]): Observable<void> {
    return this.seekEach$(partitions, (c, tp) => c.getOffsetBounds$(tp.topic, tp.partition).pipe(map((b) => b.latest)));
  }

  /** Seek to the first record with timestamp ≥ `timestamp` (the end if there is none), via GetOffsetForTimestamp. */
  seekToTimestamp$(timestamp: bigint | number | Date, partitions?: TopicPartition[]): Observable<void> {
    return this.seekEach$(partitions, (c, tp) =>
      c.getOffsetForTimestamp$(tp.topic, tp.partition, timestamp).pipe(
        concatMap((offset) => (offset !== undefined ? of(offset) : c.getOffsetBounds$(tp.topic, tp.partition).pipe(map((b) => b.latest)))),
      ),
    );
  }

  /** Stop fetching a partition (records already emitted stay valid); it stays assigned. */
  pause(topic: string, partition: number): void {
    this.pausedKeys.add(tpKey(topic, partition));
    const state = this.partitions.get(tpKey(topic, partition));
    if (state) state.paused = true;
  }

  resume(topic: string, partition: number): void {
    this.pausedKeys.delete(tpKey(topic, partition));
    const state = this.partitions.get(tpKey(topic, partition));
    if (state) {
      state.paused = false;
      state.signal();
    }
  }

  paused(): TopicPartition[] {
    return [...this.partitions.values()].filter((s) => s.paused).map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  // ---- commits --------------------------------------------------------------------------------

  /** Commit every acknowledged offset not committed yet; emits what was committed. Cold. */
  commit$(): Observable<CommittedOffsets> {
    return defer(() => this.commitStates$([...this.partitions.values()]));
  }

  /** The group's committed offset of a partition (the next offset a new owner reads). */
  committed$(topic: string, partition: number): Observable<bigint | undefined> {
    return defer(() => from(this.client('coordinator'))).pipe(concatMap((c) => c.getOffset$(this.config.groupId, topic, partition)));
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  /** Commit acknowledged offsets, leave the group (the others rebalance at once), close connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const session = this.session;
    if (session) {
      await this.stopSession(session);
      if (!session.subscriber.closed) session.subscriber.complete();
    }
    await this.closeClients();
    this.healthUpdate({ state: 'closed', assignedPartitions: 0 });
    this.assignmentsSubject.complete();
    this.rebalanceSubject.complete();
    this.healthSubject.complete();
  }

  /**
   * Drop the connections without committing or leaving the group, as a crashed process would (the
   * group notices after the session timeout). For fault tests and demos.
   */
  async kill(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const session = this.session;
    this.memberIdValue = '';
    if (session) {
      session.stopped = true;
      session.stopPromise = Promise.resolve();
      session.stop$.next();
      for (const state of this.partitions.values()) {
        state.stopped = true;
        state.emitting = false;
        state.signal();
      }
      this.partitions.clear();
    }
    await this.closeClients();
    if (session && !session.subscriber.closed) session.subscriber.complete();
    this.healthUpdate({ state: 'closed', assignedPartitions: 0 });
    this.assignmentsSubject.complete();
    this.rebalanceSubject.complete();
    this.healthSubject.complete();
  }

  // ---- the session ----------------------------------------------------------------------------

  private async run(session: Session): Promise<void> {
    let autoCommit: Subscription | undefined;
    if (this.config.enableAutoCommit) {
      autoCommit = interval(this.config.autoCommitIntervalMs, this.config.scheduler)
        .pipe(
          exhaustMap(() => this.commit$().pipe(catchError(() => EMPTY))),
          takeUntil(session.stop$),
        )
        .subscribe();
    }
    try {
      if (this.config.assign) {
        const tps = [...this.config.assign].flatMap(([topic, parts]) => parts.map((partition) => ({ topic, partition })));
        await this.assignPartitions(session, tps, { generationId: -1, memberId: '', isLeader: false });
      } else {
        await this.runGroup(session);
      }
    } catch (error) {
      if (!session.stopped) session.subscriber.error(error);
    }
    if (session.stopped) autoCommit?.unsubscribe();
  }

  private async runGroup(session: Session): Promise<void> {
    const config = this.config;
    this.healthUpdate({ state: 'joining' });
    let failures = 0;
    let leftOut = 0;
    while (!session.stopped) {
      let reason: RejoinReason | WatchReason | 'STOPPED' | undefined;
      try {
        const client = await this.client('coordinator');
        const joinOptions = { sessionTimeoutMs: config.sessionTimeoutMs, rebalanceTimeoutMs: config.rebalanceTimeoutMs, subscriptions: config.topics };
        // Partition counts as of before joining: whatever the leader assigns is at least this, so a
        // later difference means partitions no one was given (at worst one needless rebalance).
        const [baseline, firstJoin] = await Promise.all([
          this.partitionCounts(client, config.topics),
          firstValueFrom(client.joinGroup$(config.groupId, this.memberIdValue, joinOptions)),
        ]);
        let join = firstJoin;
        this.memberIdValue = join.memberId;
        let assignment: [string, number[]][];
        if (join.isLeader) {
          if (join.members.length > 1) {
            // rivvend answers JoinGroup at once instead of holding it until every member rejoined:
            // give the others one heartbeat to notice, commit what they acknowledged and rejoin, then
            // take a fresh member list (same generation) before assigning. Followers wait in
            // SyncGroup meanwhile without heartbeats, which heartbeatIntervalMs ≤ sessionTimeoutMs / 3
            // leaves room for.
            await this.sleep(session, config.heartbeatIntervalMs + REBALANCE_SETTLE_MARGIN_MS);
            if (session.stopped) break;
            join = await firstValueFrom(client.joinGroup$(config.groupId, this.memberIdValue, joinOptions));
          }
          const assignments = join.isLeader ? await this.computeAssignments(client, join.members) : [];
          assignment = await firstValueFrom(client.syncGroup$(config.groupId, join.generationId, join.memberId, assignments));
        } else {
          const { generationId, memberId } = join;
          const outcome = await firstValueFrom(
            awaitStable$(() => client.heartbeat$(config.groupId, generationId, memberId), FOLLOWER_POLL_MS, config.rebalanceTimeoutMs, config.scheduler).pipe(
              takeUntil(session.stop$),
            ),
            { defaultValue: 'STOPPED' as const },
          );
          if (outcome === 'STOPPED') break;
          if (outcome !== 'STABLE') {
            if (outcome === 'UNKNOWN_MEMBER_ID' || outcome === 'UNKNOWN_GROUP') this.memberIdValue = '';
            continue;
          }
          assignment = await firstValueFrom(client.syncGroup$(config.groupId, generationId, memberId, []));
        }
        if (session.stopped) break;
        if (assignment.every(([, parts]) => parts.length === 0) && leftOut < MAX_LEFT_OUT_REJOINS && (await this.wasLeftOut(client, join.members))) {
          // rivvend can complete a rebalance with a member list taken before we joined: we then
          // get nothing although there is enough to share. Rejoining starts a new generation.
          leftOut++;
          continue;
        }
        leftOut = 0;
        this.generationIdValue = join.generationId;
        const tps = assignment.flatMap(([topic, parts]) => parts.map((partition) => ({ topic, partition })));
        await this.assignPartitions(session, tps, { generationId: join.generationId, memberId: join.memberId, isLeader: join.isLeader });
        failures = 0;
        this.healthUpdate({ state: 'stable' });
        reason = await firstValueFrom(
          merge(
            heartbeatLoop$(() => client.heartbeat$(config.groupId, join.generationId, join.memberId), config.heartbeatIntervalMs, config.scheduler),
            pollWatchdog$(this.pollProbe, config.maxPollIntervalMs, config.scheduler),
            partitionCountWatch$(() => defer(() => this.partitionCounts(client, config.topics)), baseline, config.metadataRefreshIntervalMs, config.scheduler),
          ).pipe(take(1), takeUntil(session.stop$)),
          { defaultValue: 'STOPPED' as const },
        );
      } catch (error) {
        if (session.stopped) break;
        reason = rejoinReasonOf(error);
        if (reason === undefined) {
          const code = error instanceof ServerError ? error.serverCode : undefined;
          const retriable = code === 'REBALANCE_TIMEOUT' || code === 'INCONSISTENT_GROUP_PROTOCOL' || (error instanceof RivvenError && error.retriable);
          if (!retriable || ++failures > config.maxReconnectAttempts) throw error;
          if (error instanceof ConnectionError) this.dropClient('coordinator');
          await this.sleep(session, this.backoff(failures));
        }
      }
      if (reason === 'STOPPED' || session.stopped) break;
      if (reason === 'MAX_POLL_INTERVAL_EXCEEDED') {
        await this.leaveUntilDownstreamAcks(session);
        continue;
      }
      this.healthUpdate({ state: 'rebalancing', ...(reason === 'METADATA_CHANGED' ? { metadataRebalances: this.healthSubject.value.metadataRebalances + 1 } : {}) });
      await this.revokeAll(reason === 'METADATA_CHANGED' ? 'metadataChanged' : 'rebalance');
      if (reason === 'UNKNOWN_MEMBER_ID' || reason === 'UNKNOWN_GROUP') this.memberIdValue = '';
    }
  }

  /**
   * Downstream sat on records for longer than maxPollIntervalMs (Kafka's max.poll.interval): give
   * the partitions to live members — commit what was acknowledged, leave the group — and rejoin
   * once downstream acknowledges anything again (a sign it is taking records).
   */
  private async leaveUntilDownstreamAcks(session: Session): Promise<void> {
    const health = this.healthSubject.value;
    this.healthUpdate({ state: 'left', maxPollIntervalExceeded: health.maxPollIntervalExceeded + 1, lastMaxPollIntervalExceededAt: this.config.scheduler.now() });
    const revoking = this.revokeAll('maxPollIntervalExceeded');
    // Revoked states are stopped synchronously above: acks from here on are downstream catching up.
    const acksAtRevoke = this.ackCount;
    await revoking;
    await this.leaveGroup();
    if (this.ackCount === acksAtRevoke) {
      await new Promise<void>((resolve) => {
        const stopped = session.stop$.subscribe(() => resolve());
        this.ackWaiter = () => {
          stopped.unsubscribe();
          resolve();
        };
      });
      this.ackWaiter = undefined;
    }
    if (!session.stopped) this.healthUpdate({ state: 'joining' });
  }

  private async leaveGroup(): Promise<void> {
    if (this.config.assign !== undefined || this.memberIdValue === '') return;
    const memberId = this.memberIdValue;
    this.memberIdValue = '';
    try {
      const client = await this.client('coordinator');
      await firstValueFrom(client.leaveGroup$(this.config.groupId, memberId), { defaultValue: undefined });
    } catch {
      // Leaving is a courtesy: the session timeout removes us anyway.
    }
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
    for (const n of (await this.partitionCounts(client, this.config.topics)).values()) total += n;
    return total > 0 && total >= Math.max(1, members.length);
  }

  private async computeAssignments(client: Client, members: [string, string[]][]): Promise<GroupAssignments> {
    // A subscribed topic that does not exist yet counts 0 partitions.
    const counts = await this.partitionCounts(client, [...new Set(members.flatMap(([, t]) => t))]);
    const plan = this.config.assignor.assign(
      members.map(([memberId, t]) => ({ memberId, topics: t })),
      counts,
    );
    return toGroupAssignments(plan);
  }

  private async assignPartitions(
    session: Session,
    tps: TopicPartition[],
    meta: { generationId: number; memberId: string; isLeader: boolean },
  ): Promise<void> {
    const client = await this.client('coordinator');
    const states = await Promise.all(
      tps.map(async (tp) => {
        const key = tpKey(tp.topic, tp.partition);
        const committed = await firstValueFrom(client.getOffset$(this.config.groupId, tp.topic, tp.partition));
        let position = this.pendingSeeks.get(key) ?? committed;
        this.pendingSeeks.delete(key);
        if (position === undefined) {
          const bounds = await firstValueFrom(client.getOffsetBounds$(tp.topic, tp.partition));
          position = this.config.autoOffsetReset === 'earliest' ? bounds.earliest : bounds.latest;
        }
        const state = new PartitionState(tp.topic, tp.partition, position, committed);
        state.paused = this.pausedKeys.has(key);
        return state;
      }),
    );
    if (session.stopped) return;
    // Partitions spread over the fetch lanes. rivvend answers a connection's requests in order, so
    // an idle partition's long-poll holds up the fetches behind it on its lane: partitions sharing
    // a lane split fetchMaxWaitMs between them, which bounds that hold-up to ~fetchMaxWaitMs.
    const lanes = Math.max(1, Math.min(this.config.fetchConnections, states.length));
    states.forEach((state, i) => {
      const sharing = Math.floor(states.length / lanes) + (i % lanes < states.length % lanes ? 1 : 0);
      state.lane = `fetch-${i % lanes}`;
      state.maxWaitMs = this.config.fetchMaxWaitMs === 0 ? 0 : Math.max(1, Math.floor(this.config.fetchMaxWaitMs / sharing));
      this.partitions.set(tpKey(state.topic, state.partition), state);
      this.fetchLoop(session, state).catch((error: unknown) => {
        if (!session.stopped && !state.stopped) session.subscriber.error(error);
      });
    });
    this.assignmentsSubject.next(tps);
    this.healthUpdate({ assignedPartitions: tps.length, ...(this.config.assign ? { state: 'stable' as const } : {}) });
    this.rebalanceSubject.next({ type: 'assigned', partitions: tps, ...meta });
  }

  /** Stop emitting, tell listeners (acks in the handler still count), commit what was acknowledged, give the partitions up. */
  private async revokeAll(reason: RevokeReason): Promise<void> {
    const states = [...this.partitions.values()];
    for (const state of states) state.emitting = false;
    if (states.length > 0) {
      this.rebalanceSubject.next({
        type: 'revoked',
        partitions: states.map((s) => ({ topic: s.topic, partition: s.partition })),
        generationId: this.generationIdValue,
        reason,
      });
    }
    for (const state of states) {
      state.stopped = true;
      state.signal();
    }
    try {
      await firstValueFrom(this.commitStates$(states), { defaultValue: undefined });
    } catch {
      // The coordinator may be gone; the new owner re-reads from the last commit (at-least-once).
    }
    for (const state of states) {
      if (this.partitions.get(tpKey(state.topic, state.partition)) === state) this.partitions.delete(tpKey(state.topic, state.partition));
    }
    if (states.length > 0) {
      this.assignmentsSubject.next([]);
      this.healthUpdate({ assignedPartitions: 0 });
    }
  }

  private stopSession(session: Session): Promise<void> {
    if (session.stopPromise) return session.stopPromise;
    session.stopped = true;
    session.stop$.next();
    session.stopPromise = (async () => {
      await this.revokeAll('stopped');
      await this.leaveGroup();
      if (this.session === session) this.session = undefined;
      this.healthUpdate({ state: 'idle' });
    })();
    return session.stopPromise;
  }

  // ---- fetching -------------------------------------------------------------------------------

  private async fetchLoop(session: Session, state: PartitionState): Promise<void> {
    const config = this.config;
    const max = BigInt(config.maxPollRecords);
    let failures = 0;
    while (!state.stopped && !session.stopped) {
      if (state.held() || state.outstanding() * 2n > max) {
        await new Promise<void>((resolve) => (state.wake = resolve));
        continue;
      }
      const epoch = state.epoch;
      const from = state.position;
      const maxMessages = Number(max - state.outstanding());
      let fetched: ConsumedRecord[];
      try {
        const client = await this.client(state.lane);
        fetched = await firstValueFrom(
          client.consume$(state.topic, {
            partition: state.partition,
            offset: from,
            maxMessages,
            isolationLevel: config.isolationLevel,
            maxWaitMs: state.maxWaitMs,
          }),
        );
        failures = 0;
        if (fetched.length === 0 && !state.stopped && state.epoch === epoch) {
          await this.skipInvisible(client, state, from, maxMessages, epoch);
          continue;
        }
      } catch (error) {
        if (state.stopped || session.stopped) return;
        if (error instanceof ServerError && error.serverCode === 'OFFSET_OUT_OF_RANGE') {
          const client = await this.client(state.lane);
          const bounds = await firstValueFrom(client.getOffsetBounds$(state.topic, state.partition));
          if (state.epoch === epoch) this.seek(state.topic, state.partition, config.autoOffsetReset === 'earliest' ? bounds.earliest : bounds.latest);
          continue;
        }
        const retriable = error instanceof RivvenError && error.retriable;
        if (!retriable || ++failures > config.maxReconnectAttempts) {
          session.subscriber.error(error);
          return;
        }
        if (error instanceof ConnectionError) this.dropClient(state.lane);
        await this.sleep(session, this.backoff(failures));
        continue;
      }
      const visible = fetched.filter((r) => r.offset >= from);
      if (visible.length === 0) continue;
      // Synchronous for plain, LZ4 and Snappy values; only zstd needs a Promise.
      const values = visible.map((r) => tryDecompressValueSync(r.value));
      for (let i = 0; i < values.length; i++) if (values[i] === undefined) values[i] = await tryDecompressValue(visible[i]!.value);
      if (state.stopped || !state.emitting || state.epoch !== epoch || state.held() || session.stopped) continue;
      const records = visible.map((r, i) => this.toRecord(r, values[i]!, state, epoch));
      state.position = visible[visible.length - 1]!.offset + 1n;
      state.emittedEnd = state.position;
      session.subscriber.next({ state, epoch, records });
    }
  }

  /**
   * An empty answer while the partition has records past our position: the records there are
   * invisible (transaction markers; aborted records under read_committed). Step over them.
   */
  private async skipInvisible(client: Client, state: PartitionState, from: bigint, maxMessages: number, epoch: number): Promise<void> {
    const bounds = await firstValueFrom(client.getOffsetBounds$(state.topic, state.partition));
    if (bounds.latest <= from || state.position !== from || state.epoch !== epoch) return;
    let next: bigint;
    if (from < bounds.earliest) {
      next = bounds.earliest;
    } else {
      const raw = await firstValueFrom(client.consume$(state.topic, { partition: state.partition, offset: from, maxMessages, isolationLevel: 'read_uncommitted' }));
      const first = raw[0];
      if (first === undefined) next = from + BigInt(maxMessages) < bounds.latest ? from + BigInt(maxMessages) : bounds.latest;
      else if (first.offset > from) next = first.offset; // only control records (markers) before it
      else {
        // Records at `from`: hidden by read_committed — or simply appended after our empty fetch.
        // Ask again in our isolation level: skipping records that are visible would lose them.
        const again = await firstValueFrom(
          client.consume$(state.topic, { partition: state.partition, offset: from, maxMessages, isolationLevel: this.config.isolationLevel }),
        );
        if (again.length > 0) return; // visible: the next fetch emits them
        // Both reads start at `from` and cover the same first maxMessages entries of the log, and
        // the second shows none of them: all of raw is hidden (aborted).
        next = raw[raw.length - 1]!.offset + 1n;
      }
    }
    if (state.position === from && state.epoch === epoch && !state.stopped) {
      state.position = next;
      if (state.acked === undefined && state.epochStart === from) state.epochStart = next;
    }
  }

  private toRecord(r: ConsumedRecord, value: Buffer, state: PartitionState, epoch: number): ConsumerRecord {
    const offset = r.offset;
    const acknowledge = (): void => {
      this.noteAck();
      if (state.stopped || state.epoch !== epoch) return;
      this.acknowledgeUpTo(state, offset + 1n);
    };
    const receiverOffset = {
      topicPartition: { topic: state.topic, partition: state.partition },
      offset,
      acknowledge,
      commit$: () =>
        defer(() => {
          acknowledge();
          return this.commit$();
        }),
    };
    return { topic: r.topic, partition: r.partition, offset, key: r.key, value, timestamp: r.timestamp, headers: r.headers, receiverOffset, ack: acknowledge };
  }

  private commitStates$(states: PartitionState[]): Observable<CommittedOffsets> {
    const due = states
      .map((state) => ({ state, offset: state.acked }))
      .filter((d): d is { state: PartitionState; offset: bigint } => d.offset !== undefined && d.offset !== d.state.committed);
    if (due.length === 0) return of({ offsets: [] });
    return from(this.client('coordinator')).pipe(
      concatMap((client) =>
        forkJoin(
          due.map(({ state, offset }) =>
            client.commitOffset$(this.config.groupId, state.topic, state.partition, offset).pipe(
              map(() => {
                state.committed = offset;
                return { topic: state.topic, partition: state.partition, offset };
              }),
            ),
          ),
        ),
      ),
      map((offsets) => ({ offsets })),
    );
  }

  // ---- connections and timing -----------------------------------------------------------------

  private client(kind: ClientKind): Promise<Client> {
    let pending = this.clients.get(kind);
    if (pending === undefined) {
      pending = this.connect(kind);
      this.clients.set(kind, pending);
      pending.catch(() => {
        if (this.clients.get(kind) === pending) this.clients.delete(kind);
      });
    }
    return pending;
  }

  private async connect(kind: ClientKind): Promise<Client> {
    if (this.closed) throw new ConnectionError('the consumer is closed');
    let lastError: unknown;
    for (const server of this.config.bootstrapServers) {
      try {
        return await firstValueFrom(
          Client.connect$(server, {
            clientId: `${this.config.clientId}-${kind}`,
            auth: this.config.auth,
            tls: this.config.tls,
            socketFactory: this.config.socketFactory,
            healthIntervalMs: 60_000,
          }),
        );
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  private dropClient(kind: ClientKind): void {
    const pending = this.clients.get(kind);
    this.clients.delete(kind);
    pending?.then((c) => c.close()).catch(() => undefined);
  }

  private async closeClients(): Promise<void> {
    const pending = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(pending.map((p) => p.then((c) => c.close()).catch(() => undefined)));
  }

  private backoff(failures: number): number {
    const { reconnectBackoffMs, reconnectBackoffMaxMs } = this.config;
    return exponentialDelay(failures - 1, { initialDelay: reconnectBackoffMs, maxDelay: reconnectBackoffMaxMs, multiplier: 2 });
  }

  private sleep(session: Session, ms: number): Promise<void> {
    return firstValueFrom(timer(ms, this.config.scheduler).pipe(map(() => undefined), takeUntil(session.stop$)), { defaultValue: undefined });
  }

  private seekEach$(partitions: TopicPartition[] | undefined, offsetOf: (client: Client, tp: TopicPartition) => Observable<bigint>): Observable<void> {
    return defer(() => {
      const tps = partitions ?? [...this.partitions.values()].map((s) => ({ topic: s.topic, partition: s.partition }));
      if (tps.length === 0) return EMPTY;
      return from(this.client('coordinator')).pipe(
        concatMap((client) => forkJoin(tps.map((tp) => offsetOf(client, tp).pipe(map((offset) => this.seek(tp.topic, tp.partition, offset)))))),
        map(() => undefined),
      );
    });
  }
}
