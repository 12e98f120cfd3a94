/** What the consumer emits: a record plus its offset handle (as Reactor Kafka's ReceiverOffset). */
import type { Observable } from 'rxjs';

/** A partition of a topic. */
export interface TopicPartition {
  /** The topic. */
  topic: string;
  /** The partition number. */
  partition: number;
}

/** An offset of a partition (for deliveredOffsets(): the next offset after the last delivered record). */
export interface TopicPartitionOffset {
  /** The topic. */
  topic: string;
  /** The partition number. */
  partition: number;
  /** The offset. */
  offset: bigint;
}

/**
 * Acknowledge or commit one consumed offset. `acknowledge` may be passed around on its own (as
 * `record.ack`, the same function); call `holdBecause` and `commit$` on the handle
 * (`record.receiverOffset.commit$()`): they are methods, not bound functions.
 */
export interface ReceiverOffset {
  /** The record's partition. */
  readonly topicPartition: TopicPartition;
  /** The record's offset. */
  readonly offset: bigint;
  /**
   * Mark this record processed: its offset (and every earlier one of the partition) becomes
   * committable — by auto-commit, `commit$()`, the `commitOffsets()` operator, a revoke, or close().
   * Acknowledging also frees fetch credit for the partition. Acks of records from partitions this
   * consumer no longer owns (or from before a seek) are ignored.
   */
  acknowledge(): void;
  /**
   * Say why this record cannot be acknowledged yet — it is not lost, it waits on something (a
   * dead-letter topic that does not answer, a service that is down) — so that the consumer's
   * `health$` says which partition is held, by which record, why and since when (`held`; the
   * `held` warning, logged once and then counted; a stall of the partition names it too). Nothing
   * past an unacknowledged record is committed anyway: this only makes the wait visible. Call it
   * again to give a newer error (`since` stays). The hold ends when the record is acknowledged (by
   * its own `acknowledge()`, or a later record's: acknowledgements are cumulative), and when the
   * partition is revoked or seeked or the consumer closes. `reason` says what the record waits on
   * (e.g. `waiting on the dead-letter topic orders-dlq`); `error`, if given, is reported by its
   * class and message only (never its stack or causes). Ignored, as acknowledgements are, for a
   * record of a partition this consumer no longer owns (or from before a seek), or one already
   * acknowledged. `processConcurrently()` calls it while a dead-letter produce fails.
   */
  holdBecause(reason: string, error?: unknown): void;
  /** Acknowledge, then commit everything acknowledged so far. Cold. */
  commit$(): Observable<CommittedOffsets>;
}

/** One record as the consumer emits it, with the handle to acknowledge it. */
export interface ConsumerRecord {
  /** The record's topic. */
  readonly topic: string;
  /** The record's partition. */
  readonly partition: number;
  /** The record's offset in its partition. */
  readonly offset: bigint;
  /** The record's key; `undefined` when it has none. */
  readonly key: Buffer | undefined;
  /** As the producer sent it: decoded only when Rivven-framed beyond reasonable doubt (see the `valueFraming` option). */
  readonly value: Buffer;
  /** Milliseconds since the epoch. */
  readonly timestamp: bigint;
  /** The record's headers, as `[name, bytes]` pairs in order. */
  readonly headers: [string, Buffer][];
  /** The record's offset handle: acknowledge or commit it. */
  readonly receiverOffset: ReceiverOffset;
  /** Shorthand for `receiverOffset.acknowledge()`. */
  ack(): void;
}

/** Offsets written to the group by one commit: each is the next offset to read. */
export interface CommittedOffsets {
  /** One entry per partition committed. */
  offsets: {
    /** The topic. */
    topic: string;
    /** The partition number. */
    partition: number;
    /** The offset committed: the next one the group reads. */
    offset: bigint;
  }[];
}

/**
 * Why partitions were revoked: the coordinator started a rebalance (`rebalance`); this member
 * started one because a subscribed topic's partition count changed (`metadataChanged`); it left
 * the group because downstream acknowledged nothing for maxPollIntervalMs while records were
 * waiting (`maxPollIntervalExceeded`; it rejoins when downstream acknowledges again); or the
 * subscription ended / the consumer closed (`stopped`).
 */
export type RevokeReason = 'rebalance' | 'metadataChanged' | 'maxPollIntervalExceeded' | 'stopped';

/** Partitions taken from or given to this member (`Consumer.rebalances$`). */
export type RebalanceEvent =
  | {
      /** Partitions were taken from this member. */
      type: 'revoked';
      /** The partitions revoked. */
      partitions: TopicPartition[];
      /** The group generation the member had. */
      generationId: number;
      /** Why they were revoked. */
      reason: RevokeReason;
    }
  | {
      /** Partitions were given to this member. */
      type: 'assigned';
      /** The partitions assigned. */
      partitions: TopicPartition[];
      /** The group generation of the assignment. */
      generationId: number;
      /** This member's id in the group. */
      memberId: string;
      /** Whether this member leads the group (it computed the assignment). */
      isLeader: boolean;
    };

export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
