/**
 * Acknowledgements of a Consumer: the ConsumerRecord built around each fetched message (its ack()
 * and receiverOffset), acknowledgeDelivered() for operators that no longer see the records, and
 * what the group's poll watchdog and revoke drain read of them (the count; whether downstream
 * holds records back). An ack makes the offset committable and frees fetch credit.
 */
import { defer, type Observable, type SchedulerLike } from 'rxjs';
import type { MessageData } from '../protocol/response-schema.js';
import type { CommittedOffsets, ConsumerRecord, ReceiverOffset, TopicPartition, TopicPartitionOffset } from './consumer-record.js';
import type { PollProbe } from './group-watch.js';
import { summarizeError } from '../errors.js';
import { HELD_ERROR_MESSAGE_LIMIT, type HealthTracker } from './consumer-health.js';
import type { OwnedPartitions } from './owned-partitions.js';
import type { PartitionState } from './partition-state.js';

export interface AcknowledgementsHost {
  readonly maxPollRecords: number;
  /** The consumer's scheduler: when acknowledgements happen (stall-monitor.ts reads lastAckAt). */
  readonly config: { readonly scheduler: SchedulerLike };
  readonly owned: OwnedPartitions;
  /** health$'s recordsAcknowledged. */
  readonly tracker: Pick<HealthTracker, 'recordsAcknowledged'>;
  /** Every acknowledgement, before its offset is recorded (the group coordinator waits for some). */
  onAck(): void;
  /** A record was held (holdBecause), or acknowledgements released held records: health$.held changed. */
  holdsChanged(): void;
  /** Commit every acknowledged offset not committed yet (a record's commit$). */
  commit$(): Observable<CommittedOffsets>;
}

export class Acknowledgements {
  /** Acknowledgements so far, also of stale records (they show downstream is taking records). */
  private countValue = 0;
  /** Scheduler time of the last acknowledgement (of any record, also stale ones): downstream made progress then. */
  lastAckAt: number | undefined;
  /** What the group's maxPollIntervalMs watchdog reads (group-watch.ts). */
  readonly pollProbe: PollProbe = {
    // Records are waiting for downstream when a partition cannot fetch for lack of credit: downstream
    // holds over half of maxPollRecords unacknowledged. (Not merely "something unacknowledged": a
    // subscriber that filters out the last records without acking them is not stuck.)
    waiting: () => {
      const max = BigInt(this.host.maxPollRecords);
      for (const s of this.host.owned.values()) if (!s.stopped && !s.held() && s.outstanding() * 2n > max) return true;
      return false;
    },
    acks: () => this.countValue,
  };

  constructor(private readonly host: AcknowledgementsHost) {}

  get count(): number {
    return this.countValue;
  }

  /** The record downstream gets for message `r` of `state`, fetched in `epoch`; its ack is ignored once the epoch is over. */
  record(r: MessageData, value: Buffer, state: PartitionState, epoch: number): ConsumerRecord {
    const receiverOffset = new DeliveredOffset(this, state, epoch, r.offset);
    return { topic: state.topic, partition: state.partition, offset: r.offset, key: r.key, value, timestamp: r.timestamp, headers: r.headers, receiverOffset, ack: receiverOffset.acknowledge };
  }

  /** A record's acknowledgement (DeliveredOffset.acknowledge). */
  acknowledgeRecord(state: PartitionState, epoch: number, offset: bigint): void {
    this.noteAck();
    if (state.stopped || state.epoch !== epoch) return;
    this.acknowledgeUpTo(state, offset + 1n);
  }

  /** A record's holdBecause (DeliveredOffset.holdBecause). */
  holdRecord(state: PartitionState, epoch: number, offset: bigint, reason: string, error: unknown): void {
    if (state.stopped || state.epoch !== epoch || offset < (state.acked ?? state.epochStart)) return;
    const since = state.holds.get(offset)?.since ?? this.host.config.scheduler.now();
    state.holds.set(offset, { reason: String(reason), error: error === undefined ? undefined : summarizeError(error, HELD_ERROR_MESSAGE_LIMIT), since });
    this.host.holdsChanged();
  }

  /** A record's commit$: acknowledge it, then commit everything acknowledged. */
  commitRecord$(state: PartitionState, epoch: number, offset: bigint): Observable<CommittedOffsets> {
    return defer(() => {
      this.acknowledgeRecord(state, epoch, offset);
      return this.host.commit$();
    });
  }

  /** See Consumer.acknowledgeDelivered. */
  acknowledgeDelivered(offsets: readonly TopicPartitionOffset[], options: { committed?: boolean }): void {
    if (offsets.length > 0) this.noteAck();
    for (const { topic, partition, offset } of offsets) {
      const state = this.host.owned.get(topic, partition);
      if (state === undefined || state.stopped || state.delivered === undefined) continue;
      if (offset < state.epochStart || offset > state.delivered) continue;
      this.acknowledgeUpTo(state, offset);
      if (options.committed === true && state.acked === offset && (state.committed === undefined || offset > state.committed)) state.committed = offset;
    }
  }

  private noteAck(): void {
    this.countValue++;
    this.lastAckAt = this.host.config.scheduler.now();
    this.host.onAck();
  }

  /** Everything before `next` is processed (acks never move backwards). */
  private acknowledgeUpTo(state: PartitionState, next: bigint): void {
    if (state.acked === undefined || next > state.acked) {
      const floor = state.acked ?? state.epochStart;
      if (next > floor) this.host.tracker.recordsAcknowledged += Number(next - floor);
      state.acked = next;
      state.lastAckAt = this.lastAckAt;
      state.releaseUpTo(next);
      if (state.holds.size > 0 && state.releaseHoldsBelow(next)) this.host.holdsChanged();
      // Only a fetch loop waiting for credit needs to hear about it.
      if (state.wake !== undefined && state.outstanding() * 2n <= BigInt(this.host.maxPollRecords)) state.signal();
    }
  }
}

/**
 * A delivered record's offset handle. One per record on the consume path, so it is an instance
 * with its methods on the prototype, not an object of closures: only `acknowledge` is an own
 * function (it is also the record's `ack`, and both may be passed around on their own, as in
 * `.then(record.ack)`); `holdBecause` and `commit$` are called on the handle.
 */
class DeliveredOffset implements ReceiverOffset {
  readonly acknowledge: () => void;

  constructor(
    private readonly acks: Acknowledgements,
    private readonly state: PartitionState,
    private readonly epoch: number,
    readonly offset: bigint,
  ) {
    this.acknowledge = () => acks.acknowledgeRecord(state, epoch, offset);
  }

  get topicPartition(): TopicPartition {
    return { topic: this.state.topic, partition: this.state.partition };
  }

  holdBecause(reason: string, error?: unknown): void {
    this.acks.holdRecord(this.state, this.epoch, this.offset, reason, error);
  }

  commit$(): Observable<CommittedOffsets> {
    return this.acks.commitRecord$(this.state, this.epoch, this.offset);
  }
}
