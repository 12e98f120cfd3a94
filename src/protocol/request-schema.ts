/**
 * `rivven_protocol::Request` (0.0.22), variant for variant in declaration order: postcard numbers
 * variants by position, so this order IS the wire format. Limits are the ones the broker enforces in
 * `Request::validate` (names ≤ MAX_NAME_LEN bytes, lists ≤ MAX_LIST_LEN items).
 */
import { variant, type InferEnum, type InferEnumInput } from './enum-schema.js';
import { batchRecordList, bool, bytes, i32, i64, name, option, string, struct, tuple, u16, u32, u64, u8, vec, type Infer } from './schema.js';

/** `rivven_protocol::MAX_LIST_LEN`: most items in one list of a request (the broker's `Request::validate`). */
export const MAX_LIST_LEN = 10_000;

const batchRecords = batchRecordList(MAX_LIST_LEN);
export const batchRecordSchema = batchRecords.item;
export const quotaAlterationSchema = struct(
  ['entity_type', string],
  ['entity_name', option(string)],
  ['quota_key', string],
  ['quota_value', option(u64)],
);
export const topicConfigEntrySchema = struct(['key', string], ['value', option(string)]);

const producerFields = [
  ['producer_id', u64],
  ['producer_epoch', u16],
] as const;

/** One record of an idempotent or transactional publish, in wire order. */
const sequencedRecordFields = [
  ['topic', name],
  ['partition', option(u32)],
  ['key', option(bytes)],
  ['value', bytes],
  ...producerFields,
  ['sequence', i32],
  ['leader_epoch', option(u64)],
] as const;

export const REQUEST_VARIANTS = [
  variant('Authenticate', ['username', name], ['password', string], ['require_tls', bool]),
  variant('SaslAuthenticate', ['mechanism', bytes], ['auth_bytes', bytes]),
  variant('ScramClientFirst', ['message', bytes]),
  variant('ScramClientFinal', ['message', bytes]),
  variant(
    'Publish',
    ['topic', name],
    ['partition', option(u32)],
    ['key', option(bytes)],
    ['value', bytes],
    ['leader_epoch', option(u64)],
  ),
  variant(
    'Consume',
    ['topic', name],
    ['partition', u32],
    ['offset', u64],
    ['max_messages', u32],
    ['isolation_level', option(u8)],
    ['max_wait_ms', option(u64)],
  ),
  variant('CreateTopic', ['name', name], ['partitions', option(u32)]),
  variant('ListTopics'),
  variant('DeleteTopic', ['name', name]),
  variant('CommitOffset', ['consumer_group', name], ['topic', name], ['partition', u32], ['offset', u64]),
  variant('GetOffset', ['consumer_group', name], ['topic', name], ['partition', u32]),
  variant('GetMetadata', ['topic', name]),
  variant('GetClusterMetadata', ['topics', vec(name, MAX_LIST_LEN)]),
  variant('Ping'),
  variant('GetOffsetBounds', ['topic', name], ['partition', u32]),
  variant('ListGroups'),
  variant('DescribeGroup', ['consumer_group', name]),
  variant('DeleteGroup', ['consumer_group', name]),
  variant('GetOffsetForTimestamp', ['topic', name], ['partition', u32], ['timestamp_ms', i64]),
  variant('InitProducerId', ['producer_id', option(u64)]),
  variant('IdempotentPublish', ...sequencedRecordFields),
  variant('BeginTransaction', ['txn_id', name], ...producerFields, ['timeout_ms', option(u64)]),
  variant('AddPartitionsToTxn', ['txn_id', name], ...producerFields, ['partitions', vec(tuple(string, u32), MAX_LIST_LEN)]),
  variant('TransactionalPublish', ['txn_id', name], ...sequencedRecordFields),
  variant(
    'AddOffsetsToTxn',
    ['txn_id', name],
    ...producerFields,
    ['group_id', string],
    ['offsets', vec(tuple(string, u32, i64), MAX_LIST_LEN)],
  ),
  variant('CommitTransaction', ['txn_id', name], ...producerFields),
  variant('AbortTransaction', ['txn_id', name], ...producerFields),
  variant('DescribeQuotas', ['entities', vec(tuple(string, option(string)), MAX_LIST_LEN)]),
  variant('AlterQuotas', ['alterations', vec(quotaAlterationSchema, MAX_LIST_LEN)]),
  variant('AlterTopicConfig', ['topic', name], ['configs', vec(topicConfigEntrySchema, MAX_LIST_LEN)]),
  variant(
    'CreatePartitions',
    ['topic', name],
    ['new_partition_count', u32],
    ['assignments', vec(vec(string, MAX_LIST_LEN), MAX_LIST_LEN)],
  ),
  variant('DeleteRecords', ['topic', name], ['partition_offsets', vec(tuple(u32, u64), MAX_LIST_LEN)]),
  variant('DescribeTopicConfigs', ['topics', vec(name, MAX_LIST_LEN)]),
  variant('Handshake', ['protocol_version', u32], ['client_id', name]),
  variant(
    'JoinGroup',
    ['group_id', name],
    ['member_id', name],
    ['session_timeout_ms', u32],
    ['rebalance_timeout_ms', u32],
    ['protocol_type', name],
    ['subscriptions', vec(name, MAX_LIST_LEN)],
  ),
  variant(
    'SyncGroup',
    ['group_id', name],
    ['generation_id', u32],
    ['member_id', name],
    ['assignments', vec(tuple(name, vec(tuple(name, vec(u32, MAX_LIST_LEN)), MAX_LIST_LEN)), MAX_LIST_LEN)],
  ),
  variant('Heartbeat', ['group_id', name], ['generation_id', u32], ['member_id', name]),
  variant('LeaveGroup', ['group_id', name], ['member_id', name]),
  variant(
    'PublishBatch',
    ['topic', name],
    ['partition', option(u32)],
    ['records', batchRecords],
    ['leader_epoch', option(u64)],
  ),
  variant(
    'IdempotentPublishBatch',
    ['topic', name],
    ['partition', option(u32)],
    ['records', batchRecords],
    ...producerFields,
    ['base_sequence', i32],
    ['leader_epoch', option(u64)],
  ),
] as const;

/** A request as decoded (byte fields are Buffers). */
export type Request = InferEnum<typeof REQUEST_VARIANTS>;
/** A request as accepted for encoding (byte fields may also be strings or Uint8Arrays). */
export type RequestInput = InferEnumInput<typeof REQUEST_VARIANTS>;
/** The name of a {@link Request} variant (its `type`). */
export type RequestType = Request['type'];
/**
 * One record of a `PublishBatch` (`rivven_protocol::BatchRecord`): the batch carries the topic,
 * partition and leader epoch.
 * @interface
 * @property key The record's key; `undefined` when it has none.
 * @property value The record's value.
 */
export type BatchRecord = Infer<typeof batchRecordSchema>;
/**
 * One quota to set or remove (`rivven_protocol::QuotaAlteration`).
 * @interface
 * @property entityType The kind of entity: `user`, `client-id`, `consumer-group` or `default`.
 * @property entityName The entity's name; `undefined` for the defaults.
 * @property quotaKey Which quota: `produce_bytes_rate`, `consume_bytes_rate` or `request_rate`.
 * @property quotaValue The new value; `undefined` removes the quota.
 */
export type QuotaAlteration = Infer<typeof quotaAlterationSchema>;
/**
 * One topic configuration key to set or reset (`rivven_protocol::TopicConfigEntry`).
 * @interface
 * @property key The configuration key (such as `retention.ms`).
 * @property value The new value; `undefined` resets it to the default.
 */
export type TopicConfigEntry = Infer<typeof topicConfigEntrySchema>;
