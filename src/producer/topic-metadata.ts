/**
 * The producer's topic → partition count cache. A topic's first record fetches its count (later
 * records of the topic wait behind it, in arrival order); a count older than metadataMaxAgeMs is
 * re-read in the background; while the broker cannot be reached, the fetch is tried again.
 */
import { ConfigError, isUnreachable } from '../errors.js';
import type { Retrier } from '../client/retrier.js';

/** What the cache needs to know of a record. */
export interface Routable {
  readonly topic: string;
  readonly explicitPartition: boolean;
  readonly partition: number;
  readonly settled: boolean;
}

export interface TopicMetadataOptions<R> {
  metadataMaxAgeMs: number;
  /** Whether a fetch the broker did not answer is made again, and when (its scheduler is the cache's clock). */
  retrier: Retrier;
  /** Ask the broker for the topic's metadata. */
  requestMetadata(topic: string): Promise<{ partitions: number }>;
  /** True once the producer is closed and nothing is left to deliver: retries stop. */
  retriesStopped(): boolean;
  /** The broker could not be reached; another attempt follows. */
  onUnreachable(error: unknown): void;
  /** The topic's partition count is known: place `record` (it may have been settled meanwhile). */
  assign(record: R, partitionCount: number): void;
  /** `record` cannot be placed. */
  fail(record: R, error: unknown): void;
}

interface KnownTopic {
  partitionCount: number;
  fetchedAt: number;
}

export class TopicMetadataCache<R extends Routable> {
  private readonly known = new Map<string, KnownTopic>();
  private readonly waiters = new Map<string, R[]>();

  constructor(private readonly options: TopicMetadataOptions<R>) {}

  /** Hand `record` to `assign` with its topic's partition count: now if known, else once fetched. */
  route(record: R): void {
    // Explicit partitions go through metadata too: a topic that does not exist fails the same way
    // whether or not a partition is given (rivvend would otherwise create it, with 3 partitions, on
    // the first publish), and a partition past the topic's count is refused before it is sent.
    const known = this.known.get(record.topic);
    const waiting = this.waiters.get(record.topic);
    if (known !== undefined && waiting === undefined && (!record.explicitPartition || record.partition < known.partitionCount)) {
      if (this.options.retrier.scheduler.now() - known.fetchedAt > this.options.metadataMaxAgeMs) void this.refresh(record.topic).catch(() => undefined);
      this.options.assign(record, known.partitionCount);
      return;
    }
    // Unknown topic: wait for its metadata, keeping arrival order.
    if (waiting !== undefined) {
      waiting.push(record);
      return;
    }
    this.waiters.set(record.topic, [record]);
    this.awaitMetadata(record.topic, 0);
  }

  /** Read the topic's partition count from the broker now and remember it. */
  async refresh(topic: string): Promise<number> {
    const info = await this.options.requestMetadata(topic);
    if (info.partitions < 1) throw new ConfigError('topic', `'${topic}' has no partitions`);
    this.known.set(topic, { partitionCount: info.partitions, fetchedAt: this.options.retrier.scheduler.now() });
    return info.partitions;
  }

  /**
   * Fetch a topic's partition count for the records waiting for it. While the broker cannot be
   * reached, try again (with backoff) until the waiting records' deliveryTimeoutMs (or
   * `retry.maxAttempts` attempts); a broker answer (such as an unknown topic) fails them at once.
   */
  private awaitMetadata(topic: string, failures: number): void {
    const { options } = this;
    this.refresh(topic).then(
      (count) => {
        const queued = this.waiters.get(topic) ?? [];
        this.waiters.delete(topic);
        for (const waiter of queued) options.assign(waiter, count);
      },
      (error: unknown) => {
        const queued = (this.waiters.get(topic) ?? []).filter((waiter) => !waiter.settled);
        // Only "no answer" is tried again: a broker's answer (an unknown topic) is final.
        const wait = queued.length > 0 ? options.retrier.next(error, failures + 1, { retriable: isUnreachable, stopped: options.retriesStopped }) : undefined;
        if (wait !== undefined) {
          this.waiters.set(topic, queued);
          options.onUnreachable(error);
          options.retrier.scheduler.schedule(() => this.awaitMetadata(topic, failures + 1), wait);
          return;
        }
        this.waiters.delete(topic);
        for (const waiter of queued) options.fail(waiter, error);
      },
    );
  }
}
