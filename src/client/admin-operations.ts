/** The admin operations: topic configuration, partitions, record deletion and quotas. */
import type { Observable } from 'rxjs';
import { ArgumentCheck } from './operation-input.js';
import { checkNames } from './operation-checks.js';
import type { DeleteRecordsResult, QuotaAlterationInput, QuotaEntry, TopicConfigDescription } from './client-types.js';
import { DataOperations } from './data-operations.js';

/** Topic configuration, partitions, record deletion and quotas. */
export abstract class AdminOperations extends DataOperations {
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

}
