/**
 * The admin operations over a `BrokerExchange`: topics (create, list, delete), their metadata and
 * the cluster's, topic configuration, partitions, record deletion and quotas. `BrokerOperations`
 * puts them on the clients; the user-facing documentation is there.
 */
import { catchError, concatMap, throwError, type Observable } from 'rxjs';
import { ConfigError, ServerError } from '../errors.js';
import { ArgumentCheck } from './argument-checks.js';
import { type BrokerExchange, call$ } from './broker-exchange.js';
import type { DeleteRecordsResult, QuotaEntry, TopicConfigDescription } from '../protocol/response-schema.js';
import type { ClusterMetadata, QuotaAlterationInput, TopicInfo } from './client-types.js';

// ---- topics and metadata ----------------------------------------------------------------------

/** Options of `createTopic$`. */
export interface CreateTopicOptions {
  /**
   * A topic that exists already is not an error: createTopic$ emits the existing topic (read back
   * with its metadata) instead of failing with TOPIC_ALREADY_EXISTS. When `partitions` is given, the
   * existing topic must have that many: another count is a `ConfigError` (option `partitions`) that
   * says both counts — keys would not land where a topic of the count asked for puts them.
   * Without `partitions`, any count is accepted. Default false.
   */
  ifNotExists?: boolean;
}

export function createTopic$(exchange: BrokerExchange, name: string, partitions: number | undefined, options: CreateTopicOptions = {}): Observable<TopicInfo> {
  const ifNotExists = options?.ifNotExists ?? false;
  const create$ = call$(
    exchange,
    () => {
      const check = new ArgumentCheck('createTopic$');
      check.name('name', name);
      if (partitions !== undefined) check.u32('partitions', partitions);
      if (typeof ifNotExists !== 'boolean') throw new ConfigError('ifNotExists', `createTopic$ expects true or false, got ${JSON.stringify(ifNotExists)}`);
      return { type: 'CreateTopic', name, partitions };
    },
    'TopicCreated',
    (r): TopicInfo => ({ name: r.name, partitions: r.partitions }),
  );
  if (ifNotExists !== true) return create$;
  return create$.pipe(
    catchError((error: unknown) => {
      if (!(error instanceof ServerError) || error.serverCode !== 'TOPIC_ALREADY_EXISTS') return throwError(() => error);
      return getMetadata$(exchange, name).pipe(
        concatMap((existing) =>
          partitions === undefined || existing.partitions === partitions
            ? [existing]
            : throwError(
                () =>
                  new ConfigError(
                    'partitions',
                    `createTopic$('${name}', ${partitions}, { ifNotExists: true }): the topic exists with ${existing.partitions} partitions, not ${partitions}; ` +
                      `use createPartitions$ to add partitions, or leave partitions out to accept the existing count`,
                  ),
              ),
        ),
      );
    }),
  );
}

export function listTopics$(exchange: BrokerExchange): Observable<string[]> {
  return call$(exchange, () => ({ type: 'ListTopics' }), 'Topics', (r) => r.topics);
}

export function deleteTopic$(exchange: BrokerExchange, name: string): Observable<void> {
  return call$(
    exchange,
    () => {
      new ArgumentCheck('deleteTopic$').name('name', name);
      return { type: 'DeleteTopic', name };
    },
    ['TopicDeleted', 'Ok'],
    () => undefined,
  );
}

export function getMetadata$(exchange: BrokerExchange, topic: string): Observable<TopicInfo> {
  return call$(
    exchange,
    () => {
      new ArgumentCheck('getMetadata$').name('topic', topic);
      return { type: 'GetMetadata', topic };
    },
    'Metadata',
    (r) => ({ name: r.name, partitions: r.partitions }),
  );
}

export function getClusterMetadata$(exchange: BrokerExchange, topics: readonly string[]): Observable<ClusterMetadata> {
  return call$(
    exchange,
    () => {
      new ArgumentCheck('getClusterMetadata$').names('topics', topics);
      return { type: 'GetClusterMetadata', topics };
    },
    'ClusterMetadata',
    (r) => ({ controllerId: r.controllerId, brokers: r.brokers, topics: r.topics }),
  );
}

// ---- configuration, partitions, records, quotas -----------------------------------------------

export function describeTopicConfigs$(exchange: BrokerExchange, topics: readonly string[]): Observable<TopicConfigDescription[]> {
  return call$(
    exchange,
    () => {
      new ArgumentCheck('describeTopicConfigs$').names('topics', topics);
      return { type: 'DescribeTopicConfigs', topics };
    },
    'TopicConfigsDescribed',
    (r) => r.configs,
  );
}

export function alterTopicConfig$(exchange: BrokerExchange, topic: string, configs: Record<string, string | null>): Observable<number> {
  return call$(
    exchange,
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

export function createPartitions$(exchange: BrokerExchange, topic: string, newPartitionCount: number, assignments: readonly string[][]): Observable<number> {
  return call$(
    exchange,
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

export function deleteRecords$(
  exchange: BrokerExchange,
  topic: string,
  partitionOffsets: readonly (readonly [partition: number, beforeOffset: bigint])[],
): Observable<DeleteRecordsResult[]> {
  return call$(
    exchange,
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

export function describeQuotas$(exchange: BrokerExchange, entities: readonly (readonly [entityType: string, entityName?: string])[]): Observable<QuotaEntry[]> {
  return call$(
    exchange,
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

export function alterQuotas$(exchange: BrokerExchange, alterations: readonly QuotaAlterationInput[]): Observable<number> {
  return call$(
    exchange,
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
