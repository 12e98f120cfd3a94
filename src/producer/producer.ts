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
import { Observable, asapScheduler, asyncScheduler, firstValueFrom, type SchedulerLike, type Subscription } from 'rxjs';
import { ConfigError, ConnectionError, RivvenTimeoutError } from '../errors.js';
import type { Client } from '../client/client.js';
import { createLog } from '../observability/log.js';
import { MAX_LIST_LEN } from '../protocol/request-schema.js';
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
import { connectionOptionsOf } from '../transport/connection-options.js';

const noop = (): void => undefined;

export class Producer {
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
  private readonly healthFeed: ProducerHealthFeed;

  /** Live producer stats: emitted on change, at most every 250 ms; completes on close(). */
  readonly health$: Observable<ProducerHealth>;

  private constructor(config: ResolvedProducerConfig, seam: ConnectionSeam) {
    this.config = config;
    this.scheduler = config.scheduler ?? asyncScheduler;
    // lingerMs 0: send at the end of the current tick, so records sent together leave together.
    const lingerScheduler = config.scheduler ?? (config.lingerMs === 0 ? asapScheduler : asyncScheduler);
    this.budget = new MemoryBudget(config.bufferMemory);
    this.partitioner = new Partitioner(config.batchSize);
    this.lanes = new PartitionLanes(config.bootstrapServers, connectionOptionsOf(config), config.connections, seam.connect);
    this.outstanding = new OutstandingRecords<PendingRecord>(this.scheduler, (entry) =>
      this.settle(entry, new RivvenTimeoutError(`record for ${entry.topic} not acknowledged within deliveryTimeoutMs (${config.deliveryTimeoutMs} ms)`)),
    );
    const log = createLog('producer', config.logger, config.logLevel, { clientId: config.clientId });
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
        this.healthFeed.counters.retries++;
        this.healthFeed.attemptFailed(error);
      },
    });
    this.metadata = new TopicMetadataCache<PendingRecord>({
      metadataMaxAgeMs: config.metadataMaxAgeMs,
      retrier,
      requestMetadata: (topic) => this.onLane(this.lanes.primary(), (client) => firstValueFrom(client.getMetadata$(topic))),
      retriesStopped: () => this.closedForGood(),
      onUnreachable: (error) => this.healthFeed.attemptFailed(error),
      assign: (entry, partitionCount) => this.assignPartition(entry, partitionCount),
      fail: (entry, error) => this.settle(entry, error),
    });
    this.accumulator = new RecordAccumulator<PendingRecord>({
      batchSize: config.batchSize,
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
  private submit<C>(record: ProducerRecord<C>, sink: DeliverySink<C>): () => void {
    if (this.closed) {
      sink.reject(new ConnectionError('the producer is closed; create a new one'));
      return noop;
    }
    let entry: PendingRecord;
    try {
      entry = createPendingRecord(record, sink, this.config, this.scheduler);
    } catch (error) {
      sink.reject(error);
      return noop;
    }
    this.outstanding.add(entry);
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
      this.healthFeed.changed();
      blockTimer = this.scheduler.schedule(() => {
        cancelWait?.();
        this.settle(
          entry,
          new RivvenTimeoutError(
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

  /** Flush, then release the connection and timers. Further sends fail. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      await this.flush();
      this.accumulator.close();
      await this.lanes.close();
      this.healthFeed.complete();
    })();
    return this.closing;
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
