/**
 * Where accepted records wait for their batch. One queue per topic-partition; a queue's records
 * leave as one batch when `batchSize` bytes are queued, when `lingerMs` has passed since its first
 * record arrived, or at once while a flush is waiting. One batch per partition is in flight at a
 * time (so order is kept); while it flies, the next one keeps filling and leaves as soon as the
 * previous one is done — under load, batches grow by themselves. `inFlightKey` can make queues share
 * that one slot: the idempotent producer gives every topic's partition N the key N, since the
 * broker numbers sequences per partition number (partition-sequences.ts) and they must reach it in
 * order; queues waiting for a shared slot take turns.
 *
 * Pure scheduling: no I/O. The producer hands records in with `append`, gets batches through
 * `onBatch`, and reports each batch's end with `batchDone`. Timers run on the given scheduler, so
 * marble tests can drive it in virtual time.
 */
import type { SchedulerLike, Subscription } from 'rxjs';

/** What the accumulator needs to know of a record. */
export interface Accumulable {
  /** Bytes counted against `batchSize`. */
  readonly size: number;
  /** Withdrawn by its sender or already settled: skipped (and reported) when its turn comes. */
  readonly dropped: boolean;
  /** Set when the record is put into a batch. */
  batched: boolean;
}

export interface ReadyBatch<R> {
  topic: string;
  partition: number;
  records: R[];
}

export interface AccumulatorOptions<R> {
  batchSize: number;
  /**
   * Bytes (as records count them) a batch never exceeds, even past `batchSize`, so that its
   * request fits under the producer's `maxRequestSize`; a single record larger than it goes alone.
   * Default: no bound besides `batchSize`.
   */
  maxBatchBytes?: number;
  lingerMs: number;
  /** Records per batch at most (the wire format's list bound). */
  maxRecords: number;
  scheduler: SchedulerLike;
  /** A batch is ready to go. Called synchronously; the producer calls `batchDone` when it ends. */
  onBatch(batch: ReadyBatch<R>): void;
  /** A dropped record left its queue (its memory can be released). */
  onDropped(record: R): void;
  /** While true (a flush is waiting), queued records leave at once instead of lingering. */
  urgent(): boolean;
  /** Queues with the same key have one batch in flight between them. Default: one per topic-partition. */
  inFlightKey?(topic: string, partition: number): string;
}

/** One batch in flight at a time for the queues that share it; the ones ready meanwhile wait in turn. */
interface InFlightSlot<R> {
  busy: boolean;
  waiting: PartitionQueue<R>[];
}

interface PartitionQueue<R> {
  topic: string;
  partition: number;
  records: R[];
  bytes: number;
  slot: InFlightSlot<R>;
  lingerExpired: boolean;
  lingerTimer: Subscription | undefined;
}

export class RecordAccumulator<R extends Accumulable> {
  private readonly queues = new Map<string, PartitionQueue<R>>();
  /** The same queues by topic, then partition: `append` finds a queue without building a key string. */
  private readonly byTopic = new Map<string, (PartitionQueue<R> | undefined)[]>();
  private readonly slots = new Map<string, InFlightSlot<R>>();

  constructor(private readonly options: AccumulatorOptions<R>) {}

  append(topic: string, partition: number, record: R): void {
    const queue = this.queueFor(topic, partition);
    queue.records.push(record);
    queue.bytes += record.size;
    if (queue.bytes >= this.options.batchSize || this.options.urgent()) {
      queue.lingerExpired = true;
      this.trySend(queue);
    } else if (queue.lingerTimer === undefined && !queue.lingerExpired) {
      queue.lingerTimer = this.options.scheduler.schedule(() => {
        queue.lingerTimer = undefined;
        queue.lingerExpired = true;
        this.trySend(queue);
      }, this.options.lingerMs);
    }
  }

  /** Send everything queued now, without waiting out lingers. */
  drain(): void {
    for (const queue of this.queues.values()) {
      queue.lingerExpired = true;
      this.trySend(queue);
    }
  }

  /** The partition's batch is finished (acknowledged or failed): what queued meanwhile goes next. */
  batchDone(topic: string, partition: number): void {
    const queue = this.queues.get(queueKey(topic, partition));
    if (queue === undefined) return;
    const slot = queue.slot;
    slot.busy = false;
    if (queue.records.length > 0) {
      queue.lingerExpired = true;
      // Queues that waited for the slot go first; this one takes its turn after them.
      if (!slot.waiting.includes(queue)) slot.waiting.push(queue);
    }
    while (!slot.busy && slot.waiting.length > 0) this.trySend(slot.waiting.shift()!);
  }

  /** Stop every linger timer (records stay queued). */
  close(): void {
    for (const queue of this.queues.values()) {
      queue.lingerTimer?.unsubscribe();
      queue.lingerTimer = undefined;
    }
  }

  private queueFor(topic: string, partition: number): PartitionQueue<R> {
    let partitions = this.byTopic.get(topic);
    if (partitions === undefined) this.byTopic.set(topic, (partitions = []));
    const known = partitions[partition];
    if (known !== undefined) return known;
    const key = queueKey(topic, partition);
    let queue = this.queues.get(key);
    if (queue === undefined) {
      const slotKey = this.options.inFlightKey?.(topic, partition) ?? key;
      let slot = this.slots.get(slotKey);
      if (slot === undefined) {
        slot = { busy: false, waiting: [] };
        this.slots.set(slotKey, slot);
      }
      queue = { topic, partition, records: [], bytes: 0, slot, lingerExpired: false, lingerTimer: undefined };
      this.queues.set(key, queue);
    }
    partitions[partition] = queue;
    return queue;
  }

  private trySend(queue: PartitionQueue<R>): void {
    if (!queue.lingerExpired) return;
    if (queue.slot.busy) {
      if (!queue.slot.waiting.includes(queue)) queue.slot.waiting.push(queue);
      return;
    }
    const { batchSize, maxRecords } = this.options;
    const limit = Math.min(batchSize, this.options.maxBatchBytes ?? Infinity);
    const batch: R[] = [];
    let bytes = 0;
    let taken = 0;
    const records = queue.records;
    while (taken < records.length && batch.length < maxRecords) {
      const next = records[taken]!;
      if (batch.length > 0 && bytes + next.size > limit) break;
      taken++;
      queue.bytes -= next.size;
      if (next.dropped) {
        this.options.onDropped(next);
        continue;
      }
      next.batched = true;
      batch.push(next);
      bytes += next.size;
    }
    // One splice instead of a shift per record: shift is O(n) on long queues.
    records.splice(0, taken);
    queue.lingerTimer?.unsubscribe();
    queue.lingerTimer = undefined;
    queue.lingerExpired = records.length > 0 && (queue.bytes >= batchSize || this.options.urgent());
    // Only dropped records were queued: nothing to send (and nothing left behind them).
    if (batch.length === 0) return;
    queue.slot.busy = true;
    this.options.onBatch({ topic: queue.topic, partition: queue.partition, records: batch });
  }
}

function queueKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
