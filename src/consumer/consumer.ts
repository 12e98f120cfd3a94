/**
 * `Consumer`: a reactive consumer. `records$` (and `batches$`) are cold: subscribing joins the group
 * (or takes the static assignment) and starts one fetch loop per assigned partition; the last
 * unsubscribe commits what was acknowledged, leaves the group and stops fetching.
 *
 * Two connections: one for fetching (long-poll Consume would otherwise hold everything queued
 * behind it, the broker answering one connection in order) and one for group coordination and
 * commits.
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
  mergeMap,
  of,
  share,
  takeUntil,
  timer,
  type Subscriber,
} from 'rxjs';
import { exponentialDelay } from '../client/backoff.js';
import { Client } from '../client/client.js';
import type { ConsumedRecord, GroupAssignments } from '../client/client-types.js';
import { ConfigError, ConnectionError, RivvenError, ServerError } from '../errors.js';
import { tryDecompressValue } from '../protocol/compression.js';
import { toGroupAssignments } from './assignors.js';
import { resolveConsumerConfig, type ConsumerConfig, type ResolvedConsumerConfig } from './consumer-config.js';
import { tpKey, type CommittedOffsets, type ConsumerRecord, type RebalanceEvent, type TopicPartition } from './consumer-record.js';
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
  epoch = 0;
  /** Next offset to commit (highest acknowledged + 1) in this epoch. */
  acked: bigint | undefined;
  committed: bigint | undefined;
  paused = false;
  /** No more emission (a revoke is under way). */
  emitting = true;
  /** Revoked: acks ignored, loop ends. */
  stopped = false;
  wake: (() => void) | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    position: bigint,
    committed: bigint | undefined,
  ) {
    this.position = position;
    this.epochStart = position;
    this.committed = committed;
  }

  outstanding(): bigint {
    const floor = this.acked ?? this.epochStart;
    return this.position > floor ? this.position - floor : 0n;
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
  constructor(readonly subscriber: Subscriber<ConsumerRecord[]>) {}
}

type ClientKind = 'coordinator' | 'fetch';

export class Consumer {
  private readonly config: ResolvedConsumerConfig;
  private readonly assignmentsSubject = new BehaviorSubject<TopicPartition[]>([]);
  private readonly rebalanceSubject = new Subject<RebalanceEvent>();
  private readonly clients = new Map<ClientKind, Promise<Client>>();
  private readonly partitions = new Map<string, PartitionState>();
  private readonly pendingSeeks = new Map<string, bigint>();
  private readonly pausedKeys = new Set<string>();
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

  private constructor(config: ResolvedConsumerConfig) {
    this.config = config;
    this.assignments$ = this.assignmentsSubject.asObservable();
    this.rebalances$ = this.rebalanceSubject.asObservable();
    this.batches$ = new Observable<ConsumerRecord[]>((subscriber) => {
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
    this.records$ = this.batches$.pipe(mergeMap((batch) => batch));
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

  // ---- positions ----------------------------------------------------------------------------

  /** Next offset this consumer will fetch from the partition, or undefined if it does not own it. */
  position(topic: string, partition: number): bigint | undefined {
    return this.partitions.get(tpKey(topic, partition))?.position;
  }

  /** Continue from `offset` (records already fetched beyond it are dropped). Applies at assignment if not owned yet. */
  seek(topic: string, partition: number, offset: bigint): void {
    if (typeof offset !== 'bigint' || offset < 0n) throw new ConfigError('offset', `expected a bigint ≥ 0, got ${String(offset)}`);
    const state = this.partitions.get(tpKey(topic, partition));
    if (state === undefined || state.stopped) {
      this.pendingSeeks.set(tpKey(topic, partition), offset);
      return;
    }
    state.position = offset;
    state.epochStart = offset;
    state.epoch++;
    state.acked = undefined;
    state.signal();
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
    this.assignmentsSubject.complete();
    this.rebalanceSubject.complete();
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
    this.assignmentsSubject.complete();
    this.rebalanceSubject.complete();
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
    let failures = 0;
    let leftOut = 0;
    while (!session.stopped) {
      let reason: RejoinReason | 'STOPPED' | undefined;
      try {
        const client = await this.client('coordinator');
        const joinOptions = { sessionTimeoutMs: config.sessionTimeoutMs, rebalanceTimeoutMs: config.rebalanceTimeoutMs, subscriptions: config.topics };
        let join = await firstValueFrom(client.joinGroup$(config.groupId, this.memberIdValue, joinOptions));
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
        reason = await firstValueFrom(
          heartbeatLoop$(() => client.heartbeat$(config.groupId, join.generationId, join.memberId), config.heartbeatIntervalMs, config.scheduler).pipe(
            takeUntil(session.stop$),
          ),
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
      await this.revokeAll();
      if (reason === 'UNKNOWN_MEMBER_ID' || reason === 'UNKNOWN_GROUP') this.memberIdValue = '';
    }
  }

  /** Our subscribed topics have at least as many partitions as the group (as we saw it) has members. */
  private async wasLeftOut(client: Client, members: [string, string[]][]): Promise<boolean> {
    let total = 0;
    for (const topic of this.config.topics) {
      try {
        total += (await firstValueFrom(client.getMetadata$(topic))).partitions;
      } catch (error) {
        if (!(error instanceof ServerError)) throw error;
      }
    }
    return total > 0 && total >= Math.max(1, members.length);
  }

  private async computeAssignments(client: Client, members: [string, string[]][]): Promise<GroupAssignments> {
    const topics = [...new Set(members.flatMap(([, t]) => t))];
    const counts = new Map<string, number>();
    for (const topic of topics) {
      try {
        counts.set(topic, (await firstValueFrom(client.getMetadata$(topic))).partitions);
      } catch (error) {
        // A subscribed topic that does not exist yet gets no partitions.
        if (!(error instanceof ServerError)) throw error;
      }
    }
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
    for (const state of states) {
      this.partitions.set(tpKey(state.topic, state.partition), state);
      void this.fetchLoop(session, state);
    }
    this.assignmentsSubject.next(tps);
    this.rebalanceSubject.next({ type: 'assigned', partitions: tps, ...meta });
  }

  /** Stop emitting, tell listeners (acks in the handler still count), commit what was acknowledged, give the partitions up. */
  private async revokeAll(): Promise<void> {
    const states = [...this.partitions.values()];
    for (const state of states) state.emitting = false;
    if (states.length > 0) {
      this.rebalanceSubject.next({
        type: 'revoked',
        partitions: states.map((s) => ({ topic: s.topic, partition: s.partition })),
        generationId: this.generationIdValue,
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
    if (states.length > 0) this.assignmentsSubject.next([]);
  }

  private stopSession(session: Session): Promise<void> {
    if (session.stopPromise) return session.stopPromise;
    session.stopped = true;
    session.stop$.next();
    session.stopPromise = (async () => {
      await this.revokeAll();
      if (this.config.assign === undefined && this.memberIdValue !== '') {
        const memberId = this.memberIdValue;
        this.memberIdValue = '';
        try {
          const client = await this.client('coordinator');
          await firstValueFrom(client.leaveGroup$(this.config.groupId, memberId), { defaultValue: undefined });
        } catch {
          // Leaving is a courtesy: the session timeout removes us anyway.
        }
      }
      if (this.session === session) this.session = undefined;
    })();
    return session.stopPromise;
  }

  // ---- fetching -------------------------------------------------------------------------------

  private async fetchLoop(session: Session, state: PartitionState): Promise<void> {
    const config = this.config;
    const max = BigInt(config.maxPollRecords);
    let failures = 0;
    while (!state.stopped && !session.stopped) {
      if (state.paused || state.outstanding() * 2n > max) {
        await new Promise<void>((resolve) => (state.wake = resolve));
        continue;
      }
      const epoch = state.epoch;
      const from = state.position;
      const maxMessages = Number(max - state.outstanding());
      let fetched: ConsumedRecord[];
      try {
        const client = await this.client('fetch');
        fetched = await firstValueFrom(
          client.consume$(state.topic, {
            partition: state.partition,
            offset: from,
            maxMessages,
            isolationLevel: config.isolationLevel,
            maxWaitMs: config.fetchMaxWaitMs,
          }),
        );
        failures = 0;
        if (fetched.length === 0 && !state.stopped && state.epoch === epoch) {
          await this.skipInvisible(client, state, from, maxMessages);
          continue;
        }
      } catch (error) {
        if (state.stopped || session.stopped) return;
        if (error instanceof ServerError && error.serverCode === 'OFFSET_OUT_OF_RANGE') {
          const client = await this.client('fetch');
          const bounds = await firstValueFrom(client.getOffsetBounds$(state.topic, state.partition));
          if (state.epoch === epoch) this.seek(state.topic, state.partition, config.autoOffsetReset === 'earliest' ? bounds.earliest : bounds.latest);
          continue;
        }
        const retriable = error instanceof RivvenError && error.retriable;
        if (!retriable || ++failures > config.maxReconnectAttempts) {
          session.subscriber.error(error);
          return;
        }
        if (error instanceof ConnectionError) this.dropClient('fetch');
        await this.sleep(session, this.backoff(failures));
        continue;
      }
      const visible = fetched.filter((r) => r.offset >= from);
      if (visible.length === 0) continue;
      const values = await Promise.all(visible.map((r) => tryDecompressValue(r.value)));
      if (state.stopped || !state.emitting || state.epoch !== epoch || session.stopped) continue;
      const records = visible.map((r, i) => this.toRecord(r, values[i]!, state, epoch));
      state.position = visible[visible.length - 1]!.offset + 1n;
      session.subscriber.next(records);
    }
  }

  /**
   * An empty answer while the partition has records past our position: the records there are
   * invisible (transaction markers; aborted records under read_committed). Step over them.
   */
  private async skipInvisible(client: Client, state: PartitionState, from: bigint, maxMessages: number): Promise<void> {
    const bounds = await firstValueFrom(client.getOffsetBounds$(state.topic, state.partition));
    if (bounds.latest <= from || state.position !== from) return;
    let next: bigint;
    if (from < bounds.earliest) {
      next = bounds.earliest;
    } else {
      const raw = await firstValueFrom(client.consume$(state.topic, { partition: state.partition, offset: from, maxMessages, isolationLevel: 'read_uncommitted' }));
      const first = raw[0];
      if (first === undefined) next = from + BigInt(maxMessages) < bounds.latest ? from + BigInt(maxMessages) : bounds.latest;
      else if (first.offset > from) next = first.offset;
      else next = raw[raw.length - 1]!.offset + 1n; // all hidden by read_committed
    }
    if (state.position === from && !state.stopped) {
      state.position = next;
      if (state.acked === undefined && state.epochStart === from) state.epochStart = next;
    }
  }

  private toRecord(r: ConsumedRecord, value: Buffer, state: PartitionState, epoch: number): ConsumerRecord {
    const offset = r.offset;
    const acknowledge = (): void => {
      if (state.stopped || state.epoch !== epoch) return;
      if (state.acked === undefined || offset + 1n > state.acked) {
        state.acked = offset + 1n;
        if (state.outstanding() * 2n <= BigInt(this.config.maxPollRecords)) state.signal();
      }
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
