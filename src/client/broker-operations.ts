/**
 * `BrokerOperations`: every typed broker operation (publish$, consume$, createTopic$, joinGroup$, …)
 * as a method, over the `BrokerExchange` it is given. `Client`, `PipelinedClient` and
 * `ResilientClient` each hand it their own way of sending a request (one connection; an in-flight
 * limit; a pool with failover and retries), so the operations, their argument checks, their
 * errors and consume$'s value decoding are written once.
 *
 * The methods only delegate, by subject: data-operations.ts, admin-operations.ts,
 * group-operations.ts, transaction-operations.ts. Every operation is cold, checks its arguments
 * when subscribed — a wrong type or range is a `ConfigError` (not retriable) and nothing is sent —
 * and turns broker `Error` and `Throttled` replies into typed errors (broker-exchange.ts).
 */
import type { Observable } from 'rxjs';
import type { DeleteRecordsResult, QuotaEntry, TopicConfigDescription } from '../protocol/response-schema.js';
import * as admin from './admin-operations.js';
import type { BrokerExchange } from './broker-exchange.js';
import type {
  BatchMetadata,
  Bytes,
  ClusterMetadata,
  ConsumeOptions,
  ConsumedRecord,
  GroupAssignments,
  GroupDescription,
  HeartbeatResult,
  IdempotentBatchMetadata,
  IdempotentRecordMetadata,
  JoinGroupOptions,
  JoinGroupResult,
  OffsetBounds,
  ProducerIdentity,
  PublishRecord,
  QuotaAlterationInput,
  RecordMetadata,
  TopicInfo,
  TransactionalRecordMetadata,
} from './client-types.js';
import * as data from './data-operations.js';
import * as groups from './group-operations.js';
import * as txn from './transaction-operations.js';

/** Every typed operation, sent through the exchange a client gives it. */
export class BrokerOperations {
  constructor(private readonly exchange: BrokerExchange) {}

  // ---- data -----------------------------------------------------------------------------------

  /** Round trip to the broker; emits the latency in milliseconds. */
  ping$(): Observable<number> {
    return data.ping$(this.exchange);
  }

  /**
   * One record. rivvend 0.0.22 creates a topic that does not exist (with its default partition
   * count) on Publish; there is no broker setting to turn that off.
   */
  publish$(topic: string, record: PublishRecord): Observable<RecordMetadata> {
    return data.publish$(this.exchange, topic, record);
  }

  /** Many records to one partition (or one the broker picks) in one request; offsets are contiguous. */
  publishBatch$(topic: string, records: readonly { key?: Bytes; value: Bytes }[], options: { partition?: number; leaderEpoch?: bigint } = {}): Observable<BatchMetadata> {
    return data.publishBatch$(this.exchange, topic, records, options);
  }

  /**
   * Fetch up to `maxMessages` records from `offset`; with `maxWaitMs` the broker long-polls.
   * Values come back as the producer sent them (decompressed per `valueFraming`, as `Consumer`
   * does); `valueFraming: 'raw'` gives the stored bytes. At most `maxDecodedBytes` of values per
   * call: when more were fetched, the records that fit are returned and the caller asks again
   * from the offset after the last one.
   */
  consume$(topic: string, options: ConsumeOptions): Observable<ConsumedRecord[]> {
    return data.consume$(this.exchange, topic, options);
  }

  /** The offsets a partition holds: its first readable offset and its log end. */
  getOffsetBounds$(topic: string, partition: number): Observable<OffsetBounds> {
    return data.getOffsetBounds$(this.exchange, topic, partition);
  }

  /** The first offset whose timestamp is ≥ `timestamp`, or undefined if there is none. */
  getOffsetForTimestamp$(topic: string, partition: number, timestamp: bigint | number | Date): Observable<bigint | undefined> {
    return data.getOffsetForTimestamp$(this.exchange, topic, partition, timestamp);
  }

  // ---- topics and metadata --------------------------------------------------------------------

  /**
   * Create a topic; `partitions` omitted, the broker's default. rivvend accepts 1..1000. With
   * `{ ifNotExists: true }` a topic that exists already is emitted instead of failing with
   * TOPIC_ALREADY_EXISTS — if it has the partition count asked for (another count is a
   * ConfigError naming both; without `partitions` any count is accepted).
   */
  createTopic$(name: string, partitions?: number, options?: admin.CreateTopicOptions): Observable<TopicInfo> {
    return admin.createTopic$(this.exchange, name, partitions, options);
  }

  /** The names of every topic. */
  listTopics$(): Observable<string[]> {
    return admin.listTopics$(this.exchange);
  }

  /** Delete a topic and its records. */
  deleteTopic$(name: string): Observable<void> {
    return admin.deleteTopic$(this.exchange, name);
  }

  /** A topic's name and partition count. */
  getMetadata$(topic: string): Observable<TopicInfo> {
    return admin.getMetadata$(this.exchange, topic);
  }

  /** Brokers and topic/partition metadata; `topics` empty or omitted means all topics. */
  getClusterMetadata$(topics: readonly string[] = []): Observable<ClusterMetadata> {
    return admin.getClusterMetadata$(this.exchange, topics);
  }

  // ---- admin ----------------------------------------------------------------------------------

  /** Configuration of the given topics (all topics if empty). */
  describeTopicConfigs$(topics: readonly string[] = []): Observable<TopicConfigDescription[]> {
    return admin.describeTopicConfigs$(this.exchange, topics);
  }

  /** Set (string) or reset to default (null) configuration keys; emits how many changed. */
  alterTopicConfig$(topic: string, configs: Record<string, string | null>): Observable<number> {
    return admin.alterTopicConfig$(this.exchange, topic, configs);
  }

  /** Grow a topic to `newPartitionCount` partitions; emits the new count. */
  createPartitions$(topic: string, newPartitionCount: number, assignments: readonly string[][] = []): Observable<number> {
    return admin.createPartitions$(this.exchange, topic, newPartitionCount, assignments);
  }

  /** Delete records before the given offset in each partition. */
  deleteRecords$(topic: string, partitionOffsets: readonly (readonly [partition: number, beforeOffset: bigint])[]): Observable<DeleteRecordsResult[]> {
    return admin.deleteRecords$(this.exchange, topic, partitionOffsets);
  }

  /** The quotas set for the given `[entityType, entityName?]` entities (every quota if empty). */
  describeQuotas$(entities: readonly (readonly [entityType: string, entityName?: string])[] = []): Observable<QuotaEntry[]> {
    return admin.describeQuotas$(this.exchange, entities);
  }

  /** Apply quota changes; emits how many were applied. */
  alterQuotas$(alterations: readonly QuotaAlterationInput[]): Observable<number> {
    return admin.alterQuotas$(this.exchange, alterations);
  }

  // ---- consumer group offsets -----------------------------------------------------------------

  /** Commit `offset` (the next offset the group reads, Kafka's convention) for the group on one partition. */
  commitOffset$(group: string, topic: string, partition: number, offset: bigint | number): Observable<void> {
    return groups.commitOffset$(this.exchange, group, topic, partition, offset);
  }

  /** The group's committed offset, or undefined if it never committed one. */
  getOffset$(group: string, topic: string, partition: number): Observable<bigint | undefined> {
    return groups.getOffset$(this.exchange, group, topic, partition);
  }

  /** The ids of every consumer group. */
  listGroups$(): Observable<string[]> {
    return groups.listGroups$(this.exchange);
  }

  /** A group's committed offsets. */
  describeGroup$(group: string): Observable<GroupDescription> {
    return groups.describeGroup$(this.exchange, group);
  }

  /** Delete a consumer group and its committed offsets. */
  deleteGroup$(group: string): Observable<void> {
    return groups.deleteGroup$(this.exchange, group);
  }

  // ---- group coordination ---------------------------------------------------------------------

  /** Join (or rejoin) a group; the coordinator answers once the rebalance settles. */
  joinGroup$(groupId: string, memberId: string, options: JoinGroupOptions): Observable<JoinGroupResult> {
    return groups.joinGroup$(this.exchange, groupId, memberId, options);
  }

  /** The leader sends everyone's assignments; every member receives its own (topic, partitions). */
  syncGroup$(groupId: string, generationId: number, memberId: string, assignments: GroupAssignments = []): Observable<[string, number[]][]> {
    return groups.syncGroup$(this.exchange, groupId, generationId, memberId, assignments);
  }

  /** Tell the coordinator this member is alive; the answer says whether it must rejoin. */
  heartbeat$(groupId: string, generationId: number, memberId: string): Observable<HeartbeatResult> {
    return groups.heartbeat$(this.exchange, groupId, generationId, memberId);
  }

  /** Leave the group (the coordinator rebalances the others). */
  leaveGroup$(groupId: string, memberId: string): Observable<void> {
    return groups.leaveGroup$(this.exchange, groupId, memberId);
  }

  // ---- idempotent and transactional primitives ------------------------------------------------

  /** A producer id and epoch; pass a previous id to bump its epoch (fencing older instances). */
  initProducerId$(previousProducerId?: bigint): Observable<ProducerIdentity> {
    return txn.initProducerId$(this.exchange, previousProducerId);
  }

  /** One record with a producer id and sequence, so that the broker stores a retried send once. */
  idempotentPublish$(topic: string, record: PublishRecord, producer: ProducerIdentity, sequence: number): Observable<IdempotentRecordMetadata> {
    return txn.idempotentPublish$(this.exchange, topic, record, producer, sequence);
  }

  /** Many records to one partition as one idempotent batch, numbered from `baseSequence`. */
  idempotentPublishBatch$(
    topic: string,
    records: readonly { key?: Bytes; value: Bytes }[],
    producer: ProducerIdentity,
    baseSequence: number,
    options: { partition?: number; leaderEpoch?: bigint } = {},
  ): Observable<IdempotentBatchMetadata> {
    return txn.idempotentPublishBatch$(this.exchange, topic, records, producer, baseSequence, options);
  }

  /** Open transaction `txnId` for this producer; `timeoutMs` omitted, the broker's default. */
  beginTransaction$(txnId: string, producer: ProducerIdentity, timeoutMs?: number): Observable<void> {
    return txn.beginTransaction$(this.exchange, txnId, producer, timeoutMs);
  }

  /** Add partitions to the open transaction; emits how many partitions it now spans. */
  addPartitionsToTxn$(txnId: string, producer: ProducerIdentity, partitions: readonly (readonly [topic: string, partition: number])[]): Observable<number> {
    return txn.addPartitionsToTxn$(this.exchange, txnId, producer, partitions);
  }

  /**
   * One record inside the open transaction `txnId`. rivvend 0.0.22 has no last stable offset: read_committed
   * readers see it at once, until an abort hides it.
   */
  transactionalPublish$(txnId: string, topic: string, record: PublishRecord, producer: ProducerIdentity, sequence: number): Observable<TransactionalRecordMetadata> {
    return txn.transactionalPublish$(this.exchange, txnId, topic, record, producer, sequence);
  }

  /** Commit consumed offsets (topic, partition, next offset) as part of the transaction. */
  addOffsetsToTxn$(txnId: string, producer: ProducerIdentity, groupId: string, offsets: readonly (readonly [topic: string, partition: number, offset: bigint])[]): Observable<void> {
    return txn.addOffsetsToTxn$(this.exchange, txnId, producer, groupId, offsets);
  }

  /** Commit the open transaction: its records and the offsets added to it are committed together. */
  commitTransaction$(txnId: string, producer: ProducerIdentity): Observable<void> {
    return txn.commitTransaction$(this.exchange, txnId, producer);
  }

  /** Abort the open transaction: its records are hidden from read_committed readers (by producer id and offset range). */
  abortTransaction$(txnId: string, producer: ProducerIdentity): Observable<void> {
    return txn.abortTransaction$(this.exchange, txnId, producer);
  }
}
