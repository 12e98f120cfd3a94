/**
 * `Producer`: `send$(record)` is a cold Observable of the record's metadata, completing when the
 * broker acknowledged it. Inside, accepted records wait per topic-partition; a partition's records
 * leave as one `PublishBatch` (or `IdempotentPublishBatch`) when `batchSize` bytes are queued or
 * `lingerMs` has passed, one batch in flight per partition (order is kept), at most
 * `maxInFlightRequests` in flight overall (record-accumulator.ts). Partitions are spread over
 * `connections` connections (connection-lanes.ts), so batches of different partitions are written in
 * parallel. Memory is bounded by `bufferMemory`. A batch is retried until its records'
 * `deliveryTimeoutMs` (batch-sender.ts); the idempotent producer's id and sequences, and their
 * re-initialisation after the broker lost them, are in idempotence.ts.
 */
import {
  BehaviorSubject,
  Observable,
  Subject,
  asapScheduler,
  asyncScheduler,
  firstValueFrom,
  throttleTime,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { AllServersUnavailableError, ConfigError, ConnectionError, TimeoutError } from '../errors.js';
import type { Client } from '../client/client.js';
import type { Bytes } from '../client/client-types.js';
import { createLog } from '../observability/log.js';
import { compressValue, compressValueSync } from '../protocol/compression.js';
import { MAX_LIST_LEN } from '../protocol/request-schema.js';
import { ConnectionLanes } from './connection-lanes.js';
import type { LaneHandle } from '../client/server-lanes.js';
import { BatchSender } from './batch-sender.js';
import { Idempotence } from './idempotence.js';
import { retryDelay } from './retry-delay.js';
import { RecordAccumulator, type ReadyBatch } from './record-accumulator.js';
import { MemoryBudget } from './memory-budget.js';
import { Partitioner } from './partitioner.js';
import { laneClientOptions, resolveProducerConfig, type ProducerConfig, type ProducerConfigInput } from './producer-config.js';

export interface ProducerRecord<C = unknown> {
  topic: string;
  value: Bytes;
  key?: Bytes;
  /** Explicit partition; otherwise murmur2 of the key, or sticky for keyless records. */
  partition?: number;
  /** Carried through to the result untouched (Reactor Kafka's correlation metadata). */
  correlation?: C;
}

export interface ProducerResult<C = unknown> {
  topic: string;
  partition: number;
  offset: bigint;
  /** When the producer accepted the record (ms since the epoch); the broker stamps its own time. */
  timestamp: bigint;
  correlation: C | undefined;
}

export interface ProducerHealth {
  recordsSent: number;
  recordsAcked: number;
  recordsFailed: number;
  batchesSent: number;
  averageBatchSize: number;
  /** Delivery attempts repeated after a retriable failure (all batches together). */
  retries: number;
  /**
   * Times the idempotent producer obtained a new producer id because the broker had lost its state
   * (`UNKNOWN_PRODUCER_ID` / `OUT_OF_ORDER_SEQUENCE`, e.g. after a broker restart) or a batch's
   * outcome was left unknown (KIP-360). A batch in flight at such a moment may be stored twice.
   */
  producerIdResets: number;
  /** Compressed bytes / original bytes of compressed values (1 when compression is off). */
  compressionRatio: number;
  pendingRecords: number;
  pendingBytes: number;
  waitingForMemory: number;
  requestLatencyP50Ms: number | undefined;
  requestLatencyP99Ms: number | undefined;
  idempotent: boolean;
  /** The last failure of a delivery attempt; cleared when a batch is acknowledged again. */
  lastError: string | undefined;
}

/** Per-record framing overhead counted against bufferMemory and batchSize. */
const RECORD_OVERHEAD = 16;

/** Where one record's outcome goes. */
interface DeliverySink<C> {
  resolve(result: ProducerResult<C>): void;
  reject(error: unknown): void;
}

const noop = (): void => undefined;

/** A record from acceptance to outcome. A class, so the hot path allocates one shaped object. */
class PendingRecord {
  /** Not yet assigned (keyless/keyed records wait for the topic's partition count). */
  partition: number;
  settled = false;
  cancelled = false;
  batched = false;
  /** Bytes of bufferMemory held for this record. */
  reserved = false;

  constructor(
    readonly topic: string,
    readonly explicitPartition: boolean,
    partition: number,
    readonly key: Buffer | undefined,
    readonly value: Buffer,
    readonly size: number,
    /** When the producer accepted it (ms since the epoch). */
    readonly acceptedAt: number,
    /** Scheduler time by which the record must be acknowledged (deliveryTimeoutMs). */
    readonly deadline: number,
    readonly correlation: unknown,
    readonly resolve: (result: ProducerResult) => void,
    readonly reject: (error: unknown) => void,
  ) {
    this.partition = partition;
  }

  /** Withdrawn or settled: the accumulator skips it. */
  get dropped(): boolean {
    return this.cancelled || this.settled;
  }
}

interface TopicMetadata {
  partitionCount: number;
  fetchedAt: number;
}

function toBuffer(value: Bytes, option: string): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new ConfigError(option, 'must be a Buffer, Uint8Array or string');
}

export class Producer {
  readonly config: Readonly<ProducerConfig>;
  private readonly scheduler: SchedulerLike;
  private readonly lanes: ConnectionLanes;
  private readonly budget: MemoryBudget;
  private readonly partitioner: Partitioner;
  private readonly accumulator: RecordAccumulator<PendingRecord>;
  private readonly metadata = new Map<string, TopicMetadata>();
  private readonly metadataWaiters = new Map<string, PendingRecord[]>();
  private readonly outstanding = new Set<PendingRecord>();
  private readonly flushWaiters: { remaining: Set<PendingRecord>; resolve: () => void }[] = [];
  private readonly slotWaiters: (() => void)[] = [];
  private inFlightBatches = 0;
  private readonly idempotence: Idempotence;
  private readonly sender: BatchSender;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly counters = {
    recordsSent: 0,
    recordsAcked: 0,
    recordsFailed: 0,
    batchesSent: 0,
    batchedRecords: 0,
    retries: 0,
    originalBytes: 0,
    compressedBytes: 0,
  };
  private lastError: string | undefined;
  private deliveryTimer: Subscription | undefined;
  private readonly changes = new Subject<void>();
  private readonly healthSubject: BehaviorSubject<ProducerHealth>;
  private readonly healthSubscription: Subscription;

  /** Live producer stats: emitted on change, at most every 250 ms; completes on close(). */
  readonly health$: Observable<ProducerHealth>;

  private constructor(config: ProducerConfig) {
    this.config = config;
    this.scheduler = config.scheduler ?? asyncScheduler;
    // lingerMs 0: send at the end of the current tick, so records sent together leave together.
    const lingerScheduler = config.scheduler ?? (config.lingerMs === 0 ? asapScheduler : asyncScheduler);
    this.budget = new MemoryBudget(config.bufferMemory);
    this.partitioner = new Partitioner(config.batchSize);
    this.lanes = new ConnectionLanes(config.bootstrapServers, laneClientOptions(config), config.connections);
    const log = createLog('producer', config.logger, config.logLevel, { clientId: config.clientId });
    this.idempotence = new Idempotence(
      config.enableIdempotence,
      () => this.onLane(this.lanes.primary(), (client) => firstValueFrom(client.initProducerId$())),
      (reason) => (this.lastError = reason),
      log,
    );
    this.sender = new BatchSender({
      log,
      retry: config.retry,
      scheduler: this.scheduler,
      idempotence: this.idempotence,
      onRetry: (error) => {
        this.lastError = (error as Error).message;
        this.counters.retries++;
        this.changes.next();
      },
    });
    this.accumulator = new RecordAccumulator<PendingRecord>({
      batchSize: config.batchSize,
      lingerMs: config.lingerMs,
      maxRecords: MAX_LIST_LEN,
      scheduler: lingerScheduler,
      urgent: () => this.flushWaiters.length > 0,
      onBatch: (batch) => this.dispatch(batch),
      onDropped: (record) => this.discard(record),
    });
    this.healthSubject = new BehaviorSubject(this.snapshot());
    this.health$ = this.healthSubject.asObservable();
    this.healthSubscription = this.changes
      .pipe(throttleTime(250, this.scheduler, { leading: true, trailing: true }))
      .subscribe(() => this.healthSubject.next(this.snapshot()));
  }

  /** Validate the configuration and create a producer. It connects on the first send. */
  static create(config: ProducerConfigInput): Producer {
    return new Producer(resolveProducerConfig(config));
  }

  /** Whether batches go out idempotently (false until granted by the broker, or if it refused). */
  isIdempotent(): boolean {
    return this.idempotence.isGranted();
  }

  /** The producer's figures now (`health$` emits the same on change). */
  health(): ProducerHealth {
    return this.snapshot();
  }

  /**
   * Send one record. Cold: nothing happens until subscription. Emits the record's metadata once
   * the broker acknowledged it. Waits (up to `maxBlockMs`) when `bufferMemory` is full. Fails with a
   * typed error after `deliveryTimeoutMs`, or at once for a non-retriable broker error.
   */
  send$<C = unknown>(record: ProducerRecord<C>): Observable<ProducerResult<C>> {
    return new Observable<ProducerResult<C>>((subscriber) =>
      this.submit(record, {
        resolve: (result) => {
          subscriber.next(result);
          subscriber.complete();
        },
        reject: (error) => subscriber.error(error),
      }),
    );
  }

  /**
   * Accept one record; its outcome goes to `sink` exactly once (unless withdrawn). Returns the
   * withdrawal: records not yet handed to the broker are dropped, waits for memory are cancelled.
   */
  private submit<C>(record: ProducerRecord<C>, sink: DeliverySink<C>): () => void {
    if (this.closed) {
      sink.reject(new ConnectionError('the producer is closed; create a new one'));
      return noop;
    }
    let entry: PendingRecord;
    try {
      entry = this.makeRecord(record, sink);
    } catch (error) {
      sink.reject(error);
      return noop;
    }
    this.outstanding.add(entry);
    if (this.deliveryTimer === undefined) this.armDeliveryTimer();
    let admitted = false;
    const admit = () => {
      admitted = true;
      entry.reserved = true;
      // Timed out while waiting for memory: hand the room straight back.
      if (entry.settled) this.releaseMemory(entry);
      else this.accept(entry);
    };
    let cancelWait: (() => void) | undefined;
    let blockTimer: Subscription | undefined;
    if (this.budget.tryReserve(entry.size)) {
      admit();
    } else {
      cancelWait = this.budget.wait(entry.size, () => {
        blockTimer?.unsubscribe();
        admit();
      });
      this.changes.next();
      blockTimer = this.scheduler.schedule(() => {
        cancelWait?.();
        this.settle(
          entry,
          new TimeoutError(
            `bufferMemory (${this.config.bufferMemory} bytes) stayed full for maxBlockMs (${this.config.maxBlockMs} ms): ` +
              'the broker is slower than the send rate; slow down, or raise bufferMemory/maxBlockMs',
          ),
        );
      }, this.config.maxBlockMs);
    }
    return () => {
      blockTimer?.unsubscribe();
      if (entry.settled) return;
      if (!admitted) {
        cancelWait?.();
        this.retire(entry);
        this.settleFlushWaiters(entry);
      } else if (!entry.batched) {
        // Not yet handed to the broker: withdraw it (its memory is freed when its queue drains).
        entry.cancelled = true;
      }
    };
  }

  /**
   * One timer for every record's deliveryTimeoutMs rather than one per record: records leave
   * `outstanding` in acceptance order, so the oldest one is always first and has the nearest deadline.
   */
  private armDeliveryTimer(): void {
    this.deliveryTimer?.unsubscribe();
    this.deliveryTimer = undefined;
    const oldest = this.outstanding.values().next().value as PendingRecord | undefined;
    if (oldest === undefined) return;
    this.deliveryTimer = this.scheduler.schedule(() => {
      this.deliveryTimer = undefined;
      this.expireOverdue();
    }, Math.max(0, oldest.deadline - this.scheduler.now()));
  }

  private expireOverdue(): void {
    const now = this.scheduler.now();
    for (const entry of this.outstanding) {
      if (entry.deadline > now) break;
      // Deleting the current element while iterating a Set is safe.
      this.settle(
        entry,
        new TimeoutError(`record for ${entry.topic} not acknowledged within deliveryTimeoutMs (${this.config.deliveryTimeoutMs} ms)`),
      );
    }
    this.armDeliveryTimer();
  }

  /**
   * Send every record of a stream; results in order per partition, each with its correlation.
   * Completes when the stream completed and every record has its outcome; the first failure errors
   * the stream and withdraws the records not yet handed to the broker. Written without an inner
   * subscription per record (as `mergeMap(send$)` would make), so bursts of many thousand records
   * cost the same per record as a few.
   */
  sendAll$<C>(records$: Observable<ProducerRecord<C>>): Observable<ProducerResult<C>> {
    return new Observable<ProducerResult<C>>((subscriber) => {
      const withdrawals = new Set<() => void>();
      let sourceDone = false;
      const source = records$.subscribe({
        next: (record) => {
          let withdraw: (() => void) | undefined;
          let settled = false;
          withdraw = this.submit(record, {
            resolve: (result) => {
              settled = true;
              if (withdraw) withdrawals.delete(withdraw);
              subscriber.next(result);
              if (sourceDone && withdrawals.size === 0) subscriber.complete();
            },
            reject: (error) => {
              settled = true;
              if (withdraw) withdrawals.delete(withdraw);
              subscriber.error(error);
            },
          });
          if (!settled) withdrawals.add(withdraw);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          if (withdrawals.size === 0) subscriber.complete();
        },
      });
      return () => {
        source.unsubscribe();
        for (const withdraw of withdrawals) withdraw();
        withdrawals.clear();
      };
    });
  }

  /** Re-read a topic's partition count now (new partitions are then used at once). */
  refreshMetadata$(topic: string): Observable<number> {
    return new Observable<number>((subscriber) => {
      this.fetchMetadata(topic).then(
        (count) => {
          subscriber.next(count);
          subscriber.complete();
        },
        (error: unknown) => subscriber.error(error),
      );
    });
  }

  /** Resolves when every record sent before the call has an outcome (acknowledged or failed). */
  flush(): Promise<void> {
    if (this.outstanding.size === 0) return Promise.resolve();
    const promise = new Promise<void>((resolve) => this.flushWaiters.push({ remaining: new Set(this.outstanding), resolve }));
    this.accumulator.drain();
    return promise;
  }

  /** Flush, then release the connection and timers. Further sends fail. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      await this.flush();
      this.accumulator.close();
      await this.lanes.close();
      this.healthSubscription.unsubscribe();
      this.healthSubject.next(this.snapshot());
      this.healthSubject.complete();
      this.changes.complete();
    })();
    return this.closing;
  }

  // ---- intake ---------------------------------------------------------------------------------

  private makeRecord<C>(record: ProducerRecord<C>, sink: DeliverySink<C>): PendingRecord {
    if (typeof record?.topic !== 'string' || record.topic.length === 0) throw new ConfigError('record.topic', 'must be a non-empty string');
    if (record.value === undefined || record.value === null) throw new ConfigError('record.value', 'is required');
    const value = toBuffer(record.value, 'record.value');
    const key = record.key === undefined ? undefined : toBuffer(record.key, 'record.key');
    const explicit = record.partition !== undefined;
    if (explicit && (!Number.isInteger(record.partition) || record.partition! < 0)) {
      throw new ConfigError('record.partition', `must be a non-negative integer, got ${record.partition}`);
    }
    const size = value.length + (key?.length ?? 0) + RECORD_OVERHEAD;
    if (size > this.config.bufferMemory) {
      throw new ConfigError('record', `of ${size} bytes is larger than bufferMemory (${this.config.bufferMemory}); raise bufferMemory`);
    }
    return new PendingRecord(
      record.topic,
      explicit,
      record.partition ?? -1,
      key,
      value,
      size,
      Date.now(),
      this.scheduler.now() + this.config.deliveryTimeoutMs,
      record.correlation,
      sink.resolve as (result: ProducerResult) => void,
      sink.reject,
    );
  }

  private accept(entry: PendingRecord): void {
    this.counters.recordsSent++;
    this.changes.next();
    // Explicit partitions go through metadata too: a topic that does not exist fails the same way
    // whether or not a partition is given (rivvend would otherwise create it, with 3 partitions, on
    // the first publish), and a partition past the topic's count is refused before it is sent.
    const known = this.metadata.get(entry.topic);
    const waiting = this.metadataWaiters.get(entry.topic);
    if (known !== undefined && waiting === undefined && (!entry.explicitPartition || entry.partition < known.partitionCount)) {
      if (this.scheduler.now() - known.fetchedAt > this.config.metadataMaxAgeMs) void this.fetchMetadata(entry.topic).catch(() => undefined);
      this.assignPartition(entry, known.partitionCount);
      return;
    }
    // Unknown topic: wait for its metadata, keeping arrival order.
    if (waiting !== undefined) {
      waiting.push(entry);
      return;
    }
    this.metadataWaiters.set(entry.topic, [entry]);
    this.awaitMetadata(entry.topic, 0);
  }

  /**
   * Fetch a topic's partition count for the records waiting for it. While the broker cannot be
   * reached, try again (with backoff) until the waiting records' deliveryTimeoutMs (or
   * `retry.maxAttempts` attempts); a broker answer (such as an unknown topic) fails them at once.
   */
  private awaitMetadata(topic: string, attempt: number): void {
    this.fetchMetadata(topic).then(
      (count) => {
        const queued = this.metadataWaiters.get(topic) ?? [];
        this.metadataWaiters.delete(topic);
        for (const waiter of queued) this.assignPartition(waiter, count);
      },
      (error: unknown) => {
        const queued = (this.metadataWaiters.get(topic) ?? []).filter((waiter) => !waiter.settled);
        if (queued.length > 0 && isUnreachable(error) && attempt + 1 < this.config.retry.maxAttempts && !this.closedForGood()) {
          this.metadataWaiters.set(topic, queued);
          this.lastError = (error as Error).message;
          this.changes.next();
          this.scheduler.schedule(() => this.awaitMetadata(topic, attempt + 1), retryDelay(attempt, this.config.retry));
          return;
        }
        this.metadataWaiters.delete(topic);
        for (const waiter of queued) this.settle(waiter, error);
      },
    );
  }

  /** Closed and nothing left to deliver: retries stop. */
  private closedForGood(): boolean {
    return this.closed && this.outstanding.size === 0;
  }

  /** Run `operation` on a lane's client; a connection that failed or timed out is dropped for the next try. */
  private async onLane<T>(lane: LaneHandle, operation: (client: Client) => Promise<T>): Promise<T> {
    const client = await lane.client();
    try {
      return await operation(client);
    } catch (error) {
      if (error instanceof ConnectionError || error instanceof TimeoutError) lane.reset();
      throw error;
    }
  }

  private assignPartition(entry: PendingRecord, partitionCount: number): void {
    if (entry.settled) return;
    if (!entry.explicitPartition) {
      entry.partition = this.partitioner.partition(entry.topic, entry.key, partitionCount, entry.size);
    } else if (entry.partition >= partitionCount) {
      this.settle(
        entry,
        new ConfigError('record.partition', `topic '${entry.topic}' has ${partitionCount} partition(s) (0..${partitionCount - 1}), got ${entry.partition}`),
      );
      return;
    }
    this.enqueue(entry);
  }

  private async fetchMetadata(topic: string): Promise<number> {
    const info = await this.onLane(this.lanes.primary(), (client) => firstValueFrom(client.getMetadata$(topic)));
    if (info.partitions < 1) throw new ConfigError('topic', `'${topic}' has no partitions`);
    this.metadata.set(topic, { partitionCount: info.partitions, fetchedAt: this.scheduler.now() });
    return info.partitions;
  }

  // ---- batching -------------------------------------------------------------------------------

  private enqueue(entry: PendingRecord): void {
    if (entry.settled) return;
    this.accumulator.append(entry.topic, entry.partition, entry);
  }

  private dispatch(batch: ReadyBatch<PendingRecord>): void {
    if (batch.records.some((r) => !r.explicitPartition && r.key === undefined)) this.partitioner.batchSent(batch.topic, batch.partition);
    void this.sendBatch(batch).finally(() => this.accumulator.batchDone(batch.topic, batch.partition));
  }

  /** A withdrawn record left its queue: give its memory back and let flushes move on. */
  private discard(entry: PendingRecord): void {
    this.releaseMemory(entry);
    if (!entry.settled) {
      this.retire(entry);
      this.settleFlushWaiters(entry);
    }
  }

  private acquireSlot(): Promise<void> {
    if (this.inFlightBatches < this.config.maxInFlightRequests) {
      this.inFlightBatches++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  private releaseSlot(): void {
    const next = this.slotWaiters.shift();
    if (next) next();
    else this.inFlightBatches--;
  }

  /** Deliver one batch (batch-sender.ts retries it until its deadline) and settle its records. */
  private async sendBatch(queue: ReadyBatch<PendingRecord>): Promise<void> {
    const batch = queue.records;
    const lane = this.lanes.forPartition(queue.topic, queue.partition);
    await this.acquireSlot();
    try {
      const records = await this.encodeValues(batch);
      const outcome = await this.sender.send({
        topic: queue.topic,
        partition: queue.partition,
        records,
        lane,
        // Every record timed out meanwhile: nobody waits for this batch any more.
        abandoned: () => batch.every((entry) => entry.settled),
      });
      if (outcome === undefined) return;
      if (!outcome.acknowledged) {
        this.lastError = (outcome.error as Error).message;
        for (const entry of batch) this.settle(entry, outcome.error);
        return;
      }
      this.lastError = undefined;
      this.counters.batchesSent++;
      this.counters.batchedRecords += batch.length;
      batch.forEach((entry, i) =>
        this.settle(entry, undefined, {
          topic: queue.topic,
          partition: queue.partition,
          offset: outcome.baseOffset + BigInt(i),
          timestamp: BigInt(entry.acceptedAt),
          correlation: entry.correlation,
        }),
      );
    } catch (error) {
      for (const entry of batch) this.settle(entry, error);
    } finally {
      this.releaseSlot();
      this.changes.next();
    }
  }

  private async encodeValues(batch: PendingRecord[]): Promise<{ key?: Buffer; value: Buffer }[]> {
    if (this.config.compressionType === 'none') return batch.map((r) => ({ key: r.key, value: r.value }));
    // LZ4 and Snappy compress synchronously: no Promise per value. Only zstd values wait.
    const options = { algorithm: this.config.compressionType };
    const compressed: Buffer[] = new Array<Buffer>(batch.length);
    let waits: Promise<void>[] | undefined;
    for (let i = 0; i < batch.length; i++) {
      const value = batch[i]!.value;
      const done = compressValueSync(value, options);
      if (done !== undefined) compressed[i] = done;
      else (waits ??= []).push(compressValue(value, options).then((out) => void (compressed[i] = out)));
    }
    if (waits !== undefined) await Promise.all(waits);
    for (let i = 0; i < batch.length; i++) {
      this.counters.originalBytes += batch[i]!.value.length;
      this.counters.compressedBytes += compressed[i]!.length;
    }
    return batch.map((r, i) => ({ key: r.key, value: compressed[i]! }));
  }

  private releaseMemory(entry: PendingRecord): void {
    if (!entry.reserved) return;
    entry.reserved = false;
    this.budget.release(entry.size);
  }

  private settle(entry: PendingRecord, error: unknown, result?: ProducerResult): void {
    if (entry.settled) return;
    this.retire(entry);
    this.releaseMemory(entry);
    if (error === undefined && result !== undefined) {
      this.counters.recordsAcked++;
      entry.resolve(result);
    } else {
      this.counters.recordsFailed++;
      entry.reject(error);
    }
    this.settleFlushWaiters(entry);
    this.changes.next();
  }

  /**
   * The record has its outcome (or was withdrawn): it leaves `outstanding`, and once nothing is
   * outstanding the deliveryTimeoutMs timer stops, so an idle producer holds no timer.
   */
  private retire(entry: PendingRecord): void {
    entry.settled = true;
    this.outstanding.delete(entry);
    if (this.outstanding.size === 0) this.armDeliveryTimer();
  }

  private settleFlushWaiters(entry: PendingRecord): void {
    for (let i = this.flushWaiters.length - 1; i >= 0; i--) {
      const waiter = this.flushWaiters[i]!;
      waiter.remaining.delete(entry);
      if (waiter.remaining.size === 0) {
        this.flushWaiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  private snapshot(): ProducerHealth {
    // Latency of the slowest open connection: the figure a record's wait depends on.
    let p50: number | undefined;
    let p99: number | undefined;
    for (const lane of this.lanes.opened()) {
      const health = lane.connected()?.health();
      if (health?.latencyP50Ms !== undefined) p50 = Math.max(p50 ?? 0, health.latencyP50Ms);
      if (health?.latencyP99Ms !== undefined) p99 = Math.max(p99 ?? 0, health.latencyP99Ms);
    }
    return {
      recordsSent: this.counters.recordsSent,
      recordsAcked: this.counters.recordsAcked,
      recordsFailed: this.counters.recordsFailed,
      batchesSent: this.counters.batchesSent,
      averageBatchSize: this.counters.batchesSent === 0 ? 0 : this.counters.batchedRecords / this.counters.batchesSent,
      retries: this.counters.retries,
      producerIdResets: this.idempotence.resets,
      compressionRatio: this.counters.originalBytes === 0 ? 1 : this.counters.compressedBytes / this.counters.originalBytes,
      pendingRecords: this.outstanding.size,
      pendingBytes: this.budget.inUse,
      waitingForMemory: this.budget.waiting,
      requestLatencyP50Ms: p50,
      requestLatencyP99Ms: p99,
      idempotent: this.idempotence.isGranted(),
      lastError: this.lastError,
    };
  }
}

/** The broker could not be reached (as opposed to answering with an error). */
function isUnreachable(error: unknown): boolean {
  return error instanceof ConnectionError || error instanceof TimeoutError || error instanceof AllServersUnavailableError;
}
