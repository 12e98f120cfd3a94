/** What the consumer emits: a record plus its offset handle (as Reactor Kafka's ReceiverOffset). */
import type { Observable } from 'rxjs';

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** An offset of a partition (for deliveredOffsets(): the next offset after the last delivered record). */
export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: bigint;
}

/** Acknowledge or commit one consumed offset. */
export interface ReceiverOffset {
  readonly topicPartition: TopicPartition;
  readonly offset: bigint;
  /**
   * Mark this record processed: its offset (and every earlier one of the partition) becomes
   * committable — by auto-commit, `commit$()`, the `commitOffsets()` operator, a revoke, or close().
   * Acknowledging also frees fetch credit for the partition. Acks of records from partitions this
   * consumer no longer owns (or from before a seek) are ignored.
   */
  acknowledge(): void;
  /** Acknowledge, then commit everything acknowledged so far. Cold. */
  commit$(): Observable<CommittedOffsets>;
}

export interface ConsumerRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly key: Buffer | undefined;
  /** As the producer sent it: decoded only when Rivven-framed beyond reasonable doubt (see the `valueFraming` option). */
  readonly value: Buffer;
  /** Milliseconds since the epoch. */
  readonly timestamp: bigint;
  readonly headers: [string, Buffer][];
  readonly receiverOffset: ReceiverOffset;
  /** Shorthand for `receiverOffset.acknowledge()`. */
  ack(): void;
}

/** Offsets written to the group by one commit: each is the next offset to read. */
export interface CommittedOffsets {
  offsets: { topic: string; partition: number; offset: bigint }[];
}

/**
 * Why partitions were revoked: the coordinator started a rebalance (`rebalance`); this member
 * started one because a subscribed topic's partition count changed (`metadataChanged`); it left
 * the group because downstream acknowledged nothing for maxPollIntervalMs while records were
 * waiting (`maxPollIntervalExceeded`; it rejoins when downstream acknowledges again); or the
 * subscription ended / the consumer closed (`stopped`).
 */
export type RevokeReason = 'rebalance' | 'metadataChanged' | 'maxPollIntervalExceeded' | 'stopped';

export type RebalanceEvent =
  | { type: 'revoked'; partitions: TopicPartition[]; generationId: number; reason: RevokeReason }
  | { type: 'assigned'; partitions: TopicPartition[]; generationId: number; memberId: string; isLeader: boolean };

export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
