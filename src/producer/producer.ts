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
 * idempotence.ts. Partition counts: topic-metadata.ts; health figures: producer-health.ts.
 */
import { Observable, asapScheduler, asyncScheduler, firstValueFrom, type Observer, type SchedulerLike, type Subscription } from 'rxjs';
import { AllServersUnavailableError, BufferFullError, ClosedError, ConfigError, ConnectionError, RivvenTimeoutError, SendAbortedError, UnknownOutcomeError } from '../errors.js';
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
  /** Some connection to a broker was opened at least once (until then, records wait at most maxBlockMs). */
  private reached = false;
  /** The last failure seen (a connection, a request, a broker answer): the cause of a record that times out. */
  private lastFailure: unknown;
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
      onUnreachable: (error, servers) => this.unreachable(error, servers),
      onConnected: () => this.connected(),
    });
    this.outstanding = new OutstandingRecords<PendingRecord>(this.scheduler, (entry, reason) => this.settle(entry, this.overdueError(entry, reason)));
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
        this.lastFailure = error;
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
        this.lastFailure = error;
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
    let admitted = false;
    const admit = () => {
      admitted = true;
      entry.reserved = true;
      // Timed out while waiting for memory: hand the room straight back.
      if (entry.settled) this.releaseMemory(entry);
      else this.accept(entry);
    };
    // No room: wait in order, up to maxBlockMs.
    let blockTimer: Subscription | undefined;
    const cancelWait = this.budget.wait(entry.size, () => {
      blockTimer?.unsubscribe();
      admit();
    });
    this.healthFeed.changed();
    blockTimer = this.scheduler.schedule(() => {
      cancelWait();
      this.settle(
        entry,
        new RivvenTimeoutError(
          `bufferMemory (${this.config.bufferMemory} bytes) stayed full for maxBlockMs (${this.config.maxBlockMs} ms): ` +
            'the broker is slower than the send rate; slow down, or raise bufferMemory/maxBlockMs',
        ),
      );
    }, this.config.maxBlockMs);
    return () => {
      blockTimer?.unsubscribe();
      if (entry.settled) return;
      if (!admitted) {
        cancelWait();
        this.retire(entry);
        this.flushWaiters.settled(entry);
      } else if (!entry.batched) {
        // Not yet handed to the broker: withdraw it (its memory is freed when its queue drains).
        entry.cancelled = true;
      }
    };
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
    if (!this.results.accepting(record?.topic)) {
      this.healthFeed.changed();
      return;
    }
    let withdraw: (() => void) | undefined;
    let settled = false;
    withdraw = this.submit(
      record,
      {
        resolve: (result) => {
          settled = true;
          if (withdraw) this.results.pending.delete(withdraw);
          this.results.succeeded(result);
        },
        reject: (error) => {
          settled = true;
          if (withdraw) this.results.pending.delete(withdraw);
          this.results.failed(error, String(record?.topic), record?.correlation);
        },
      },
      'refuse',
    );
    if (!settled) this.results.pending.add(withdraw);
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
    const { signal } = options;
    if (!Array.isArray(records)) return Promise.reject(new ConfigError('records', 'expected an array of records'));
    return new Promise<ProducerResult<C>[]>((resolve, reject) => {
      const results = new Array<ProducerResult<C>>(records.length);
      const entries: (PendingRecord | undefined)[] = new Array(records.length);
      const withdrawals: (() => void)[] = [];
      let left = records.length;
      let done = false;
      const finish = (error?: unknown) => {
        if (done) return;
        done = true;
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve(results);
        else reject(error);
      };
      const onAbort = () => {
        if (done) return;
        const withdrawn: number[] = [];
        const inFlight: number[] = [];
        for (let i = 0; i < records.length; i++) {
          const entry = entries[i];
          // Not submitted yet (an already aborted signal) counts as withdrawn too.
          if (entry?.settled === true && entry.batched) continue;
          if (entry?.batched === true) inFlight.push(i);
          else if (entry === undefined || !entry.settled) withdrawn.push(i);
        }
        for (const withdraw of withdrawals) withdraw();
        finish(
          new SendAbortedError(
            `aborted: ${withdrawn.length} record(s) withdrawn before they were sent (not stored), ${inFlight.length} already sent (they may be stored)`,
            withdrawn,
            inFlight,
            { cause: signal?.reason },
          ),
        );
      };
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      records.forEach((record, i) => {
        if (done) return;
        withdrawals.push(
          this.submit(
            record,
            {
              resolve: (result) => {
                results[i] = result as ProducerResult<C>;
                if (--left === 0) finish();
              },
              reject: (error) => finish(error),
            },
            'wait',
            (entry) => (entries[i] = entry),
          ),
        );
      });
      if (records.length === 0) finish();
    });
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
    const waiting = [...this.outstanding.current()];
    if (waiting.length === 0) return;
    const sent = waiting.filter((entry) => entry.batched).length;
    const notSent = waiting.length - sent;
    const unknown = new UnknownOutcomeError(
      `the producer closed after close({ timeoutMs: ${timeoutMs} }) before the broker answered for ${sent} sent record(s): they may or may not be stored (read the partition, or let consumers drop duplicates)`,
      this.lastFailure === undefined ? undefined : { cause: this.lastFailure },
    );
    const dropped = new ClosedError(`the producer closed after close({ timeoutMs: ${timeoutMs} }) before ${notSent} accepted record(s) could be sent: they were not stored`);
    for (const entry of waiting) {
      if (!entry.batched) entry.cancelled = true;
      this.settle(entry, entry.batched ? unknown : dropped);
    }
    if (this.log.enabled('warn')) this.log.warn(`closed with ${sent} record(s) of unknown outcome and ${notSent} never sent`, { unknown: sent, notSent });
  }

  // ---- reaching the broker --------------------------------------------------------------------

  /** No broker answered a round of connection attempts: say it once, then count. */
  private unreachable(error: unknown, servers: readonly string[]): void {
    this.lastFailure = error;
    this.healthFeed.attemptFailed(error);
    const rounds = ++this.healthFeed.counters.unreachableRounds;
    const what = `no broker answers at ${servers.join(', ')}: ${(error as Error).message}`;
    const waits = this.reached
      ? `records wait up to deliveryTimeoutMs (${this.config.deliveryTimeoutMs} ms) for it to come back`
      : `records fail after maxBlockMs (${this.config.maxBlockMs} ms) unless a broker answers (check bootstrapServers and that the broker runs)`;
    if (rounds === 1) this.log.warn(`${what}; ${waits} (logged once; later rounds are counted in health().unreachableRounds)`, { errorCode: (error as { code?: string }).code ?? 'UNKNOWN' });
    else this.log.debug(what, { attempt: rounds });
  }

  private connected(): void {
    if (this.reached) return;
    this.reached = true;
    this.outstanding.setFirstContactMs(undefined);
  }

  /** Why `entry` failed at its deadline, with the last failure seen as the cause. */
  private overdueError(entry: PendingRecord, reason: 'delivery' | 'firstContact'): Error {
    const last = this.lastFailure;
    const lastText = last === undefined ? '' : `; last failure: ${(last as Error).message ?? String(last)}`;
    const cause = last === undefined ? undefined : { cause: last };
    if (reason === 'firstContact') {
      return new AllServersUnavailableError(
        `record for ${entry.topic} not sent: no broker of ${this.config.bootstrapServers.join(', ')} could be reached within maxBlockMs (${this.config.maxBlockMs} ms)` +
          (last === undefined ? ' (no connection attempt finished: raise maxBlockMs above connectionTimeoutMs)' : lastText),
        cause,
      );
    }
    return new RivvenTimeoutError(`record for ${entry.topic} not acknowledged within deliveryTimeoutMs (${this.config.deliveryTimeoutMs} ms)${lastText}`, cause);
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
      entry.resolve(result);
    } else {
      this.healthFeed.counters.recordsFailed++;
      entry.reject(error);
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
