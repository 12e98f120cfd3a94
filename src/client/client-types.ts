/** Typed results and arguments of Client operations (the API's vocabulary, not the wire's). */
import type { ValueFraming } from '../protocol/value-framing.js';
import type { BrokerInfo, TopicMetadata } from '../protocol/response-schema.js';

/** Keys and values: bytes, or strings (encoded as UTF-8). */
export type Bytes = Uint8Array | string;

/**
 * Which records a read returns: `read_committed` hides records of aborted transactions (rivvend 0.0.22
 * has no last stable offset: records of open transactions are visible).
 */
export type IsolationLevel = 'read_uncommitted' | 'read_committed';

/** One record for `publish$` and the other single-record publishes. */
export interface PublishRecord {
  /** The record's value (a string is encoded as UTF-8). */
  value: Bytes;
  /** The record's key; omitted, the record has none. */
  key?: Bytes;
  /** Target partition; omitted, the broker picks one (keyed: murmur2 of the key). */
  partition?: number;
  /** Leader epoch for fencing stale writes; omit unless you track leader epochs. */
  leaderEpoch?: bigint;
}

/** Where the broker stored one published record. */
export interface RecordMetadata {
  /** The record's topic. */
  topic: string;
  /** The partition the record was written to. */
  partition: number;
  /** The record's offset in that partition. */
  offset: bigint;
}

/**
 * Where the broker stored a published batch: `recordCount` records from `baseOffset` on, as the broker
 * reports them.
 */
export interface BatchMetadata {
  /** The batch's topic. */
  topic: string;
  /** The partition the batch was written to. */
  partition: number;
  /** The offset the broker reports for the batch's first record. */
  baseOffset: bigint;
  /** How many records the broker says it stored. */
  recordCount: number;
}

/** What `consume$` reads: one partition, from one offset. */
export interface ConsumeOptions {
  /** The partition to read. */
  partition: number;
  /** The first offset to read (a bigint: `0n`, not `0`). */
  offset: bigint;
  /** At most this many records (1..4,294,967,295; rivvend answers at most 10,000). */
  maxMessages: number;
  /** Default `read_uncommitted`. */
  isolationLevel?: IsolationLevel;
  /** Long-poll: wait up to this long for data before returning empty (broker caps at 30,000). */
  maxWaitMs?: number;
  /**
   * How long to wait for the broker's reply before failing with a RivvenTimeoutError. Default: the
   * connection's request timeout, or `maxWaitMs + 30,000` for a long poll (a long poll
   * legitimately takes `maxWaitMs`). Set it to bound a fetch more tightly (or more loosely);
   * 0 means no timeout.
   */
  requestTimeoutMs?: number;
  /**
   * How values are turned back into what the producer sent, as `Consumer` does (value-decoder.ts):
   * 'detect' (default) decompresses only values that are beyond reasonable doubt framed by a
   * compressing producer; 'rivven-core' treats every value as rivven-core framed (values of a
   * compressing Rust rivven-client producer); 'raw' gives the bytes exactly as stored.
   */
  valueFraming?: ValueFraming;
  /**
   * Most decoded value bytes one call returns. Default 64 MiB. When the fetched values decode to
   * more, only the records that fit are returned (a prefix, in offset order): ask again from the
   * offset after the last one returned. A first value that alone decodes to more fails with a
   * ConfigError (raise this, or read with `valueFraming: 'raw'`).
   */
  maxDecodedBytes?: number;
}

/** One record as `consume$` returns it, its value decoded as `valueFraming` says. */
export interface ConsumedRecord {
  /** The record's topic. */
  topic: string;
  /** The record's partition. */
  partition: number;
  /** The record's offset in its partition. */
  offset: bigint;
  /** The record's key; `undefined` when it has none. */
  key: Buffer | undefined;
  /** The record's value, decoded (see `ConsumeOptions.valueFraming`). */
  value: Buffer;
  /** Milliseconds since the epoch. */
  timestamp: bigint;
  /** The record's headers, as `[name, bytes]` pairs in order. */
  headers: [string, Buffer][];
}

/** A topic's name and partition count. */
export interface TopicInfo {
  /** The topic's name. */
  name: string;
  /** How many partitions it has. */
  partitions: number;
}

/** The cluster as the broker describes it (`getClusterMetadata$`). */
export interface ClusterMetadata {
  /** Node id of the controller (the Raft leader); `undefined` when the broker reports none. */
  controllerId: string | undefined;
  /** The brokers of the cluster. */
  brokers: BrokerInfo[];
  /** The topics asked for (every topic when none was named), with their partitions. */
  topics: TopicMetadata[];
}

/** The offsets a partition holds: from `earliest` up to, not including, `latest`. */
export interface OffsetBounds {
  /** The first offset still readable. */
  earliest: bigint;
  /** The offset the next record will get (the log end): one past the last record. */
  latest: bigint;
}

/** A consumer group's committed offsets. */
export interface GroupDescription {
  /** The group's id. */
  group: string;
  /** topic → partition → committed offset */
  offsets: Map<string, Map<number, bigint>>;
}

/** One quota to set or remove (`alterQuotas$`). */
export interface QuotaAlterationInput {
  /** The kind of entity the quota applies to. */
  entityType: 'user' | 'client-id' | 'consumer-group' | 'default' | (string & {});
  /** The entity's name; omitted for the defaults of its kind. */
  entityName?: string;
  /** Which quota: bytes per second produced or consumed, or requests per second. */
  quotaKey: 'produce_bytes_rate' | 'consume_bytes_rate' | 'request_rate' | (string & {});
  /** undefined removes the quota. */
  quotaValue?: bigint;
}

/** An idempotent or transactional producer's id and epoch, as the broker allocated them. */
export interface ProducerIdentity {
  /** The producer id. */
  producerId: bigint;
  /** The producer's epoch: a higher one fences older instances of the same producer. */
  producerEpoch: number;
}

/** Where the broker stored an idempotent record. */
export interface IdempotentRecordMetadata extends RecordMetadata {
  /**
   * The broker had already seen this sequence and answered with the offset it cached for it (rivvend
   * keys sequences by producer id and partition number, whatever the topic).
   */
  duplicate: boolean;
}

/** Where the broker stored an idempotent batch. */
export interface IdempotentBatchMetadata extends BatchMetadata {
  /** The broker had already seen this batch's sequence and answered with the offsets it cached for it. */
  duplicate: boolean;
}

/** Where the broker wrote a transactional record (part of its transaction until that commits or aborts). */
export interface TransactionalRecordMetadata extends RecordMetadata {
  /** The sequence number the broker accepted. */
  sequence: number;
}

/** Arguments of `joinGroup$` (a consumer group's JoinGroup request). */
export interface JoinGroupOptions {
  /** How long the coordinator waits for a heartbeat before removing the member, in milliseconds. */
  sessionTimeoutMs: number;
  /** How long the coordinator waits for members to rejoin during a rebalance, in milliseconds. */
  rebalanceTimeoutMs: number;
  /** The topics the member subscribes to. */
  subscriptions: string[];
  /** Default `consumer`. */
  protocolType?: string;
}

/** The coordinator's answer to a JoinGroup. */
export interface JoinGroupResult {
  /** The group's generation, bumped on every rebalance. */
  generationId: number;
  /** The group's protocol type (such as `consumer`). */
  protocolType: string;
  /** This member's id, as the coordinator assigned it. */
  memberId: string;
  /** The leader's member id. */
  leaderId: string;
  /** (memberId, subscriptions); filled for the leader only. */
  members: [string, string[]][];
  /** Whether this member is the leader (it computes the assignment). */
  isLeader: boolean;
}

/** memberId → topic → partitions */
export type GroupAssignments = [memberId: string, topics: [topic: string, partitions: number[]][]][];

/** The coordinator's answer to a heartbeat. */
export interface HeartbeatResult {
  /** The coordinator's error code: 0 for OK, 27 for a rebalance in progress. */
  errorCode: number;
  /** The coordinator wants this member to rejoin (error code 27). */
  rebalanceInProgress: boolean;
}

/** The schema formats a Rivven schema registry accepts. */
export type SchemaType = 'AVRO' | 'JSON' | 'PROTOBUF';
