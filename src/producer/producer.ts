/**
 * `Producer`: `send$(record)` is a cold Observable of the record's metadata, completing when the
 * broker acknowledged it. Inside, accepted records wait per topic-partition; a partition's records
 * leave as one `PublishBatch` (or `IdempotentPublishBatch`) when `batchSize` bytes are queued or
 * `lingerMs` has passed, one batch in flight per partition (order is kept), at most
 * `maxInFlightRequests` in flight overall (record-accumulator.ts, batch-dispatch.ts). Partitions
 * are spread over `connections` connections (partition-lanes.ts), so batches of different
 * partitions are written in parallel. Memory is bounded by `bufferMemory`. A batch is retried
 * until its records' `deliveryTimeoutMs` (batch-sender.ts, outstanding-records.ts); the idempotent
 * producer's id and sequences, and their re-initialisation after the broker lost them, are in
 * idempotence.ts. Partition counts: topic-metadata.ts; health figures: producer-health.ts. Around
 * the core: sendAll$ (record-stream-send.ts), the Observer side (results-feed.ts), the promise
 * helpers (record-batch-promise.ts), the broker contact and its deadlines (broker-contact.ts),
 * close's bound (close-bound.ts).
 */
import { Observable, asapScheduler, asyncScheduler, firstValueFrom, type Observer, type SchedulerLike, type Subscription } from 'rxjs';
import { BufferFullError, ClosedError, ConfigError, ConnectionError, RivvenTimeoutError } from '../errors.js';
import type { Client } from '../client/client.js';
import { createLog } from '../observability/log.js';
import { durationMs } from '../settings-validation.js';
import { MAX_LIST_LEN } from '../protocol/request-schema.js';
import { publishRequestOverhead } from '../protocol/request-size.js';
import { requireCompressor } from '../protocol/compression.js';
import { PartitionLanes } from './partition-lanes.js';
import type { ConnectionSeam, LaneHandle } from '../client/pinned-lanes.js';
import { BatchSender } from './batch-sender.js';
import { Retrier } from '../client/retrier.js';
import { BatchDispatcher } from './batch-dispatch.js';
import { Idempotence } from './idempotence.js';
import { FlushWaiters, OutstandingRecords } from './outstanding-records.js';
import { RecordAccumulator, type ReadyBatch } from './record-accumulator.js';
import { MemoryBudget } from './memory-budget.js';
import { Partitioner } from './partitioner.js';
import { resolveProducerConfig, type ResolvedProducerConfig, type ProducerConfig } from './producer-config.js';
import { ProducerHealthFeed, type ProducerHealth } from './producer-health.js';
import { createPendingRecord, type DeliverySink, type PendingRecord, type ProducerRecord, type ProducerResult } from './producer-record.js';
import { TopicMetadataCache } from './topic-metadata.js';
import { ResultsFeed, type ProducerOutcome } from './results-feed.js';
import { BrokerContact } from './broker-contact.js';
import { sendRecords } from './record-batch-promise.js';
import { failUnsettled } from './close-bound.js';
import { sendStream } from './record-stream-send.js';
import { waitForRoom } from './memory-wait.js';
import { connectionOptionsOf } from '../transport/connection-options.js';

const noop = (): void => undefined;

/** The longest topic name (256 bytes): a batch cut for it fits a request whatever its topic. */
const LONGEST_TOPIC = 'x'.repeat(256);

/** Options of `Producer.close`. */
export interface ProducerCloseOptions {
  /**
   * How long to wait for the outcome of the records accepted before `close()`. Default: no bound
   * besides theirs (`deliveryTimeoutMs`). Records still without an outcome when it runs out fail:
   * those never sent with `ClosedError` (not stored), those sent with `UnknownOutcomeError` (the
   * broker's answer never came: they may be stored).
   */
  timeoutMs?: number;
}

/** Options of the promise helpers `send` and `sendBatch`. */
export interface SendOptions {
  /** Aborting withdraws the records not yet handed to the broker; the promise rejects with SendAbortedError. */
  signal?: AbortSignal;
}

/** How `submit` treats a record that finds `bufferMemory` full. */
type Overflow = 'wait' | 'refuse';

/**
 * A producer of records: `send$(record)` (cold: emits the record's result once the broker
 * acknowledged it), or an RxJS Observer of records (`records$.subscribe(producer)`) whose outcomes
 * arrive on `results$`. Records are batched per partition (`lingerMs`, `batchSize`), memory is
 * bounded by `bufferMemory`, and a batch is retried until `deliveryTimeoutMs`. Create it with
 * `Producer.create` (or `rivven.producer()`).
 */
export class Producer implements Observer<ProducerRecord> {
  /** The configuration in force, defaults filled in. */
  readonly config: Readonly<ResolvedProducerConfig>;
  private readonly scheduler: SchedulerLike;
  private readonly lanes: PartitionLanes;
  private readonly budget: MemoryBudget;
  private readonly partitioner: Partitioner;
  private readonly accumulator: RecordAccumulator<PendingRecord>;
  private readonly metadata: TopicMetadataCache<PendingRecord>;
  private readonly outstanding: OutstandingRecords<PendingRecord>;
  private readonly flushWaiters = new FlushWaiters<PendingRecord>();
  private readonly idempotence: Idempotence;
  private readonly dispatcher: BatchDispatcher;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Whether a broker was ever reached, the last failure seen, and what an overdue record is told (broker-contact.ts). */
  private readonly contact: BrokerContact;
  private readonly log: ReturnType<typeof createLog>;
  private readonly healthFeed: ProducerHealthFeed;

  /** Live producer stats: emitted on change, at most every 250 ms; completes on close(). */
  readonly health$: Observable<ProducerHealth>;
  private readonly results: ResultsFeed;

  private constructor(config: ResolvedProducerConfig, seam: ConnectionSeam) {
    // compressionType's addon is an optional dependency: a missing one is a CompressionError now.
    requireCompressor(config.compressionType);
    this.config = config;
    this.scheduler = config.scheduler ?? asyncScheduler;
    // lingerMs 0: send at the end of the current tick, so records sent together leave together.
    const lingerScheduler = config.scheduler ?? (config.lingerMs === 0 ? asapScheduler : asyncScheduler);
    this.budget = new MemoryBudget(config.bufferMemory);
    this.partitioner = new Partitioner(config.batchSize);
    const log = createLog('producer', config.logger, config.logLevel, { clientId: config.clientId });
    this.log = log;
    // closeTimeoutMs 0: by the time close() closes the lanes every record has its outcome, so a
    // reply still on its way has nobody waiting for it (an abandoned batch's): no reason to wait.
    this.lanes = new PartitionLanes(config.bootstrapServers, { ...connectionOptionsOf(config), closeTimeoutMs: 0 }, config.connections, {
      ...(seam.connect === undefined ? {} : { connect: seam.connect }),
      onUnreachable: (error, servers) => this.contact.unreachable(error, servers),
      onConnected: () => this.contact.connected(),
    });
    this.outstanding = new OutstandingRecords<PendingRecord>(this.scheduler, (entry, reason) => this.settle(entry, this.contact.overdueError(entry.topic, reason)));
    // Until a broker answers once, a record waits at most maxBlockMs: a wrong address fails fast.
    this.outstanding.setFirstContactMs(config.maxBlockMs);
    this.idempotence = new Idempotence(
      config.enableIdempotence,
      () => this.onLane(this.lanes.primary(), (client) => firstValueFrom(client.initProducerId$())),
      (reason) => (this.healthFeed.lastError = reason),
      log,
    );
    const retrier = new Retrier(config.retry, this.scheduler);
    const sender = new BatchSender({
      log,
      retrier,
      idempotence: this.idempotence,
      onRetry: (error) => {
        this.contact.failed(error);
        this.healthFeed.counters.retries++;
        this.healthFeed.attemptFailed(error);
      },
    });
    this.metadata = new TopicMetadataCache<PendingRecord>({
      metadataMaxAgeMs: config.metadataMaxAgeMs,
      retrier,
      requestMetadata: (topic) => this.onLane(this.lanes.primary(), (client) => firstValueFrom(client.getMetadata$(topic))),
      retriesStopped: () => this.closedForGood(),
      onUnreachable: (error) => {
        this.contact.failed(error);
        this.healthFeed.attemptFailed(error);
      },
      assign: (entry, partitionCount) => this.assignPartition(entry, partitionCount),
      fail: (entry, error) => this.settle(entry, error),
    });
    this.accumulator = new RecordAccumulator<PendingRecord>({
      batchSize: config.batchSize,
      maxBatchBytes: config.maxRequestSize - publishRequestOverhead(LONGEST_TOPIC),
      lingerMs: config.lingerMs,
      maxRecords: MAX_LIST_LEN,
      // Sequences are the broker's per partition number: one idempotent batch in flight per number.
      ...(config.enableIdempotence ? { inFlightKey: (_topic: string, partition: number) => String(partition) } : {}),
      scheduler: lingerScheduler,
      urgent: () => this.flushWaiters.waiting,
      onBatch: (batch) => this.dispatch(batch),
      onDropped: (record) => this.discard(record),
    });
    this.healthFeed = new ProducerHealthFeed(
      { lanes: this.lanes, idempotence: this.idempotence, budget: this.budget, pendingRecords: () => this.outstanding.size },
      this.scheduler,
    );
    this.dispatcher = new BatchDispatcher({
      config,
      lanes: this.lanes,
      sender,
      health: this.healthFeed,
      settle: (entry, error, result) => this.settle(entry, error, result),
    });
    this.contact = new BrokerContact({
      bootstrapServers: config.bootstrapServers,
      maxBlockMs: config.maxBlockMs,
      deliveryTimeoutMs: config.deliveryTimeoutMs,
      log,
      health: this.healthFeed,
      onFirstContact: () => this.outstanding.setFirstContactMs(undefined),
    });
    this.health$ = this.healthFeed.health$;
    this.results = new ResultsFeed(config.stopOnError, log);
    this.healthFeed.refused = () => this.results.refused;
  }

  /**
   * Validate the configuration and create a producer. It connects on the first send.
   * `seam` is for tests: where the lane connections come from (default `Client.connect$`).
   */
  static create(config: ProducerConfig, seam: ConnectionSeam = {}): Producer {
    return new Producer(resolveProducerConfig(config), seam);
  }

  /** Whether batches go out idempotently (false until granted by the broker, or if it refused). */
  isIdempotent(): boolean {
    return this.idempotence.isGranted();
  }

  /** The producer's figures now (`health$` emits the same on change). */
  health(): ProducerHealth {
    return this.healthFeed.snapshot();
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
  private submit<C>(record: ProducerRecord<C>, sink: DeliverySink<C>, overflow: Overflow = 'wait', accepted?: (entry: PendingRecord) => void): () => void {
    if (this.closed) {
      // Not retriable: a retry operator around send$ would only meet it again.
      sink.reject(new ClosedError(`the producer is closed, so this record for '${String(record?.topic)}' was not accepted (not sent); stop sending before close(), or create a new producer`));
      return noop;
    }
    let entry: PendingRecord;
    try {
      entry = createPendingRecord(record, sink, this.config, this.scheduler);
    } catch (error) {
      sink.reject(error);
      return noop;
    }
    if (overflow === 'refuse' && !this.budget.hasRoomFor(entry.size) && this.budget.waitingBytes + entry.size > this.config.bufferMemory) {
      sink.reject(
        new BufferFullError(
          `bufferMemory (${this.config.bufferMemory} bytes) is full and as many bytes already wait for room: producer.next() refused a record for '${entry.topic}'; ` +
            'feed the producer no faster than the broker takes records, or raise bufferMemory',
        ),
      );
      return noop;
    }
    accepted?.(entry);
    this.outstanding.add(entry);
    // The common case, room at once: one small closure for the withdrawal, nothing else per record.
    if (this.budget.tryReserve(entry.size)) {
      entry.reserved = true;
      this.accept(entry);
      return () => {
        // Not yet handed to the broker: withdraw it (its memory is freed when its queue drains).
        if (!entry.settled && !entry.batched) entry.cancelled = true;
      };
    }
    // No room: wait in order, up to maxBlockMs (memory-wait.ts).
    const withdraw = waitForRoom(entry, {
      budget: this.budget,
      scheduler: this.scheduler,
      bufferMemory: this.config.bufferMemory,
      maxBlockMs: this.config.maxBlockMs,
      // Timed out while waiting for memory: hand the room straight back.
      admitted: (waited) => (waited.settled ? this.releaseMemory(waited) : this.accept(waited)),
      timedOut: (waited, error) => this.settle(waited, error),
      withdrawnWhileWaiting: (waited) => {
        this.retire(waited);
        this.flushWaiters.settled(waited);
      },
    });
    this.healthFeed.changed();
    return withdraw;
  }

  /**
   * Send every record of a stream; results in order per partition, each with its correlation.
   * Completes when the stream completed and every record has its outcome; the first failure errors
   * the stream and withdraws the records not yet handed to the broker (record-stream-send.ts).
   */
  sendAll$<C>(records$: Observable<ProducerRecord<C>>): Observable<ProducerResult<C>> {
    return sendStream(records$, (record, sink) => this.submit(record, sink));
  }


  // ---- the producer as an Observer of records (results-feed.ts) --------------------------------

  /**
   * The hot stream of the outcomes of the records given to `next()` (`records$.subscribe(producer)`),
   * each with its correlation. With `stopOnError` (default) it emits the acknowledged ones and
   * errors at the first failure; with `stopOnError: false` every outcome is a value. Completes on
   * `close()`. Subscribe before feeding records: it is hot, nothing is replayed.
   */
  get results$(): Observable<ProducerOutcome> {
    return this.results.results$;
  }

  /**
   * Take one record (the Observer side). Never blocks: past `bufferMemory` it waits for room up to
   * `maxBlockMs`, but only while no more than `bufferMemory` bytes wait already — beyond that it is
   * refused at once (`BufferFullError` on `results$`). Its outcome goes to `results$`.
   */
  next(record: ProducerRecord): void {
    if (!this.results.take(record, (sink) => this.submit(record, sink, 'refuse'))) this.healthFeed.changed();
  }


  /**
   * A source fed to the producer failed. With `stopOnError`, `results$` ends with that error (and
   * the Observer side stops); otherwise it is logged, and the records already given are flushed.
   * The producer itself stays open either way.
   */
  error(error: unknown): void {
    if (this.results.sourceFailed(error)) return;
    if (this.log.enabled('warn')) this.log.warn(`a source feeding the producer failed: ${(error as Error)?.message ?? String(error)}; its records already given are still delivered`, {});
    void this.flush();
  }

  /**
   * A source fed to the producer completed: flush (its records leave without waiting out
   * `lingerMs`). Not close: other sources may feed the same producer; `close()` ends `results$`.
   */
  complete(): void {
    void this.flush();
  }

  // ---- promise helpers ------------------------------------------------------------------------

  /** `send$` as a Promise, for code that does not use RxJS. Aborting `signal` withdraws the record if not yet sent. */
  async send<C = unknown>(record: ProducerRecord<C>, options: SendOptions = {}): Promise<ProducerResult<C>> {
    const [result] = await this.sendBatch([record], options);
    return result!;
  }

  /**
   * Send records together; resolves with their results in the order given, or rejects with the
   * first failure (the rest are still delivered, their outcomes not reported). Aborting `signal`
   * withdraws those not yet handed to the broker and rejects with a SendAbortedError naming which
   * were withdrawn and which were already sent.
   */
  sendBatch<C = unknown>(records: readonly ProducerRecord<C>[], options: SendOptions = {}): Promise<ProducerResult<C>[]> {
    return sendRecords(records, options.signal, (record, sink, accepted) => this.submit(record, sink, 'wait', accepted));
  }

  /** Re-read a topic's partition count now (new partitions are then used at once). */
  refreshMetadata$(topic: string): Observable<number> {
    return new Observable<number>((subscriber) => {
      this.metadata.refresh(topic).then(
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
    const promise = this.flushWaiters.wait(this.outstanding.current());
    this.accumulator.drain();
    return promise;
  }

  /**
   * Stop accepting records (a later `send$` fails with `ClosedError`, not retriable), deliver the
   * outcome of every record accepted before — acknowledged or failed, each to its caller — then
   * release the connections and timers. Resolves once every accepted record has its outcome: within
   * `deliveryTimeoutMs`, or `options.timeoutMs` when given (see ProducerCloseOptions for what the
   * records still waiting then get).
   */
  close(options: ProducerCloseOptions = {}): Promise<void> {
    if (this.closing) return this.closing;
    const timeoutMs = options.timeoutMs === undefined ? undefined : durationMs('close({ timeoutMs })', options.timeoutMs, 0);
    this.closed = true;
    this.closing = (async () => {
      await this.settleWithin(timeoutMs);
      this.accumulator.close();
      this.outstanding.close();
      this.results.complete();
      await this.lanes.close();
      this.healthFeed.complete();
    })();
    return this.closing;
  }

  /** `close()`, for `await using producer = ...`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Flush; when `timeoutMs` runs out first, fail what is still waiting (saying whether it was sent). */
  private async settleWithin(timeoutMs: number | undefined): Promise<void> {
    const flushed = this.flush();
    if (timeoutMs === undefined) return flushed;
    let timer: Subscription | undefined;
    const timedOut = new Promise<void>((resolve) => (timer = this.scheduler.schedule(resolve, timeoutMs)));
    await Promise.race([flushed, timedOut]);
    timer?.unsubscribe();
    failUnsettled([...this.outstanding.current()], timeoutMs, this.contact.lastFailure, (entry, error) => this.settle(entry, error), this.log);
  }


  // ---- intake ---------------------------------------------------------------------------------

  private accept(entry: PendingRecord): void {
    this.healthFeed.counters.recordsSent++;
    this.healthFeed.changed();
    this.metadata.route(entry);
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
      if (error instanceof ConnectionError || error instanceof RivvenTimeoutError) lane.reset();
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

  // ---- batching -------------------------------------------------------------------------------

  private enqueue(entry: PendingRecord): void {
    if (entry.settled) return;
    this.accumulator.append(entry.topic, entry.partition, entry);
  }

  private dispatch(batch: ReadyBatch<PendingRecord>): void {
    if (batch.records.some((r) => !r.explicitPartition && r.key === undefined)) this.partitioner.batchSent(batch.topic, batch.partition);
    void this.dispatcher.send(batch).finally(() => this.accumulator.batchDone(batch.topic, batch.partition));
  }

  /** A withdrawn record left its queue: give its memory back and let flushes move on. */
  private discard(entry: PendingRecord): void {
    this.releaseMemory(entry);
    if (!entry.settled) {
      this.retire(entry);
      this.flushWaiters.settled(entry);
    }
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
      this.healthFeed.counters.recordsAcked++;
      entry.sink.resolve(result);
    } else {
      this.healthFeed.counters.recordsFailed++;
      entry.sink.reject(error);
    }
    this.flushWaiters.settled(entry);
    this.healthFeed.changed();
  }

  /**
   * The record has its outcome (or was withdrawn): it leaves `outstanding`, and once nothing is
   * outstanding the deliveryTimeoutMs timer stops, so an idle producer holds no timer.
   */
  private retire(entry: PendingRecord): void {
    entry.settled = true;
    this.outstanding.delete(entry);
  }
}
