/**
 * The data operations: ping, publish (one record or a batch), consume, topics and their metadata,
 * and a group's committed offsets.
 */
import { Observable, defer, mergeMap } from 'rxjs';
import { ConfigError } from '../errors.js';
import { decodeValues } from '../protocol/value-decoder.js';
import { ArgumentCheck } from './operation-input.js';
import {
  toTimestamp,
  toOffset,
  checkRecord,
  checkBatch,
  checkGroupPartition,
  checkNames,
  checkConsume,
} from './operation-checks.js';
import type {
  BatchMetadata,
  Bytes,
  ClusterMetadata,
  ConsumeOptions,
  ConsumedRecord,
  GroupDescription,
  OffsetBounds,
  PublishRecord,
  RecordMetadata,
  TopicInfo,
} from './client-types.js';
import { OperationsBase } from './operations-base.js';

/** Data, topics and group offsets (operations-base.ts makes the calls). */
export abstract class DataOperations extends OperationsBase {
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

}
