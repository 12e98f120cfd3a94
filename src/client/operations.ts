/**
 * The typed broker operations (publish$, consume$, createTopic$, …) written once over an abstract
 * `send$`, for the clients that route requests their own way: `PipelinedClient` (one connection,
 * bounded in-flight) and `ResilientClient` (pool, failover, retry, circuit breaker). Broker `Error`
 * and `Throttled` replies become typed errors through `errorFromResponse`.
 */
import { Observable, map } from 'rxjs';
import { ConfigError } from '../errors.js';
import type { RequestInput } from '../protocol/request-schema.js';
import type { Response, ResponseOf, ResponseType } from '../protocol/response-schema.js';
import type { RequestOptions } from '../transport/connection.js';
import { errorFromResponse } from './response-errors.js';
import type {
  BatchMetadata,
  Bytes,
  ClusterMetadata,
  ConsumeOptions,
  ConsumedRecord,
  DeleteRecordsResult,
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
  QuotaEntry,
  RecordMetadata,
  TopicConfigDescription,
  TopicInfo,
  TransactionalRecordMetadata,
} from './client-types.js';

const ISOLATION: Record<string, number> = { read_uncommitted: 0, read_committed: 1 };
/** HeartbeatResult error code asking the member to rejoin. */
const REBALANCE_IN_PROGRESS = 27;

type Expected = ResponseType | readonly ResponseType[];
type Matched<E extends Expected> = E extends ResponseType ? ResponseOf<E> : E extends readonly (infer T extends ResponseType)[] ? ResponseOf<T> : never;

function toTimestamp(value: bigint | number | Date, option: string): bigint {
  if (typeof value === 'bigint') return value;
  if (value instanceof Date) return BigInt(value.getTime());
  if (Number.isInteger(value)) return BigInt(value);
  throw new ConfigError(option, `expected milliseconds since the epoch (bigint, integer or Date), got ${value}`);
}

function toOffset(value: bigint | number, option: string): bigint {
  if (typeof value === 'bigint') return value;
  if (Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  throw new ConfigError(option, `expected a non-negative offset, got ${value}`);
}

function failed$<T>(error: unknown): Observable<T> {
  return new Observable<T>((subscriber) => subscriber.error(error));
}

function configError$<T>(option: string, message: string): Observable<T> {
  return failed$(new ConfigError(option, message));
}

/** Typed operations over `send$`. Subclasses decide how a request reaches a broker. */
export abstract class BrokerOperations {
  /** Send one request; emit the broker's reply (Error replies may be emitted or thrown). */
  protected abstract send$(request: RequestInput, options?: RequestOptions): Observable<Response>;

  // ---- basics ---------------------------------------------------------------------------------

  /** Round trip to the broker; emits the latency in milliseconds. */
  ping$(): Observable<number> {
    return new Observable<number>((subscriber) => {
      const started = performance.now();
      return this.call$({ type: 'Ping' }, 'Pong', () => performance.now() - started).subscribe(subscriber);
    });
  }

  publish$(topic: string, record: PublishRecord): Observable<RecordMetadata> {
    return this.call$(
      { type: 'Publish', topic, partition: record.partition, key: record.key, value: record.value, leaderEpoch: record.leaderEpoch },
      'Published',
      (r) => ({ topic, partition: r.partition, offset: r.offset }),
    );
  }

  /** Many records to one partition (or one the broker picks) in one request; offsets are contiguous. */
  publishBatch$(
    topic: string,
    records: readonly { key?: Bytes; value: Bytes }[],
    options: { partition?: number; leaderEpoch?: bigint } = {},
  ): Observable<BatchMetadata> {
    return this.call$(
      { type: 'PublishBatch', topic, partition: options.partition, records, leaderEpoch: options.leaderEpoch },
      'PublishedBatch',
      (r) => ({ topic, partition: r.partition, baseOffset: r.baseOffset, recordCount: r.recordCount }),
    );
  }

  /** Fetch up to `maxMessages` records from `offset`; with `maxWaitMs` the broker long-polls. */
  consume$(topic: string, options: ConsumeOptions): Observable<ConsumedRecord[]> {
    const isolation = options.isolationLevel === undefined ? undefined : ISOLATION[options.isolationLevel];
    if (options.isolationLevel !== undefined && isolation === undefined) {
      return configError$('isolationLevel', `expected 'read_uncommitted' or 'read_committed', got '${options.isolationLevel}'`);
    }
    const maxWaitMs = options.maxWaitMs;
    const request: RequestInput = {
      type: 'Consume',
      topic,
      partition: options.partition,
      offset: options.offset,
      maxMessages: options.maxMessages,
      isolationLevel: isolation,
      maxWaitMs: maxWaitMs === undefined ? undefined : BigInt(maxWaitMs),
    };
    // A long poll legitimately takes maxWaitMs: never time it out before the broker answers.
    const timeoutMs = maxWaitMs ? maxWaitMs + 30_000 : undefined;
    return this.call$(
      request,
      'Messages',
      (r) =>
        r.messages.map((m) => ({
          topic,
          partition: m.partition,
          offset: m.offset,
          key: m.key,
          value: m.value,
          timestamp: m.timestamp,
          headers: m.headers,
        })),
      { timeoutMs },
    );
  }

  // ---- topics and metadata --------------------------------------------------------------------

  createTopic$(name: string, partitions?: number): Observable<TopicInfo> {
    return this.call$({ type: 'CreateTopic', name, partitions }, 'TopicCreated', (r) => ({ name: r.name, partitions: r.partitions }));
  }

  listTopics$(): Observable<string[]> {
    return this.call$({ type: 'ListTopics' }, 'Topics', (r) => r.topics);
  }

  deleteTopic$(name: string): Observable<void> {
    return this.call$({ type: 'DeleteTopic', name }, ['TopicDeleted', 'Ok'], () => undefined);
  }

  getMetadata$(topic: string): Observable<TopicInfo> {
    return this.call$({ type: 'GetMetadata', topic }, 'Metadata', (r) => ({ name: r.name, partitions: r.partitions }));
  }

  /** Brokers and topic/partition metadata; `topics` empty or omitted means all topics. */
  getClusterMetadata$(topics: readonly string[] = []): Observable<ClusterMetadata> {
    return this.call$({ type: 'GetClusterMetadata', topics }, 'ClusterMetadata', (r) => ({
      controllerId: r.controllerId,
      brokers: r.brokers,
      topics: r.topics,
    }));
  }

  getOffsetBounds$(topic: string, partition: number): Observable<OffsetBounds> {
    return this.call$({ type: 'GetOffsetBounds', topic, partition }, 'OffsetBounds', (r) => ({ earliest: r.earliest, latest: r.latest }));
  }

  /** The first offset whose timestamp is ≥ `timestamp`, or undefined if there is none. */
  getOffsetForTimestamp$(topic: string, partition: number, timestamp: bigint | number | Date): Observable<bigint | undefined> {
    let timestampMs: bigint;
    try {
      timestampMs = toTimestamp(timestamp, 'timestamp');
    } catch (error) {
      return failed$(error);
    }
    return this.call$({ type: 'GetOffsetForTimestamp', topic, partition, timestampMs }, 'OffsetForTimestamp', (r) => r.offset);
  }

  // ---- consumer group offsets -----------------------------------------------------------------

  commitOffset$(group: string, topic: string, partition: number, offset: bigint | number): Observable<void> {
    let value: bigint;
    try {
      value = toOffset(offset, 'offset');
    } catch (error) {
      return failed$(error);
    }
    return this.call$({ type: 'CommitOffset', consumerGroup: group, topic, partition, offset: value }, ['OffsetCommitted', 'Ok'], () => undefined);
  }

  /** The group's committed offset, or undefined if it never committed one. */
  getOffset$(group: string, topic: string, partition: number): Observable<bigint | undefined> {
    return this.call$({ type: 'GetOffset', consumerGroup: group, topic, partition }, 'Offset', (r) => r.offset);
  }

  listGroups$(): Observable<string[]> {
    return this.call$({ type: 'ListGroups' }, 'Groups', (r) => r.groups);
  }

  describeGroup$(group: string): Observable<GroupDescription> {
    return this.call$({ type: 'DescribeGroup', consumerGroup: group }, 'GroupDescription', (r) => ({
      group: r.consumerGroup,
      offsets: r.offsets,
    }));
  }

  deleteGroup$(group: string): Observable<void> {
    return this.call$({ type: 'DeleteGroup', consumerGroup: group }, ['GroupDeleted', 'Ok'], () => undefined);
  }

  // ---- admin ----------------------------------------------------------------------------------

  /** Configuration of the given topics (all topics if empty). */
  describeTopicConfigs$(topics: readonly string[] = []): Observable<TopicConfigDescription[]> {
    return this.call$({ type: 'DescribeTopicConfigs', topics }, 'TopicConfigsDescribed', (r) => r.configs);
  }

  /** Set (string) or reset to default (null) configuration keys; emits how many changed. */
  alterTopicConfig$(topic: string, configs: Record<string, string | null>): Observable<number> {
    const entries = Object.entries(configs).map(([key, value]) => ({ key, value: value ?? undefined }));
    return this.call$({ type: 'AlterTopicConfig', topic, configs: entries }, 'TopicConfigAltered', (r) => r.changedCount);
  }

  /** Grow a topic to `newPartitionCount` partitions; emits the new count. */
  createPartitions$(topic: string, newPartitionCount: number, assignments: readonly string[][] = []): Observable<number> {
    return this.call$({ type: 'CreatePartitions', topic, newPartitionCount, assignments }, 'PartitionsCreated', (r) => r.newPartitionCount);
  }

  /** Delete records before the given offset in each partition. */
  deleteRecords$(topic: string, partitionOffsets: readonly (readonly [partition: number, beforeOffset: bigint])[]): Observable<DeleteRecordsResult[]> {
    return this.call$({ type: 'DeleteRecords', topic, partitionOffsets }, 'RecordsDeleted', (r) => r.results);
  }

  describeQuotas$(entities: readonly (readonly [entityType: string, entityName?: string])[] = []): Observable<QuotaEntry[]> {
    return this.call$(
      { type: 'DescribeQuotas', entities: entities.map(([t, n]) => [t, n] as const) },
      'QuotasDescribed',
      (r) => r.entries,
    );
  }

  /** Apply quota changes; emits how many were applied. */
  alterQuotas$(alterations: readonly QuotaAlterationInput[]): Observable<number> {
    return this.call$({ type: 'AlterQuotas', alterations }, 'QuotasAltered', (r) => r.alteredCount);
  }

  // ---- idempotent and transactional primitives ------------------------------------------------

  /** A producer id and epoch; pass a previous id to bump its epoch (fencing older instances). */
  initProducerId$(previousProducerId?: bigint): Observable<ProducerIdentity> {
    return this.call$({ type: 'InitProducerId', producerId: previousProducerId }, 'ProducerIdInitialized', (r) => ({
      producerId: r.producerId,
      producerEpoch: r.producerEpoch,
    }));
  }

  idempotentPublish$(topic: string, record: PublishRecord, producer: ProducerIdentity, sequence: number): Observable<IdempotentRecordMetadata> {
    return this.call$(
      {
        type: 'IdempotentPublish',
        topic,
        partition: record.partition,
        key: record.key,
        value: record.value,
        producerId: producer.producerId,
        producerEpoch: producer.producerEpoch,
        sequence,
        leaderEpoch: record.leaderEpoch,
      },
      'IdempotentPublished',
      (r) => ({ topic, partition: r.partition, offset: r.offset, duplicate: r.duplicate }),
    );
  }

  idempotentPublishBatch$(
    topic: string,
    records: readonly { key?: Bytes; value: Bytes }[],
    producer: ProducerIdentity,
    baseSequence: number,
    options: { partition?: number; leaderEpoch?: bigint } = {},
  ): Observable<IdempotentBatchMetadata> {
    return this.call$(
      {
        type: 'IdempotentPublishBatch',
        topic,
        partition: options.partition,
        records,
        producerId: producer.producerId,
        producerEpoch: producer.producerEpoch,
        baseSequence,
        leaderEpoch: options.leaderEpoch,
      },
      'IdempotentPublishedBatch',
      (r) => ({ topic, partition: r.partition, baseOffset: r.baseOffset, recordCount: r.recordCount, duplicate: r.duplicate }),
    );
  }

  beginTransaction$(txnId: string, producer: ProducerIdentity, timeoutMs?: number): Observable<void> {
    return this.call$(
      {
        type: 'BeginTransaction',
        txnId,
        producerId: producer.producerId,
        producerEpoch: producer.producerEpoch,
        timeoutMs: timeoutMs === undefined ? undefined : BigInt(timeoutMs),
      },
      'TransactionStarted',
      () => undefined,
    );
  }

  /** Add partitions to the open transaction; emits how many partitions it now spans. */
  addPartitionsToTxn$(txnId: string, producer: ProducerIdentity, partitions: readonly (readonly [topic: string, partition: number])[]): Observable<number> {
    return this.call$(
      { type: 'AddPartitionsToTxn', txnId, producerId: producer.producerId, producerEpoch: producer.producerEpoch, partitions },
      'PartitionsAddedToTxn',
      (r) => r.partitionCount,
    );
  }

  transactionalPublish$(
    txnId: string,
    topic: string,
    record: PublishRecord,
    producer: ProducerIdentity,
    sequence: number,
  ): Observable<TransactionalRecordMetadata> {
    return this.call$(
      {
        type: 'TransactionalPublish',
        txnId,
        topic,
        partition: record.partition,
        key: record.key,
        value: record.value,
        producerId: producer.producerId,
        producerEpoch: producer.producerEpoch,
        sequence,
        leaderEpoch: record.leaderEpoch,
      },
      'TransactionalPublished',
      (r) => ({ topic, partition: r.partition, offset: r.offset, sequence: r.sequence }),
    );
  }

  /** Commit consumed offsets (topic, partition, next offset) as part of the transaction. */
  addOffsetsToTxn$(
    txnId: string,
    producer: ProducerIdentity,
    groupId: string,
    offsets: readonly (readonly [topic: string, partition: number, offset: bigint])[],
  ): Observable<void> {
    return this.call$(
      { type: 'AddOffsetsToTxn', txnId, producerId: producer.producerId, producerEpoch: producer.producerEpoch, groupId, offsets },
      'OffsetsAddedToTxn',
      () => undefined,
    );
  }

  commitTransaction$(txnId: string, producer: ProducerIdentity): Observable<void> {
    return this.call$(
      { type: 'CommitTransaction', txnId, producerId: producer.producerId, producerEpoch: producer.producerEpoch },
      'TransactionCommitted',
      () => undefined,
    );
  }

  abortTransaction$(txnId: string, producer: ProducerIdentity): Observable<void> {
    return this.call$(
      { type: 'AbortTransaction', txnId, producerId: producer.producerId, producerEpoch: producer.producerEpoch },
      'TransactionAborted',
      () => undefined,
    );
  }

  // ---- group coordination ---------------------------------------------------------------------

  /** Join (or rejoin) a group; the coordinator answers once the rebalance settles. */
  joinGroup$(groupId: string, memberId: string, options: JoinGroupOptions): Observable<JoinGroupResult> {
    return this.call$(
      {
        type: 'JoinGroup',
        groupId,
        memberId,
        sessionTimeoutMs: options.sessionTimeoutMs,
        rebalanceTimeoutMs: options.rebalanceTimeoutMs,
        protocolType: options.protocolType ?? 'consumer',
        subscriptions: options.subscriptions,
      },
      'JoinGroupResult',
      (r) => ({
        generationId: r.generationId,
        protocolType: r.protocolType,
        memberId: r.memberId,
        leaderId: r.leaderId,
        members: r.members,
        isLeader: r.memberId === r.leaderId,
      }),
      // The coordinator holds JoinGroup until every member joined, up to the rebalance timeout.
      { timeoutMs: options.rebalanceTimeoutMs + 30_000 },
    );
  }

  /** The leader sends everyone's assignments; every member receives its own (topic, partitions). */
  syncGroup$(groupId: string, generationId: number, memberId: string, assignments: GroupAssignments = []): Observable<[string, number[]][]> {
    return this.call$({ type: 'SyncGroup', groupId, generationId, memberId, assignments }, 'SyncGroupResult', (r) => r.assignments);
  }

  heartbeat$(groupId: string, generationId: number, memberId: string): Observable<HeartbeatResult> {
    return this.call$({ type: 'Heartbeat', groupId, generationId, memberId }, 'HeartbeatResult', (r) => ({
      errorCode: r.errorCode,
      rebalanceInProgress: r.errorCode === REBALANCE_IN_PROGRESS,
    }));
  }

  leaveGroup$(groupId: string, memberId: string): Observable<void> {
    return this.call$({ type: 'LeaveGroup', groupId, memberId }, ['LeaveGroupResult', 'Ok'], () => undefined);
  }

  // ---- internals ------------------------------------------------------------------------------

  private call$<E extends Expected, R>(
    request: RequestInput,
    expected: E,
    project: (response: Matched<E>) => R,
    options?: RequestOptions,
  ): Observable<R> {
    const accepts: readonly ResponseType[] = typeof expected === 'string' ? [expected as ResponseType] : (expected as readonly ResponseType[]);
    return this.send$(request, options).pipe(
      map((response) => {
        if (accepts.includes(response.type)) return project(response as Matched<E>);
        throw errorFromResponse(response, request.type);
      }),
    );
  }
}
