/**
 * The typed broker operations (publish$, consume$, createTopic$, …) written once over an abstract
 * `send$`, for the clients that route requests their own way: `PipelinedClient` (one connection,
 * bounded in-flight) and `ResilientClient` (pool, failover, retry, circuit breaker). Broker `Error`
 * and `Throttled` replies become typed errors through `errorFromResponse`.
 *
 * Every operation checks its arguments when subscribed, before anything is encoded or sent
 * (operation-input.ts): a wrong type or range is a `ConfigError`, not retriable.
 * `consume$` gives values as the producer sent them (value-decoder.ts), like `Consumer`.
 */
import { Observable, defer, map, mergeMap } from 'rxjs';
import { MAX_TIMER_MS } from '../settings-validation.js';
import { ConfigError } from '../errors.js';
import { decodeValues } from '../protocol/value-decoder.js';
import type { RequestInput } from '../protocol/request-schema.js';
import type { Response, ResponseType } from '../protocol/response-schema.js';
import type { RequestOptions } from '../transport/connection.js';
import { ArgumentCheck } from './operation-input.js';
import { errorFromResponse } from './response-errors.js';
import {
  REBALANCE_IN_PROGRESS_CODE,
  JOIN_OPTION_KEYS,
  toTimestamp,
  toOffset,
  checkProducer,
  checkRecord,
  sequencedRecord,
  checkBatch,
  checkGroupPartition,
  checkMember,
  checkNames,
  checkTransaction,
  checkConsume,
  type Expected,
  type Matched,
} from './operation-checks.js';
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


export { REBALANCE_IN_PROGRESS_CODE, DEFAULT_MAX_DECODED_BYTES } from './operation-checks.js';

/** Typed operations over `send$`. Subclasses decide how a request reaches a broker. */
export abstract class BrokerOperations {
  /** Send one request; emit the broker's reply (Error replies may be emitted or thrown). */
  protected abstract send$(request: RequestInput, options?: RequestOptions): Observable<Response>;

  // ---- basics ---------------------------------------------------------------------------------

  /** Round trip to the broker; emits the latency in milliseconds. */
  ping$(): Observable<number> {
    return new Observable<number>((subscriber) => {
      const started = performance.now();
      return this.call$(() => ({ type: 'Ping' }), 'Pong', () => performance.now() - started).subscribe(subscriber);
    });
  }

  /**
   * One record. rivvend 0.0.22 creates a topic that does not exist (with its default partition
   * count) on Publish; there is no broker setting to turn that off.
   */
  publish$(topic: string, record: PublishRecord): Observable<RecordMetadata> {
    return this.call$(
      () => {
        const check = new ArgumentCheck('publish$');
        check.name('topic', topic);
        checkRecord(check, record);
        return { type: 'Publish', topic, partition: record.partition, key: record.key, value: record.value, leaderEpoch: record.leaderEpoch };
      },
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
      () => {
        checkBatch('publishBatch$', topic, records, options);
        return { type: 'PublishBatch', topic, partition: options.partition, records, leaderEpoch: options.leaderEpoch };
      },
      'PublishedBatch',
      (r) => ({ topic, partition: r.partition, baseOffset: r.baseOffset, recordCount: r.recordCount }),
    );
  }

  /**
   * Fetch up to `maxMessages` records from `offset`; with `maxWaitMs` the broker long-polls.
   * Values come back as the producer sent them (decompressed per `valueFraming`, as `Consumer`
   * does); `valueFraming: 'raw'` gives the stored bytes. At most `maxDecodedBytes` of values per
   * call: when more were fetched, the records that fit are returned and the caller asks again
   * from the offset after the last one.
   */
  consume$(topic: string, options: ConsumeOptions): Observable<ConsumedRecord[]> {
    return defer(() => {
      const consume = checkConsume(topic, options);
      return this.call$(() => consume.request, 'Messages', (r) => r.messages, { timeoutMs: consume.timeoutMs }).pipe(
        mergeMap(async (messages): Promise<ConsumedRecord[]> => {
          const toRecord = (m: (typeof messages)[number], value: Buffer): ConsumedRecord => ({
            topic,
            partition: m.partition,
            offset: m.offset,
            key: m.key,
            value,
            timestamp: m.timestamp,
            headers: m.headers,
          });
          if (consume.framing === 'raw' || messages.length === 0) return messages.map((m) => toRecord(m, m.value));
          const { decoded, nextNeeds } = await decodeValues(
            messages.map((m) => m.value),
            { framing: consume.framing, budgetBytes: consume.budgetBytes },
          );
          if (decoded.length === 0) {
            const first = messages[0]!;
            throw new ConfigError(
              'options.maxDecodedBytes',
              `consume$: the value at ${topic}/${first.partition}@${first.offset} decodes to ${nextNeeds ?? 'more than'} bytes, ` +
                `more than maxDecodedBytes (${consume.budgetBytes}); raise maxDecodedBytes, or read it as stored with valueFraming: 'raw'`,
            );
          }
          return decoded.map((value, i) => toRecord(messages[i]!, value));
        }),
      );
    });
  }

  // ---- topics and metadata --------------------------------------------------------------------

  /** Create a topic; `partitions` omitted, the broker's default. rivvend accepts 1..1000. */
  createTopic$(name: string, partitions?: number): Observable<TopicInfo> {
    return this.call$(
      () => {
        const check = new ArgumentCheck('createTopic$');
        check.name('name', name);
        if (partitions !== undefined) check.u32('partitions', partitions);
        return { type: 'CreateTopic', name, partitions };
      },
      'TopicCreated',
      (r) => ({ name: r.name, partitions: r.partitions }),
    );
  }

  listTopics$(): Observable<string[]> {
    return this.call$(() => ({ type: 'ListTopics' }), 'Topics', (r) => r.topics);
  }

  deleteTopic$(name: string): Observable<void> {
    return this.checked$('deleteTopic$', (check) => check.name('name', name), () => ({ type: 'DeleteTopic', name }), ['TopicDeleted', 'Ok'], () => undefined);
  }

  getMetadata$(topic: string): Observable<TopicInfo> {
    return this.checked$('getMetadata$', (check) => check.name('topic', topic), () => ({ type: 'GetMetadata', topic }), 'Metadata', (r) => ({ name: r.name, partitions: r.partitions }));
  }

  /** Brokers and topic/partition metadata; `topics` empty or omitted means all topics. */
  getClusterMetadata$(topics: readonly string[] = []): Observable<ClusterMetadata> {
    return this.checked$('getClusterMetadata$', (check) => checkNames(check, 'topics', topics), () => ({ type: 'GetClusterMetadata', topics }), 'ClusterMetadata', (r) => ({ controllerId: r.controllerId, brokers: r.brokers, topics: r.topics }));
  }

  getOffsetBounds$(topic: string, partition: number): Observable<OffsetBounds> {
    return this.call$(
      () => {
        const check = new ArgumentCheck('getOffsetBounds$');
        check.name('topic', topic);
        check.partition('partition', partition);
        return { type: 'GetOffsetBounds', topic, partition };
      },
      'OffsetBounds',
      (r) => ({ earliest: r.earliest, latest: r.latest }),
    );
  }

  /** The first offset whose timestamp is ≥ `timestamp`, or undefined if there is none. */
  getOffsetForTimestamp$(topic: string, partition: number, timestamp: bigint | number | Date): Observable<bigint | undefined> {
    return this.call$(
      () => {
        const check = new ArgumentCheck('getOffsetForTimestamp$');
        check.name('topic', topic);
        check.partition('partition', partition);
        return { type: 'GetOffsetForTimestamp', topic, partition, timestampMs: toTimestamp(check, timestamp, 'timestamp') };
      },
      'OffsetForTimestamp',
      (r) => r.offset,
    );
  }

  // ---- consumer group offsets -----------------------------------------------------------------

  commitOffset$(group: string, topic: string, partition: number, offset: bigint | number): Observable<void> {
    return this.call$(
      () => {
        const check = new ArgumentCheck('commitOffset$');
        checkGroupPartition(check, group, topic, partition);
        return { type: 'CommitOffset', consumerGroup: group, topic, partition, offset: toOffset(check, offset, 'offset') };
      },
      ['OffsetCommitted', 'Ok'],
      () => undefined,
    );
  }

  /** The group's committed offset, or undefined if it never committed one. */
  getOffset$(group: string, topic: string, partition: number): Observable<bigint | undefined> {
    return this.checked$('getOffset$', (check) => checkGroupPartition(check, group, topic, partition), () => ({ type: 'GetOffset', consumerGroup: group, topic, partition }), 'Offset', (r) => r.offset);
  }

  listGroups$(): Observable<string[]> {
    return this.call$(() => ({ type: 'ListGroups' }), 'Groups', (r) => r.groups);
  }

  describeGroup$(group: string): Observable<GroupDescription> {
    return this.checked$('describeGroup$', (check) => check.name('group', group), () => ({ type: 'DescribeGroup', consumerGroup: group }), 'GroupDescription', (r) => ({ group: r.consumerGroup, offsets: r.offsets }));
  }

  deleteGroup$(group: string): Observable<void> {
    return this.checked$('deleteGroup$', (check) => check.name('group', group), () => ({ type: 'DeleteGroup', consumerGroup: group }), ['GroupDeleted', 'Ok'], () => undefined);
  }

  // ---- admin ----------------------------------------------------------------------------------

  /** Configuration of the given topics (all topics if empty). */
  describeTopicConfigs$(topics: readonly string[] = []): Observable<TopicConfigDescription[]> {
    return this.checked$('describeTopicConfigs$', (check) => checkNames(check, 'topics', topics), () => ({ type: 'DescribeTopicConfigs', topics }), 'TopicConfigsDescribed', (r) => r.configs);
  }

  /** Set (string) or reset to default (null) configuration keys; emits how many changed. */
  alterTopicConfig$(topic: string, configs: Record<string, string | null>): Observable<number> {
    return this.call$(
      () => {
        const check = new ArgumentCheck('alterTopicConfig$');
        check.name('topic', topic);
        check.object('configs', configs);
        const entries = Object.entries(configs).map(([key, value]) => {
          if (value !== null && typeof value !== 'string') check.fail(`configs['${key}']`, 'a string (set) or null (reset to the default)', value);
          return { key, value: value ?? undefined };
        });
        if (entries.length > 10_000) check.fail('configs', 'at most 10000 keys', entries.length);
        return { type: 'AlterTopicConfig', topic, configs: entries };
      },
      'TopicConfigAltered',
      (r) => r.changedCount,
    );
  }

  /** Grow a topic to `newPartitionCount` partitions; emits the new count. */
  createPartitions$(topic: string, newPartitionCount: number, assignments: readonly string[][] = []): Observable<number> {
    return this.call$(
      () => {
        const check = new ArgumentCheck('createPartitions$');
        check.name('topic', topic);
        check.u32('newPartitionCount', newPartitionCount);
        check.array('assignments', assignments).forEach((brokers, i) =>
          check.array(`assignments[${i}]`, brokers).forEach((b, j) => check.string(`assignments[${i}][${j}]`, b)),
        );
        return { type: 'CreatePartitions', topic, newPartitionCount, assignments };
      },
      'PartitionsCreated',
      (r) => r.newPartitionCount,
    );
  }

  /** Delete records before the given offset in each partition. */
  deleteRecords$(topic: string, partitionOffsets: readonly (readonly [partition: number, beforeOffset: bigint])[]): Observable<DeleteRecordsResult[]> {
    return this.call$(
      () => {
        const check = new ArgumentCheck('deleteRecords$');
        check.name('topic', topic);
        check.array('partitionOffsets', partitionOffsets).forEach((entry, i) => {
          if (!Array.isArray(entry) || entry.length !== 2) check.fail(`partitionOffsets[${i}]`, 'a [partition, beforeOffset] pair', entry);
          check.partition(`partitionOffsets[${i}][0]`, entry[0]);
          check.u64(`partitionOffsets[${i}][1]`, entry[1], 'an offset (a bigint)');
        });
        return { type: 'DeleteRecords', topic, partitionOffsets };
      },
      'RecordsDeleted',
      (r) => r.results,
    );
  }

  describeQuotas$(entities: readonly (readonly [entityType: string, entityName?: string])[] = []): Observable<QuotaEntry[]> {
    return this.call$(
      () => {
        const check = new ArgumentCheck('describeQuotas$');
        check.array('entities', entities).forEach((entity, i) => {
          if (!Array.isArray(entity) || entity.length < 1 || entity.length > 2) check.fail(`entities[${i}]`, 'an [entityType, entityName?] pair', entity);
          check.string(`entities[${i}][0]`, entity[0]);
          check.optionalString(`entities[${i}][1]`, entity[1]);
        });
        return { type: 'DescribeQuotas', entities: entities.map(([t, n]) => [t, n] as const) };
      },
      'QuotasDescribed',
      (r) => r.entries,
    );
  }

  /** Apply quota changes; emits how many were applied. */
  alterQuotas$(alterations: readonly QuotaAlterationInput[]): Observable<number> {
    return this.call$(
      () => {
        const check = new ArgumentCheck('alterQuotas$');
        check.array('alterations', alterations).forEach((a, i) => {
          check.object(`alterations[${i}]`, a);
          check.string(`alterations[${i}].entityType`, a.entityType);
          check.optionalString(`alterations[${i}].entityName`, a.entityName);
          check.string(`alterations[${i}].quotaKey`, a.quotaKey);
          check.optionalU64(`alterations[${i}].quotaValue`, a.quotaValue);
        });
        return { type: 'AlterQuotas', alterations };
      },
      'QuotasAltered',
      (r) => r.alteredCount,
    );
  }

  // ---- idempotent and transactional primitives ------------------------------------------------

  /** A producer id and epoch; pass a previous id to bump its epoch (fencing older instances). */
  initProducerId$(previousProducerId?: bigint): Observable<ProducerIdentity> {
    return this.call$(
      () => {
        new ArgumentCheck('initProducerId$').optionalU64('previousProducerId', previousProducerId, 'a producer id (a bigint)');
        return { type: 'InitProducerId', producerId: previousProducerId };
      },
      'ProducerIdInitialized',
      (r) => ({ producerId: r.producerId, producerEpoch: r.producerEpoch }),
    );
  }

  idempotentPublish$(topic: string, record: PublishRecord, producer: ProducerIdentity, sequence: number): Observable<IdempotentRecordMetadata> {
    return this.call$(
      () => {
        const check = new ArgumentCheck('idempotentPublish$');
        check.name('topic', topic);
        return { type: 'IdempotentPublish', topic, ...sequencedRecord(check, record, producer, sequence) };
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
      () => {
        const check = checkBatch('idempotentPublishBatch$', topic, records, options);
        const p = checkProducer(check, producer);
        check.sequence('baseSequence', baseSequence);
        return {
          type: 'IdempotentPublishBatch',
          topic,
          partition: options.partition,
          records,
          producerId: p.producerId,
          producerEpoch: p.producerEpoch,
          baseSequence,
          leaderEpoch: options.leaderEpoch,
        };
      },
      'IdempotentPublishedBatch',
      (r) => ({ topic, partition: r.partition, baseOffset: r.baseOffset, recordCount: r.recordCount, duplicate: r.duplicate }),
    );
  }

  beginTransaction$(txnId: string, producer: ProducerIdentity, timeoutMs?: number): Observable<void> {
    return this.call$(
      () => {
        const { check, producerId, producerEpoch } = checkTransaction('beginTransaction$', txnId, producer);
        check.optionalDurationMs('timeoutMs', timeoutMs);
        return { type: 'BeginTransaction', txnId, producerId, producerEpoch, timeoutMs: timeoutMs === undefined ? undefined : BigInt(timeoutMs) };
      },
      'TransactionStarted',
      () => undefined,
    );
  }

  /** Add partitions to the open transaction; emits how many partitions it now spans. */
  addPartitionsToTxn$(txnId: string, producer: ProducerIdentity, partitions: readonly (readonly [topic: string, partition: number])[]): Observable<number> {
    return this.call$(
      () => {
        const { check, producerId, producerEpoch } = checkTransaction('addPartitionsToTxn$', txnId, producer);
        check.array('partitions', partitions).forEach((tp, i) => {
          if (!Array.isArray(tp) || tp.length !== 2) check.fail(`partitions[${i}]`, 'a [topic, partition] pair', tp);
          check.name(`partitions[${i}][0]`, tp[0]);
          check.partition(`partitions[${i}][1]`, tp[1]);
        });
        return { type: 'AddPartitionsToTxn', txnId, producerId, producerEpoch, partitions };
      },
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
      () => {
        const check = new ArgumentCheck('transactionalPublish$');
        check.name('txnId', txnId);
        check.name('topic', topic);
        return { type: 'TransactionalPublish', txnId, topic, ...sequencedRecord(check, record, producer, sequence) };
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
      () => {
        const { check, producerId, producerEpoch } = checkTransaction('addOffsetsToTxn$', txnId, producer);
        check.name('groupId', groupId);
        check.array('offsets', offsets).forEach((entry, i) => {
          if (!Array.isArray(entry) || entry.length !== 3) check.fail(`offsets[${i}]`, 'a [topic, partition, offset] triple', entry);
          check.name(`offsets[${i}][0]`, entry[0]);
          check.partition(`offsets[${i}][1]`, entry[1]);
          check.i64(`offsets[${i}][2]`, entry[2], 'an offset (a bigint)');
        });
        return { type: 'AddOffsetsToTxn', txnId, producerId, producerEpoch, groupId, offsets };
      },
      'OffsetsAddedToTxn',
      () => undefined,
    );
  }

  commitTransaction$(txnId: string, producer: ProducerIdentity): Observable<void> {
    return this.endTransaction('commitTransaction$', 'CommitTransaction', 'TransactionCommitted', txnId, producer);
  }

  abortTransaction$(txnId: string, producer: ProducerIdentity): Observable<void> {
    return this.endTransaction('abortTransaction$', 'AbortTransaction', 'TransactionAborted', txnId, producer);
  }

  /** Commit or abort: one request shape, two names (the `$` is left off: it is no operation of its own). */
  private endTransaction(
    operation: string,
    type: 'CommitTransaction' | 'AbortTransaction',
    expected: 'TransactionCommitted' | 'TransactionAborted',
    txnId: string,
    producer: ProducerIdentity,
  ): Observable<void> {
    return this.call$(
      () => {
        const { producerId, producerEpoch } = checkTransaction(operation, txnId, producer);
        return { type, txnId, producerId, producerEpoch };
      },
      expected,
      () => undefined,
    );
  }

  // ---- group coordination ---------------------------------------------------------------------

  /** Join (or rejoin) a group; the coordinator answers once the rebalance settles. */
  joinGroup$(groupId: string, memberId: string, options: JoinGroupOptions): Observable<JoinGroupResult> {
    return defer(() => {
      const check = new ArgumentCheck('joinGroup$');
      check.name('groupId', groupId);
      check.name('memberId', memberId, { allowEmpty: true });
      check.object('options', options);
      check.knownKeys('options', options, JOIN_OPTION_KEYS);
      check.u32('options.sessionTimeoutMs', options.sessionTimeoutMs);
      const rebalanceTimeoutMs = check.u32('options.rebalanceTimeoutMs', options.rebalanceTimeoutMs);
      check.array('options.subscriptions', options.subscriptions).forEach((t, i) => check.name(`options.subscriptions[${i}]`, t));
      const protocolType = options.protocolType === undefined ? 'consumer' : check.name('options.protocolType', options.protocolType);
      return this.call$(
        () => ({
          type: 'JoinGroup',
          groupId,
          memberId,
          sessionTimeoutMs: options.sessionTimeoutMs,
          rebalanceTimeoutMs,
          protocolType,
          subscriptions: options.subscriptions,
        }),
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
        { timeoutMs: Math.min(rebalanceTimeoutMs + 30_000, MAX_TIMER_MS) },
      );
    });
  }

  /** The leader sends everyone's assignments; every member receives its own (topic, partitions). */
  syncGroup$(groupId: string, generationId: number, memberId: string, assignments: GroupAssignments = []): Observable<[string, number[]][]> {
    return this.call$(
      () => {
        const check = checkMember('syncGroup$', groupId, generationId, memberId);
        check.array('assignments', assignments).forEach((entry, i) => {
          if (!Array.isArray(entry) || entry.length !== 2) check.fail(`assignments[${i}]`, 'a [memberId, [topic, partitions][]] pair', entry);
          check.name(`assignments[${i}][0]`, entry[0], { allowEmpty: true });
          check.array(`assignments[${i}][1]`, entry[1]).forEach((tp, j) => {
            if (!Array.isArray(tp) || tp.length !== 2) check.fail(`assignments[${i}][1][${j}]`, 'a [topic, partitions] pair', tp);
            check.name(`assignments[${i}][1][${j}][0]`, tp[0]);
            check.array(`assignments[${i}][1][${j}][1]`, tp[1]).forEach((p, k) => check.partition(`assignments[${i}][1][${j}][1][${k}]`, p));
          });
        });
        return { type: 'SyncGroup', groupId, generationId, memberId, assignments };
      },
      'SyncGroupResult',
      (r) => r.assignments,
    );
  }

  heartbeat$(groupId: string, generationId: number, memberId: string): Observable<HeartbeatResult> {
    return this.call$(
      () => {
        checkMember('heartbeat$', groupId, generationId, memberId);
        return { type: 'Heartbeat', groupId, generationId, memberId };
      },
      'HeartbeatResult',
      (r) => ({ errorCode: r.errorCode, rebalanceInProgress: r.errorCode === REBALANCE_IN_PROGRESS_CODE }),
    );
  }

  leaveGroup$(groupId: string, memberId: string): Observable<void> {
    return this.call$(
      () => {
        const check = new ArgumentCheck('leaveGroup$');
        check.name('groupId', groupId);
        check.name('memberId', memberId, { allowEmpty: true });
        return { type: 'LeaveGroup', groupId, memberId };
      },
      ['LeaveGroupResult', 'Ok'],
      () => undefined,
    );
  }

  // ---- internals ------------------------------------------------------------------------------

  /** An operation whose arguments `checks` checks when subscribed (ConfigError before anything is sent). */
  private checked$<E extends Expected, R>(
    operation: string,
    checks: (check: ArgumentCheck) => void,
    build: () => RequestInput,
    expected: E,
    project: (response: Matched<E>) => R,
  ): Observable<R> {
    return this.call$(
      () => {
        checks(new ArgumentCheck(operation));
        return build();
      },
      expected,
      project,
    );
  }

  /**
   * Build the request when subscribed (its argument checks throw ConfigError before anything is
   * sent), send it, and project the expected reply; any other reply becomes a typed error.
   */
  private call$<E extends Expected, R>(
    build: () => RequestInput,
    expected: E,
    project: (response: Matched<E>) => R,
    options?: RequestOptions,
  ): Observable<R> {
    const accepts: readonly ResponseType[] = typeof expected === 'string' ? [expected as ResponseType] : (expected as readonly ResponseType[]);
    return defer(() => {
      const request = build();
      return this.send$(request, options).pipe(
        map((response) => {
          if (accepts.includes(response.type)) return project(response as Matched<E>);
          throw errorFromResponse(response, request.type);
        }),
      );
    });
  }
}
