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
 * partitions × maxPollRecords records (and decoded value bytes to maxInFlightDecodedBytes). With
 * ackMode 'onEmit' a record counts as acknowledged when the subscriber's next returns.
 *
 * The parts: partition-state.ts (epochs, credit, held bytes), fetch-loop.ts (one partition's
 * fetches, checked against a hostile broker), server-lanes.ts (lanes; failed connections
 * are never reused), offset-store.ts (start offsets, commits), stall-monitor.ts (health$.stalled),
 * group-coordinator.ts (the group protocol). This file is the facade and the session.
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
  of,
  share,
  takeUntil,
  timer,
  type Subscriber,
} from 'rxjs';
import type { Client } from '../client/client.js';
import { ConfigError, ConnectionError, ServerError } from '../errors.js';
import type { MessageData } from '../protocol/response-schema.js';
import { resolveConsumerConfig, type ConsumerConfig, type ResolvedConsumerConfig } from './consumer-config.js';
import { ServerLanes } from '../client/server-lanes.js';
import { backoffDelay } from '../client/backoff.js';
import { backoffOf } from '../connection-settings.js';
import type { ConsumerHealth, TruncationEvent } from './consumer-health.js';
import { DecodedBudget } from './decoded-budget.js';
import { FetchLoop } from './fetch-loop.js';
import { OffsetStore } from './offset-store.js';
import { createLog, type Log } from '../observability/log.js';
import { publishRebalanceEvent } from '../observability/channels.js';
import { lagMonitor$, totalLag, type LagSource, type PartitionLag } from './lag-monitor.js';
import { HealthTracker, type WarningSource } from './health-tracker.js';
import { PartitionState, isLive, type ClientKind } from './partition-state.js';
import { StallMonitor } from './stall-monitor.js';
import {
  tpKey,
  type CommittedOffsets,
  type ConsumerRecord,
  type RebalanceEvent,
  type TopicPartition,
  type TopicPartitionOffset,
} from './consumer-record.js';
import { GroupCoordinator } from './group-coordinator.js';
import type { PollProbe } from './group-watch.js';

/** How often health$ refreshes the record counts while they change. */
const HEALTH_COUNTS_INTERVAL_MS = 1_000;

class Session {
  stopped = false;
  /** Replays the stop, so waits that start after it end at once. */
  readonly stop$ = new ReplaySubject<void>(1);
  stopPromise: Promise<void> | undefined;
  constructor(readonly subscriber: Subscriber<FetchedBatch>) {}
}

/** Records of one fetch, with the partition state and epoch they were fetched in: live only while both still hold. */
interface FetchedBatch {
  state: PartitionState;
  epoch: number;
  records: ConsumerRecord[];
}

export class Consumer {
  private readonly config: ResolvedConsumerConfig;
  private readonly assignmentsSubject = new BehaviorSubject<TopicPartition[]>([]);
  private readonly rebalanceSubject = new Subject<RebalanceEvent>();
  private readonly truncationSubject = new Subject<TruncationEvent>();
  private readonly connections: ServerLanes<ClientKind>;
  /** Decoded value bytes emitted and not acknowledged, over all partitions (maxInFlightDecodedBytes). */
  private readonly budget: DecodedBudget;
  /** Start offsets and commits (offset-store.ts). */
  private readonly offsets: OffsetStore;
  /** Partitions waiting for acknowledgements past maxPollIntervalMs → health$.stalled. */
  private readonly stalls: StallMonitor;
  /** health$: state, counts, warnings, last error (health-tracker.ts). */
  private readonly tracker: HealthTracker;
  private readonly partitions = new Map<string, PartitionState>();
  private readonly pendingSeeks = new Map<string, bigint>();
  private readonly pausedKeys = new Set<string>();
  /** Acknowledgements so far, also of stale records (they show downstream is taking records). */
  private ackCount = 0;
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
  /** Join, assign, heartbeat, rebalance, leave (group-coordinator.ts). */
  private readonly group: GroupCoordinator<Session, PartitionState>;
  private readonly log: Log;
  /** The latest lag reading of the session (lag$ replays it). */
  private readonly lagSubject = new ReplaySubject<PartitionLag[]>(1);
  private readonly lagSource: LagSource = {
    partitions: () => {
      const owned: ReturnType<LagSource['partitions']> = [];
      for (const s of this.partitions.values()) {
        if (!s.stopped) owned.push({ topic: s.topic, partition: s.partition, position: s.position, committed: s.committed, lane: s.lane });
      }
      return owned;
    },
    // On the partition's fetch lane: the lane's partitions go out together (pipelined), one round trip per lane.
    logEnd$: (lane, topic, partition) =>
      defer(() => from(this.client(lane as ClientKind))).pipe(
        concatMap((client) => client.getOffsetBounds$(topic, partition)),
        map((bounds) => bounds.latest),
      ),
  };

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
  /**
   * A partition's log end was found below this consumer's position: the broker lost records
   * (rivvend 0.0.22 after a crash). The partition continues at the new log end in a new epoch.
   * Also counted in health$ (`truncations`, `lastTruncation`).
   */
  readonly truncations$: Observable<TruncationEvent>;
  /**
   * Per owned partition `{ topic, partition, position, committed, logEnd, lag }`, every
   * lagIntervalMs while records$/batches$ is subscribed (read with GetOffsetBounds, one round trip
   * per fetch lane); replays the latest reading. health$ carries the total (`lag`). Completes on close().
   */
  readonly lag$: Observable<PartitionLag[]>;

  private constructor(config: ResolvedConsumerConfig) {
    this.config = config;
    this.assignments$ = this.assignmentsSubject.asObservable();
    this.rebalances$ = this.rebalanceSubject.asObservable();
    this.truncations$ = this.truncationSubject.asObservable();
    this.lag$ = this.lagSubject.asObservable();
    this.log = createLog('consumer', config.logger, config.logLevel, { groupId: config.groupId, clientId: config.clientId });
    this.tracker = new HealthTracker(
      this.log,
      () => config.scheduler.now(),
      () => this.assignmentsSubject.value,
    );
    this.health$ = this.tracker.health$;
    this.budget = new DecodedBudget(config.maxInFlightDecodedBytes);
    this.offsets = new OffsetStore({
      groupId: config.groupId,
      autoOffsetReset: config.autoOffsetReset,
      scheduler: config.scheduler,
      coordinator: () => this.client('coordinator'),
      dropCoordinator: () => this.dropClient('coordinator'),
      backoff: (failures) => this.backoff(failures),
      onError: (error) => this.noteError(error),
      closed: () => this.closed,
      log: this.log,
    });
    this.connections = new ServerLanes<ClientKind>({
      bootstrapServers: config.bootstrapServers,
      client: {
        auth: config.auth,
        tls: config.tls,
        socketFactory: config.socketFactory,
        requestTimeoutMs: config.requestTimeoutMs,
        connectionTimeoutMs: config.connectionTimeoutMs,
        logger: config.logger,
        logLevel: config.logLevel,
        healthIntervalMs: 60_000,
      },
      clientIdOf: (kind) => `${config.clientId}-${kind}`,
      closedMessage: 'the consumer is closed',
      onUnreachable: (error, servers) => {
        this.noteError(error);
        this.setWarning('unreachable', `no broker answers at ${servers.join(', ')}; retrying (check bootstrapServers and that the broker runs)`);
      },
      onConnected: () => this.setWarning('unreachable', undefined),
    });
    this.stalls = new StallMonitor(config.scheduler, config.maxPollIntervalMs, () => this.partitions.values(), (stalled) =>
      this.tracker.stalls(stalled, config.maxPollIntervalMs),
    );
    this.group = new GroupCoordinator<Session, PartitionState>({
      config,
      pollProbe: this.pollProbe,
      coordinator: () => this.client('coordinator'),
      dropCoordinator: () => this.dropClient('coordinator'),
      partitions: () => [...this.partitions.values()],
      release: (state) => {
        if (this.partitions.get(tpKey(state.topic, state.partition)) === state) this.partitions.delete(tpKey(state.topic, state.partition));
      },
      commit$: (states) => this.commitStates$(states),
      assignPartitions: (session, tps, meta) => this.assignPartitions(session, tps, meta),
      assignmentsChanged: (tps) => this.assignmentsSubject.next(tps),
      rebalance: (event) => this.announce(event),
      log: this.log,
      health: () => this.tracker.value,
      updateHealth: (change) => this.healthUpdate(change),
      ackCount: () => this.ackCount,
      sleep: (session, ms) => this.sleep(session, ms),
      backoff: (failures) => this.backoff(failures),
    });
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
    const onEmit = config.ackMode === 'onEmit';
    this.batches$ = new Observable<ConsumerRecord[]>((subscriber) =>
      fetched$.subscribe({
        next: ({ state, epoch, records }) => {
          if (!isLive(state, epoch)) return;
          state.delivered = records[records.length - 1]!.offset + 1n;
          this.tracker.recordsEmitted += records.length;
          subscriber.next(records);
          // ackMode 'onEmit': the subscriber is done with the batch when next returns.
          if (onEmit) records[records.length - 1]!.ack();
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
            this.tracker.recordsEmitted++;
            subscriber.next(record);
            if (onEmit) record.ack();
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
    return this.group.memberId;
  }

  get generationId(): number {
    return this.group.generationId;
  }

  /** The latest health, with the record counts as of now (health$ refreshes them at most once a second). */
  health(): ConsumerHealth {
    return this.tracker.current();
  }

  /** A revoke or an assignment: rebalances$, the `rivven-rx:rebalance` channel and an info line. */
  private announce(event: RebalanceEvent): void {
    const memberId = this.group.memberId;
    publishRebalanceEvent(() => ({
      event: event.type,
      groupId: this.config.groupId,
      memberId,
      generationId: event.generationId,
      partitions: event.partitions.map((tp) => ({ topic: tp.topic, partition: tp.partition })),
      ...(event.type === 'revoked' ? { reason: event.reason } : {}),
    }));
    if (this.log.enabled('info')) {
      this.log.info(event.type === 'revoked' ? `partitions revoked (${event.reason})` : 'partitions assigned', {
        memberId,
        generation: event.generationId,
        partitions: event.partitions.map((tp) => `${tp.topic}/${tp.partition}`).join(','),
        ...(event.type === 'revoked' ? { reason: event.reason } : {}),
      });
    }
    this.rebalanceSubject.next(event);
  }

  private healthUpdate(change: Partial<ConsumerHealth>): void {
    this.tracker.update(change);
  }

  private setWarning(source: WarningSource, text: string | undefined): void {
    this.tracker.setWarning(source, text);
  }

  private noteError(error: unknown): void {
    this.tracker.error(error);
  }

  private noteAck(): void {
    this.ackCount++;
    this.group.onAck();
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
      const floor = state.acked ?? state.epochStart;
      if (next > floor) this.tracker.recordsAcknowledged += Number(next - floor);
      state.acked = next;
      state.releaseUpTo(next);
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
      const targets = await Promise.all(states.map((state) => this.offsets.start(client, state.topic, state.partition)));
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
    this.completeStreams();
  }

  /** The last health (closed), then every stream of the consumer completes. */
  private completeStreams(): void {
    this.healthUpdate({ state: 'closed', assignedPartitions: 0, partitions: [] });
    this.assignmentsSubject.complete();
    this.rebalanceSubject.complete();
    this.truncationSubject.complete();
    this.lagSubject.complete();
    this.stalls.stop();
    this.tracker.complete();
  }

  /**
   * Drop the connections without committing or leaving the group, as a crashed process would (the
   * group notices after the session timeout). For fault tests and demos.
   */
  async kill(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const session = this.session;
    this.group.forget();
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
    this.completeStreams();
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
    // Record counts change per record: health$ carries them at most once a second.
    interval(HEALTH_COUNTS_INTERVAL_MS, this.config.scheduler)
      .pipe(takeUntil(session.stop$))
      .subscribe(() => this.tracker.refreshCounts());
    // Lag of the owned partitions, with the session (its timer ends with it).
    lagMonitor$(this.lagSource, this.config.lagIntervalMs, this.config.scheduler)
      .pipe(takeUntil(session.stop$))
      .subscribe((lags) => {
        if (session.stopped) return;
        this.lagSubject.next(lags);
        const lag = lags.length === 0 && this.partitions.size > 0 ? this.tracker.value.lag : totalLag(lags);
        if (lag !== this.tracker.value.lag) this.healthUpdate({ lag });
      });
    try {
      if (this.config.assign) {
        const tps = [...this.config.assign].flatMap(([topic, parts]) => parts.map((partition) => ({ topic, partition })));
        await this.assignPartitions(session, tps, { generationId: -1, memberId: '', isLeader: false });
      } else {
        await this.group.run(session);
      }
    } catch (error) {
      if (!session.stopped) {
        this.noteError(error);
        session.subscriber.error(error);
      }
    }
    if (session.stopped) autoCommit?.unsubscribe();
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
        const seek = this.pendingSeeks.get(key);
        this.pendingSeeks.delete(key);
        const { committed, position } = await this.offsets.start(client, tp.topic, tp.partition, seek);
        const state = new PartitionState(tp.topic, tp.partition, position, committed, this.budget);
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
      this.startFetching(session, state);
    });
    this.assignmentsSubject.next(tps);
    this.healthUpdate({ assignedPartitions: tps.length, ...(this.config.assign ? { state: 'stable' as const } : {}) });
    this.announce({ type: 'assigned', partitions: tps, ...meta });
    if (this.config.assign === undefined) void this.checkTopicsExist(client, tps.length);
  }

  /**
   * A group member with nothing assigned: say so in health$ when none of its topics exists (it
   * would otherwise sit 'stable' with 0 partitions). The warning clears at the next assignment
   * with partitions (a subscribed topic that is created triggers one, see metadataRefreshIntervalMs).
   */
  private async checkTopicsExist(client: Client, assigned: number): Promise<void> {
    if (assigned > 0) {
      this.setWarning('noTopic', undefined);
      return;
    }
    const exists = await Promise.all(
      this.config.topics.map((topic) =>
        firstValueFrom(client.getMetadata$(topic)).then(
          () => true,
          (error: unknown) => !(error instanceof ServerError),
        ),
      ),
    );
    if (exists.some((e) => e)) {
      this.setWarning('noTopic', undefined);
      return;
    }
    this.setWarning(
      'noTopic',
      `none of the subscribed topics exists (${this.config.topics.join(', ')}): nothing to consume. Create it (createTopic$); ` +
        `the group rebalances within metadataRefreshIntervalMs (${this.config.metadataRefreshIntervalMs} ms) once it exists`,
    );
  }

  private stopSession(session: Session): Promise<void> {
    if (session.stopPromise) return session.stopPromise;
    session.stopped = true;
    session.stop$.next();
    session.stopPromise = (async () => {
      await this.group.revokeAll('stopped', session);
      await this.group.leave();
      if (this.session === session) this.session = undefined;
      this.stalls.update();
      this.healthUpdate({ state: 'idle', lag: undefined });
    })();
    return session.stopPromise;
  }

  // ---- fetching -------------------------------------------------------------------------------

  private startFetching(session: Session, state: PartitionState): void {
    const loop = new FetchLoop(
      {
        config: this.config,
        budget: this.budget,
        done: (s) => s.stopped || session.stopped,
        client: (kind) => this.client(kind),
        dropClient: (kind) => this.dropClient(kind),
        sleep: (ms) => this.sleep(session, ms),
        backoff: (failures) => this.backoff(failures),
        now: () => this.config.scheduler.now(),
        emit: (s, epoch, records, values) => {
          session.subscriber.next({ state: s, epoch, records: records.map((r, i) => this.toRecord(r, values[i]!, s, epoch)) });
        },
        waiting: () => this.stalls.update(),
        duplicates: (s, count) => {
          this.tracker.duplicates(count);
          this.log.warn('broker anomaly: it sent offsets already emitted (duplicates dropped; rivvend replays its log after a crash)', {
            topic: s.topic,
            partition: s.partition,
            duplicates: count,
          });
        },
        truncated: (event) => {
          this.log.warn(
            event.type === 'truncated'
              ? 'broker anomaly: the log end moved backwards (records were lost); continuing at the new log end'
              : 'broker anomaly: the broker serves no record from this offset although its log end is ahead; stepped over the unreadable range',
            { topic: event.topic, partition: event.partition, position: event.position, logEnd: event.logEnd, resumeAt: event.resumeAt },
          );
          this.noteTruncation(event);
        },
        error: (error) => this.noteError(error),
      },
      state,
    );
    loop.run().catch((error: unknown) => {
      if (session.stopped || state.stopped) return;
      this.noteError(error);
      session.subscriber.error(error);
    });
  }

  private noteTruncation(event: TruncationEvent): void {
    this.tracker.truncated(event);
    this.truncationSubject.next(event);
  }

  private toRecord(r: MessageData, value: Buffer, state: PartitionState, epoch: number): ConsumerRecord {
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
    return { topic: state.topic, partition: state.partition, offset, key: r.key, value, timestamp: r.timestamp, headers: r.headers, receiverOffset, ack: acknowledge };
  }

  private commitStates$(states: PartitionState[]): Observable<CommittedOffsets> {
    return this.offsets.commit$(states);
  }

  // ---- connections and timing -----------------------------------------------------------------

  /** The lane's connection; a failed or closed one is never handed out (see server-lanes.ts). */
  private client(kind: ClientKind): Promise<Client> {
    // close() still commits, drains and leaves the group over its connections (until its session ends).
    if (this.closed && this.session === undefined) return Promise.reject(new ConnectionError('the consumer is closed'));
    return this.connections.get(kind);
  }

  private dropClient(kind: ClientKind): void {
    this.connections.drop(kind);
  }

  private closeClients(): Promise<void> {
    return this.connections.closeAll();
  }

  /** The wait before attempt `failures + 1`: jittered, so consumers that failed together do not retry together. */
  private backoff(failures: number): number {
    return backoffDelay(Math.max(0, failures - 1), backoffOf(this.config.retry));
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
