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
 * The parts: consumer-session.ts (a subscription and its timers: auto-commit, counts, lag),
 * partition-starter.ts (taking an assignment: start offsets, lanes, fetch loops), fetch-loop.ts
 * (one partition's fetches, checked against a hostile broker), record-streams.ts (batches$,
 * records$), acknowledgements.ts (records' ack(), acknowledgeDelivered), owned-partitions.ts
 * (owned states, seek, pause), offset-seeks.ts (rewind, seek to beginning/end/timestamp),
 * partition-state.ts (epochs, credit, held bytes), client/pinned-lanes.ts (lanes; failed
 * connections are never reused), offset-store.ts (start offsets, commits), consumer-health.ts
 * (health$), stall-monitor.ts (health$.stalled), consumer-events.ts (assignments$, rebalances$,
 * truncations$, hidden$, lag$), group-coordinator.ts (the group protocol). This file is the
 * facade: it wires them and starts and stops sessions.
 */
import { iterateRecords, type IterateOptions } from './record-iterator.js';
import { type Observable, concatMap, defer, from } from 'rxjs';
import type { Client } from '../client/client.js';
import { ConfigError, ConnectionError } from '../errors.js';
import { resolveConsumerConfig, type ConsumerConfig, type ResolvedConsumerConfig } from './consumer-config.js';
import { PinnedLanes, type ConnectionSeam } from '../client/pinned-lanes.js';
import { Retrier } from '../client/retrier.js';
import { ConsumerEvents } from './consumer-events.js';
import { HealthTracker, type ConsumerHealth, type HiddenRecordsEvent, type TruncationEvent } from './consumer-health.js';
import { DecodedBudget } from './decoded-budget.js';
import { OffsetStore } from './offset-store.js';
import { createLog, type Log } from '../observability/log.js';
import type { PartitionLag } from './lag-monitor.js';
import type { ClientKind, PartitionState } from './partition-state.js';
import { StallMonitor } from './stall-monitor.js';
import type { CommittedOffsets, ConsumerRecord, RebalanceEvent, TopicPartition, TopicPartitionOffset } from './consumer-record.js';
import { GroupCoordinator } from './group-coordinator.js';
import { Acknowledgements } from './acknowledgements.js';
import { OffsetSeeks } from './offset-seeks.js';
import { OwnedPartitions } from './owned-partitions.js';
import { PartitionStarter } from './partition-starter.js';
import { batches$, records$ } from './record-streams.js';
import { SessionRunner, sessionSleep, type Session } from './consumer-session.js';
import { connectionOptionsOf } from '../transport/connection-options.js';

/**
 * A consumer of records, in a group (`topics`) or with a static assignment (`assign`). `records$`
 * (and `batches$`) are cold: subscribing joins the group and starts fetching; the last unsubscribe
 * commits what was acknowledged, leaves the group and stops fetching. Each partition holds at most
 * `maxPollRecords` emitted records that are not acknowledged. Create it with `Consumer.create` (or
 * `rivven.consumer()`).
 */
export class Consumer {
  private readonly config: ResolvedConsumerConfig;
  /** The subjects behind assignments$, rebalances$, truncations$, hidden$ and lag$ (consumer-events.ts). */
  private readonly events: ConsumerEvents;
  private readonly connections: PinnedLanes<ClientKind>;
  /** Decoded value bytes emitted and not acknowledged, over all partitions (maxInFlightDecodedBytes). */
  private readonly budget: DecodedBudget;
  /** Start offsets and commits (offset-store.ts). */
  private readonly offsets: OffsetStore;
  /** Partitions waiting for acknowledgements past maxPollIntervalMs → health$.stalled. */
  private readonly stalls: StallMonitor;
  /** health$: state, counts, warnings, last error (consumer-health.ts). */
  private readonly tracker: HealthTracker;
  /** Owned partitions, and seeks and pauses waiting for their assignment (owned-partitions.ts). */
  private readonly partitions = new OwnedPartitions();
  /** Records' ack(), acknowledgeDelivered(), what the poll watchdog reads (acknowledgements.ts). */
  private readonly acks: Acknowledgements;
  /** Rewinds, seeks to the log's ends or a timestamp (offset-seeks.ts). */
  private readonly seeks: OffsetSeeks;
  /** Takes an assignment: start offsets, lanes, fetch loops (partition-starter.ts). */
  private readonly starter: PartitionStarter;
  /** The subscription under way, its timers, its start and stop (consumer-session.ts). */
  private readonly sessions: SessionRunner;
  private closed = false;
  /** Join, assign, heartbeat, rebalance, leave (group-coordinator.ts). */
  private readonly group: GroupCoordinator<Session, PartitionState>;
  private readonly log: Log;

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
   * read_committed only: offsets the broker left out of an answer although a read_uncommitted read
   * shows records there — hidden by isolation (aborted transactions; on rivvend 0.0.22 also
   * committed records of a producer id inside one of its aborted offset ranges). The consumer steps
   * over them; this says where and how many (also health$ `hiddenByIsolation`, `lastHidden`; one
   * warning per partition in the log). Not a loss: the records are in the log.
   */
  readonly hidden$: Observable<HiddenRecordsEvent>;
  /**
   * Per owned partition `{ topic, partition, position, committed, logEnd, lag }`, every
   * lagIntervalMs while records$/batches$ is subscribed (read with GetOffsetBounds, one round trip
   * per fetch lane); replays the latest reading. health$ carries the total (`lag`). Completes on close().
   */
  readonly lag$: Observable<PartitionLag[]>;

  private constructor(config: ResolvedConsumerConfig, seam: ConnectionSeam) {
    this.config = config;
    this.log = createLog('consumer', config.logger, config.logLevel, { groupId: config.groupId, clientId: config.clientId });
    this.events = new ConsumerEvents(config.groupId, () => this.group.memberId, this.log);
    this.assignments$ = this.events.assignments.asObservable();
    this.rebalances$ = this.events.rebalances.asObservable();
    this.truncations$ = this.events.truncations.asObservable();
    this.hidden$ = this.events.hidden.asObservable();
    this.lag$ = this.events.lag.asObservable();
    this.tracker = new HealthTracker(
      this.log,
      () => config.scheduler.now(),
      () => this.events.assignments.value,
      () => this.partitions.paused(),
      () => this.partitions.held(),
    );
    this.health$ = this.tracker.health$;
    this.budget = new DecodedBudget(config.maxInFlightDecodedBytes);
    // Every wait before trying again, and every decision to give up, is this retrier's (retry).
    const retrier = new Retrier(config.retry, config.scheduler);
    this.offsets = new OffsetStore({
      groupId: config.groupId,
      autoOffsetReset: config.autoOffsetReset,
      scheduler: config.scheduler,
      coordinator: () => this.client('coordinator'),
      dropCoordinator: () => this.connections.drop('coordinator'),
      retrier,
      onError: (error) => this.tracker.error(error),
      closed: () => this.closed,
      log: this.log,
    });
    this.connections = new PinnedLanes<ClientKind>({
      bootstrapServers: config.bootstrapServers,
      // The clientId is each lane's own (clientIdOf).
      client: { ...connectionOptionsOf({ ...config, clientId: undefined }), healthIntervalMs: 60_000 },
      clientIdOf: (kind) => `${config.clientId}-${kind}`,
      closedMessage: 'the consumer is closed',
      ...(seam.connect === undefined ? {} : { connect: seam.connect }),
      onUnreachable: (error, servers) => {
        this.tracker.error(error);
        this.tracker.setWarning('unreachable', `no broker answers at ${servers.join(', ')}; retrying (check bootstrapServers and that the broker runs)`);
      },
      onConnected: () => this.tracker.setWarning('unreachable', undefined),
    });
    this.stalls = new StallMonitor(
      config.scheduler,
      config.maxPollIntervalMs,
      () => this.partitions.values(),
      (stalled) => this.tracker.stalls(stalled, config.maxPollIntervalMs),
      () => this.acks.lastAckAt,
    );
    // What most parts share: the config, the partitions, health$, the connections.
    const common = { config, owned: this.partitions, offsets: this.offsets, tracker: this.tracker, client: (kind: ClientKind) => this.client(kind) };
    this.acks = new Acknowledgements({
      ...common,
      maxPollRecords: config.maxPollRecords,
      onAck: () => {
        this.group.onAck();
        this.stalls.acknowledged();
      },
      holdsChanged: () => {
        this.stalls.update();
        this.tracker.update({});
      },
      commit$: () => this.commit$(),
    });
    this.seeks = new OffsetSeeks({ ...common, coordinator: () => this.client('coordinator') });
    this.starter = new PartitionStarter({
      ...common,
      budget: this.budget,
      log: this.log,
      dropClient: (kind) => this.connections.drop(kind),
      sleep: (session, ms) => this.sleep(session, ms),
      retrier,
      record: (r, value, state, epoch) => this.acks.record(r, value, state, epoch),
      waitingChanged: () => this.stalls.update(),
      truncated: (event) => this.noteTruncation(event),
      hidden: (event) => {
        this.tracker.hidden(event);
        this.events.hidden.next(event);
      },
      assignmentsChanged: (tps) => this.events.assignments.next(tps),
      rebalance: (event) => this.events.rebalance(event),
    });
    this.group = new GroupCoordinator<Session, PartitionState>({
      config,
      pollProbe: this.acks.pollProbe,
      coordinator: () => this.client('coordinator'),
      dropCoordinator: () => this.connections.drop('coordinator'),
      partitions: () => this.partitions.all(),
      release: (state) => this.partitions.release(state),
      commit$: (states) => this.offsets.commit$(states),
      assignPartitions: (session, tps, meta) => this.starter.assignPartitions(session, tps, meta),
      assignmentsChanged: (tps) => this.events.assignments.next(tps),
      rebalance: (event) => this.events.rebalance(event),
      log: this.log,
      health: () => this.tracker.value,
      updateHealth: (change) => this.tracker.update(change),
      noteError: (error) => this.tracker.error(error),
      ackCount: () => this.acks.count,
      sleep: (session, ms) => this.sleep(session, ms),
      retrier,
    });
    this.sessions = new SessionRunner({
      config,
      timers: { ...common, lagReadings: this.events.lag, commit$: () => this.commit$() },
      group: this.group,
      starter: this.starter,
      closed: () => this.closed,
      noteError: (error) => this.tracker.error(error),
      retrier,
      ended: () => {
        this.stalls.update();
        this.tracker.update({ state: 'idle', lag: undefined });
      },
    });
    // Stale records are dropped at emission (record-streams.ts).
    const onEmit = config.ackMode === 'onEmit';
    this.batches$ = batches$(this.sessions.fetched$, this.tracker, onEmit);
    this.records$ = records$(this.sessions.fetched$, this.tracker, onEmit);
  }

  /** Validate the configuration (throws ConfigError) and create a consumer; nothing connects until `records$` is subscribed. */
  static create(config: ConsumerConfig, seam: ConnectionSeam = {}): Consumer {
    return new Consumer(resolveConsumerConfig(config), seam);
  }

  /** The group whose offsets this consumer commits. */
  get groupId(): string {
    return this.config.groupId;
  }

  /** Member id the coordinator gave us ('' before joining or in static mode). */
  get memberId(): string {
    return this.group.memberId;
  }

  /** The group generation this member is in (0 before joining or in static mode). */
  get generationId(): number {
    return this.group.generationId;
  }

  /** The latest health, with the record counts as of now (health$ refreshes them at most once a second). */
  health(): ConsumerHealth {
    return this.tracker.current();
  }

  private noteTruncation(event: TruncationEvent): void {
    this.tracker.truncated(event);
    this.events.truncations.next(event);
  }

  // ---- positions ----------------------------------------------------------------------------

  /** Next offset this consumer will fetch from the partition, or undefined if it does not own it. */
  position(topic: string, partition: number): bigint | undefined {
    return this.partitions.get(topic, partition)?.position;
  }

  /**
   * Continue from `offset`. Takes effect at once: no record fetched before the call is emitted
   * afterwards (also not one whose fetch was in flight), and acks of earlier records are ignored.
   * Applies at assignment if the partition is not owned yet.
   */
  seek(topic: string, partition: number, offset: bigint): void {
    this.partitions.seek(topic, partition, offset);
  }

  /**
   * Per owned partition: the offset after the last record emitted downstream (by records$ or
   * batches$) since the partition was assigned or last seeked/rewound. Partitions with nothing
   * emitted since then are left out. A record counts from the moment it is handed to the
   * subscriber's `next`, so a handler sees its own record included.
   */
  deliveredOffsets(): TopicPartitionOffset[] {
    return this.partitions.deliveredOffsets();
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
    this.acks.acknowledgeDelivered(offsets, options);
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
    return this.seeks.rewindToCommitted$(partitions);
  }

  /** Seek the given partitions (default: all owned) to their earliest offset. */
  seekToBeginning$(partitions?: TopicPartition[]): Observable<void> {
    return this.seeks.toBeginning$(partitions);
  }

  /** Seek the given partitions (default: all owned) past their last record. */
  seekToEnd$(partitions?: TopicPartition[]): Observable<void> {
    return this.seeks.toEnd$(partitions);
  }

  /** Seek to the first record with timestamp ≥ `timestamp` (the end if there is none), via GetOffsetForTimestamp. */
  seekToTimestamp$(timestamp: bigint | number | Date, partitions?: TopicPartition[]): Observable<void> {
    return this.seeks.toTimestamp$(timestamp, partitions);
  }

  /**
   * Stop fetching the given partitions (records already emitted stay valid, and can still be
   * acknowledged and committed); they stay assigned, and health$ lists them (`paused`). A partition
   * not owned yet is paused when it is assigned. `pause(topic, partition)` pauses one.
   */
  pause(partitions: readonly TopicPartition[]): void;
  pause(topic: string, partition: number): void;
  pause(partitionsOrTopic: readonly TopicPartition[] | string, partition?: number): void {
    for (const tp of partitionList('pause', partitionsOrTopic, partition)) this.partitions.pause(tp.topic, tp.partition);
    this.tracker.update({});
  }

  /** Fetch the given partitions again (undoes pause()); `resume(topic, partition)` resumes one. */
  resume(partitions: readonly TopicPartition[]): void;
  resume(topic: string, partition: number): void;
  resume(partitionsOrTopic: readonly TopicPartition[] | string, partition?: number): void {
    for (const tp of partitionList('resume', partitionsOrTopic, partition)) this.partitions.resume(tp.topic, tp.partition);
    this.tracker.update({});
  }

  /** The owned partitions paused now (also health().paused). */
  paused(): TopicPartition[] {
    return this.partitions.paused();
  }

  // ---- commits --------------------------------------------------------------------------------

  /** Commit every acknowledged offset not committed yet; emits what was committed. Cold. */
  commit$(): Observable<CommittedOffsets> {
    return defer(() => this.offsets.commit$(this.partitions.all()));
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
    const session = this.sessions.current;
    if (session) {
      await this.sessions.stop(session);
      if (!session.subscriber.closed) session.subscriber.complete();
    }
    await this.connections.closeAll();
    this.completeStreams();
  }

  /**
   * The records as an async iterator (`for await (const record of consumer.iterate({ signal }))`),
   * with the acknowledgement and flow-control rules of `records$`; leaving the loop or aborting
   * `signal` commits what was acknowledged, stops fetching, leaves the group and closes the consumer
   * (record-iterator.ts). One loop or one `records$` subscription at a time.
   */
  iterate(options: IterateOptions = {}): AsyncIterableIterator<ConsumerRecord> {
    return iterateRecords(this.sessions.fetched$, this.tracker, this.config.ackMode === 'onEmit', () => this.close(), options);
  }

  /** `for await (const record of consumer)`: `iterate()` without a signal. */
  [Symbol.asyncIterator](): AsyncIterableIterator<ConsumerRecord> {
    return this.iterate();
  }

  /** `await using`: calls `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The last health (closed), then every stream of the consumer completes. */
  private completeStreams(): void {
    this.stalls.stop();
    // The last health: closed, no warning (none is logged after it either).
    this.tracker.close({ state: 'closed', assignedPartitions: 0, partitions: [] });
    this.events.complete();
  }

  /**
   * Drop the connections without committing or leaving the group, as a crashed process would (the
   * group notices after the session timeout). For fault tests and demos.
   */
  async kill(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const session = this.sessions.current;
    this.group.forget();
    if (session) {
      this.sessions.abandon(session);
      this.partitions.abandonAll();
    }
    await this.connections.closeAll();
    if (session && !session.subscriber.closed) session.subscriber.complete();
    this.completeStreams();
  }

  // ---- connections and timing -----------------------------------------------------------------

  /** The lane's connection; a failed or closed one is never handed out (see client/pinned-lanes.ts). */
  private client(kind: ClientKind): Promise<Client> {
    // close() still commits, drains and leaves the group over its connections (until its session ends).
    if (this.closed && this.sessions.current === undefined) return Promise.reject(new ConnectionError('the consumer is closed'));
    return this.connections.get(kind);
  }


  private sleep(session: Session, ms: number): Promise<void> {
    return sessionSleep(session, ms, this.config.scheduler);
  }
}

/** The partitions of pause()/resume(): a list, or one as (topic, partition); checked, so a typo is an error and not a silent no-op. */
function partitionList(method: string, partitionsOrTopic: readonly TopicPartition[] | string, partition: number | undefined): readonly TopicPartition[] {
  const list = typeof partitionsOrTopic === 'string' ? [{ topic: partitionsOrTopic, partition: partition as number }] : partitionsOrTopic;
  if (!Array.isArray(list)) throw new ConfigError('partitions', `${method}() expects a list of { topic, partition } (or topic, partition)`);
  for (const tp of list as readonly TopicPartition[]) {
    if (tp === null || typeof tp !== 'object' || typeof tp.topic !== 'string' || tp.topic === '' || !Number.isInteger(tp.partition) || tp.partition < 0) {
      throw new ConfigError('partitions', `${method}() expects { topic: string, partition: integer ≥ 0 } entries, got ${JSON.stringify(tp)}`);
    }
  }
  return list;
}
