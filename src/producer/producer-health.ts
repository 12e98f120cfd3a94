/**
 * The producer's health figures: the counters its parts update, the snapshot `health()` returns,
 * and the `health$` stream of snapshots (on change, at most every 250 ms). One such file per
 * component (client/pipelined-health.ts, client/resilient-health.ts, consumer/consumer-health.ts).
 */
import { BehaviorSubject, Subject, throttleTime, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type { PartitionLanes } from './partition-lanes.js';
import type { Idempotence } from './idempotence.js';
import type { MemoryBudget } from './memory-budget.js';

/** What `Producer.health()` returns and `health$` emits. */
export interface ProducerHealth {
  /** Records accepted for sending since the producer was created. */
  recordsSent: number;
  /** Records the broker acknowledged. */
  recordsAcked: number;
  /** Records that failed (their error was delivered). */
  recordsFailed: number;
  /** Batches the broker acknowledged. */
  batchesSent: number;
  /** Records per acknowledged batch, on average. */
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
  /** Records accepted and not settled yet (buffered or in flight). */
  pendingRecords: number;
  /** Bytes of `bufferMemory` in use. */
  pendingBytes: number;
  /** Records waiting for room in `bufferMemory`. */
  waitingForMemory: number;
  /** Median reply latency of the slowest open connection, ms. */
  requestLatencyP50Ms: number | undefined;
  /** 99th percentile reply latency of the slowest open connection, ms. */
  requestLatencyP99Ms: number | undefined;
  /** Whether the producer is idempotent. */
  idempotent: boolean;
  /** The last failure of a delivery attempt; cleared when a batch is acknowledged again. */
  lastError: string | undefined;
  /** Rounds of connection attempts in which no broker of bootstrapServers answered (the first is logged, the rest counted here). */
  unreachableRounds: number;
  /** Records given to `next()` after `results$` stopped at a failure (`stopOnError`): refused, never sent. */
  recordsRefused: number;
}

/** The producer's parts a snapshot reads, besides the counters. */
export interface HealthSources {
  readonly lanes: PartitionLanes;
  readonly idempotence: Idempotence;
  readonly budget: MemoryBudget;
  /** Records accepted and still without an outcome. */
  pendingRecords(): number;
}

export class ProducerHealthFeed {
  readonly counters = {
    recordsSent: 0,
    recordsAcked: 0,
    recordsFailed: 0,
    batchesSent: 0,
    batchedRecords: 0,
    retries: 0,
    originalBytes: 0,
    compressedBytes: 0,
    unreachableRounds: 0,
  };
  lastError: string | undefined;
  /** Records refused by the Observer side (results-feed.ts). */
  refused: () => number = () => 0;
  /** Live producer stats: emitted on change, at most every 250 ms; completes on `complete()`. */
  readonly health$: Observable<ProducerHealth>;
  private readonly changes = new Subject<void>();
  private readonly healthSubject: BehaviorSubject<ProducerHealth>;
  private readonly healthSubscription: Subscription;

  /** Takes its first snapshot at once: `sources` must be ready. */
  constructor(
    private readonly sources: HealthSources,
    scheduler: SchedulerLike,
  ) {
    this.healthSubject = new BehaviorSubject(this.snapshot());
    this.health$ = this.healthSubject.asObservable();
    this.healthSubscription = this.changes
      .pipe(throttleTime(250, scheduler, { leading: true, trailing: true }))
      .subscribe(() => this.healthSubject.next(this.snapshot()));
  }

  /** A figure changed: `health$` emits (throttled). */
  changed(): void {
    this.changes.next();
  }

  /** An attempt failed and will be repeated: its message is the `lastError` until a batch is acknowledged. */
  attemptFailed(error: unknown): void {
    this.lastError = (error as Error).message;
    this.changed();
  }

  /** Emit the final snapshot and complete `health$`. */
  complete(): void {
    this.healthSubscription.unsubscribe();
    this.healthSubject.next(this.snapshot());
    this.healthSubject.complete();
    this.changes.complete();
  }

  snapshot(): ProducerHealth {
    const { lanes, idempotence, budget } = this.sources;
    const counters = this.counters;
    // Latency of the slowest open connection: the figure a record's wait depends on.
    let p50: number | undefined;
    let p99: number | undefined;
    for (const lane of lanes.opened()) {
      const health = lane.connected()?.health();
      if (health?.latencyP50Ms !== undefined) p50 = Math.max(p50 ?? 0, health.latencyP50Ms);
      if (health?.latencyP99Ms !== undefined) p99 = Math.max(p99 ?? 0, health.latencyP99Ms);
    }
    return {
      recordsSent: counters.recordsSent,
      recordsAcked: counters.recordsAcked,
      recordsFailed: counters.recordsFailed,
      batchesSent: counters.batchesSent,
      averageBatchSize: counters.batchesSent === 0 ? 0 : counters.batchedRecords / counters.batchesSent,
      retries: counters.retries,
      producerIdResets: idempotence.resets,
      compressionRatio: counters.originalBytes === 0 ? 1 : counters.compressedBytes / counters.originalBytes,
      pendingRecords: this.sources.pendingRecords(),
      pendingBytes: budget.inUse,
      waitingForMemory: budget.waiting,
      requestLatencyP50Ms: p50,
      requestLatencyP99Ms: p99,
      idempotent: idempotence.isGranted(),
      lastError: this.lastError,
      unreachableRounds: counters.unreachableRounds,
      recordsRefused: this.refused(),
    };
  }
}
