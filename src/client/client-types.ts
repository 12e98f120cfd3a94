/** Typed results and arguments of Client operations (the API's vocabulary, not the wire's). */
import type { ValueFraming } from '../protocol/value-framing.js';
import type { BrokerInfo, TopicMetadata } from '../protocol/response-schema.js';

/** Keys and values: bytes, or strings (encoded as UTF-8). */
export type Bytes = Uint8Array | string;

export type IsolationLevel = 'read_uncommitted' | 'read_committed';

export interface PublishRecord {
  value: Bytes;
  key?: Bytes;
  /** Target partition; omitted, the broker picks one (keyed: murmur2 of the key). */
  partition?: number;
  /** Leader epoch for fencing stale writes; omit unless you track leader epochs. */
  leaderEpoch?: bigint;
}

export interface RecordMetadata {
  topic: string;
  partition: number;
  offset: bigint;
}

export interface BatchMetadata {
  topic: string;
  partition: number;
  baseOffset: bigint;
  recordCount: number;
}

export interface ConsumeOptions {
  partition: number;
  /** The first offset to read (a bigint: `0n`, not `0`). */
  offset: bigint;
  /** At most this many records (1..4,294,967,295; rivvend answers at most 10,000). */
  maxMessages: number;
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

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: bigint;
  key: Buffer | undefined;
  value: Buffer;
  /** Milliseconds since the epoch. */
  timestamp: bigint;
  headers: [string, Buffer][];
}

export interface TopicInfo {
  name: string;
  partitions: number;
}

export interface ClusterMetadata {
  controllerId: string | undefined;
  brokers: BrokerInfo[];
  topics: TopicMetadata[];
}

export interface OffsetBounds {
  earliest: bigint;
  latest: bigint;
}

export interface GroupDescription {
  group: string;
  /** topic → partition → committed offset */
  offsets: Map<string, Map<number, bigint>>;
}

export interface QuotaAlterationInput {
  entityType: 'user' | 'client-id' | 'consumer-group' | 'default' | (string & {});
  entityName?: string;
  quotaKey: 'produce_bytes_rate' | 'consume_bytes_rate' | 'request_rate' | (string & {});
  /** undefined removes the quota. */
  quotaValue?: bigint;
}

export interface ProducerIdentity {
  producerId: bigint;
  producerEpoch: number;
}

export interface IdempotentRecordMetadata extends RecordMetadata {
  duplicate: boolean;
}

export interface IdempotentBatchMetadata extends BatchMetadata {
  duplicate: boolean;
}

export interface TransactionalRecordMetadata extends RecordMetadata {
  sequence: number;
}

export interface JoinGroupOptions {
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  subscriptions: string[];
  /** Default `consumer`. */
  protocolType?: string;
}

export interface JoinGroupResult {
  generationId: number;
  protocolType: string;
  memberId: string;
  leaderId: string;
  /** (memberId, subscriptions); filled for the leader only. */
  members: [string, string[]][];
  isLeader: boolean;
}

/** memberId → topic → partitions */
export type GroupAssignments = [memberId: string, topics: [topic: string, partitions: number[]][]][];

export interface HeartbeatResult {
  errorCode: number;
  /** The coordinator wants this member to rejoin (error code 27). */
  rebalanceInProgress: boolean;
}

export type SchemaType = 'AVRO' | 'JSON' | 'PROTOBUF';
