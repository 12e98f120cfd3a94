/**
 * `rivven_protocol::Response` (0.0.22), variant for variant in declaration order (the order is the
 * wire format). Lists are bounded by the protocol's limits: MAX_LIST_LEN items, and
 * MAX_MESSAGES_PER_RESPONSE messages in one `Messages` answer.
 */
import { variant, type InferEnum } from './enum-schema.js';
import { MAX_LIST_LEN } from './request-schema.js';
import { bool, bytes, headerList, i32, i64, map, name, option, string, struct, tuple, u16, u32, u64, usize, vec, type Infer } from './schema.js';

/** Most records one `Messages` reply may hold (a longer list is a ProtocolError). */
export const MAX_MESSAGES_PER_RESPONSE = 100_000;

export const messageDataSchema = struct(
  ['offset', u64],
  ['partition', u32],
  ['key', option(bytes)],
  ['value', bytes],
  ['timestamp', i64],
  ['headers', headerList],
);
export const brokerInfoSchema = struct(['node_id', string], ['host', string], ['port', u16], ['rack', option(string)]);
export const partitionMetadataSchema = struct(
  ['partition', u32],
  ['leader', option(string)],
  ['replicas', vec(string, MAX_LIST_LEN)],
  ['isr', vec(string, MAX_LIST_LEN)],
  ['offline', bool],
);
export const topicMetadataSchema = struct(
  ['name', string],
  ['is_internal', bool],
  ['partitions', vec(partitionMetadataSchema, MAX_LIST_LEN)],
);
export const quotaEntrySchema = struct(
  ['entity_type', string],
  ['entity_name', option(string)],
  ['quotas', map(string, u64, MAX_LIST_LEN)],
);
export const deleteRecordsResultSchema = struct(['partition', u32], ['low_watermark', u64], ['error', option(string)]);
export const topicConfigValueSchema = struct(
  ['value', string],
  ['is_default', bool],
  ['is_read_only', bool],
  ['is_sensitive', bool],
);
export const topicConfigDescriptionSchema = struct(
  ['topic', string],
  ['configs', map(string, topicConfigValueSchema, MAX_LIST_LEN)],
);

export const RESPONSE_VARIANTS = [
  variant('Authenticated', ['session_id', string], ['expires_in', u64]),
  variant('ScramServerFirst', ['message', bytes]),
  variant('ScramServerFinal', ['message', bytes], ['session_id', option(string)], ['expires_in', option(u64)]),
  variant('Published', ['offset', u64], ['partition', u32]),
  variant('Messages', ['messages', vec(messageDataSchema, MAX_MESSAGES_PER_RESPONSE)]),
  variant('TopicCreated', ['name', string], ['partitions', u32]),
  variant('Topics', ['topics', vec(name, MAX_LIST_LEN)]),
  variant('TopicDeleted'),
  variant('OffsetCommitted'),
  variant('Offset', ['offset', option(u64)]),
  variant('Metadata', ['name', string], ['partitions', u32]),
  variant(
    'ClusterMetadata',
    ['controller_id', option(string)],
    ['brokers', vec(brokerInfoSchema, MAX_LIST_LEN)],
    ['topics', vec(topicMetadataSchema, MAX_LIST_LEN)],
  ),
  variant('Pong'),
  variant('OffsetBounds', ['earliest', u64], ['latest', u64]),
  variant('Groups', ['groups', vec(name, MAX_LIST_LEN)]),
  variant('GroupDescription', ['consumer_group', string], ['offsets', map(string, map(u32, u64, MAX_LIST_LEN), MAX_LIST_LEN)]),
  variant('GroupDeleted'),
  variant('OffsetForTimestamp', ['offset', option(u64)]),
  variant('Error', ['message', string]),
  variant('Ok'),
  variant('ProducerIdInitialized', ['producer_id', u64], ['producer_epoch', u16]),
  variant('IdempotentPublished', ['offset', u64], ['partition', u32], ['duplicate', bool]),
  variant('TransactionStarted', ['txn_id', string]),
  variant('PartitionsAddedToTxn', ['txn_id', string], ['partition_count', usize]),
  variant('TransactionalPublished', ['offset', u64], ['partition', u32], ['sequence', i32]),
  variant('OffsetsAddedToTxn', ['txn_id', string]),
  variant('TransactionCommitted', ['txn_id', string]),
  variant('TransactionAborted', ['txn_id', string]),
  variant('QuotasDescribed', ['entries', vec(quotaEntrySchema, MAX_LIST_LEN)]),
  variant('QuotasAltered', ['altered_count', usize]),
  variant('Throttled', ['throttle_time_ms', u64], ['quota_type', string], ['entity', string]),
  variant('TopicConfigAltered', ['topic', string], ['changed_count', usize]),
  variant('PartitionsCreated', ['topic', string], ['new_partition_count', u32]),
  variant('RecordsDeleted', ['topic', string], ['results', vec(deleteRecordsResultSchema, MAX_LIST_LEN)]),
  variant('TopicConfigsDescribed', ['configs', vec(topicConfigDescriptionSchema, MAX_LIST_LEN)]),
  variant('HandshakeResult', ['server_version', u32], ['compatible', bool], ['message', string]),
  variant(
    'JoinGroupResult',
    ['generation_id', u32],
    ['protocol_type', string],
    ['member_id', string],
    ['leader_id', string],
    ['members', vec(tuple(string, vec(string, MAX_LIST_LEN)), MAX_LIST_LEN)],
  ),
  variant('SyncGroupResult', ['assignments', vec(tuple(string, vec(u32, MAX_LIST_LEN)), MAX_LIST_LEN)]),
  variant('HeartbeatResult', ['error_code', i32]),
  variant('LeaveGroupResult'),
  variant('PublishedBatch', ['base_offset', u64], ['partition', u32], ['record_count', u32]),
  variant('IdempotentPublishedBatch', ['base_offset', u64], ['partition', u32], ['record_count', u32], ['duplicate', bool]),
] as const;

/**
 * A broker's answer as decoded: one object per variant of `rivven_protocol::Response` 0.0.22, with
 * `type` naming the variant (`'Published'`, `'Messages'`, `'Error'`, …) and the variant's fields in
 * camelCase (`session_id` → `sessionId`). 64-bit integers are `bigint`, bytes are `Buffer`, an
 * `Option` that is `None` is `undefined`, a `HashMap` is a `Map`. The variants and their fields are
 * `rivven-protocol`'s `messages.rs`, in its declaration order. Narrow it with {@link ResponseOf}.
 */
export type Response = InferEnum<typeof RESPONSE_VARIANTS>;
/** The name of a {@link Response} variant (its `type`). */
export type ResponseType = Response['type'];
/** Narrow the Response union to one variant by name. */
export type ResponseOf<T extends ResponseType> = Extract<
  Response,
  {
    /** The variant's name. */
    type: T;
  }
>;
/**
 * One record as the broker returns it (`rivven_protocol::MessageData`), before rivven-rx decodes
 * its value.
 * @interface
 * @property offset The record's offset in its partition.
 * @property partition The partition the record belongs to.
 * @property key The record's key; `undefined` when it has none.
 * @property value The value as stored (still framed if a compressing producer framed it).
 * @property timestamp When the broker stored the record, in milliseconds since the Unix epoch.
 * @property headers The record's headers, as `[name, bytes]` pairs in order.
 */
export type MessageData = Infer<typeof messageDataSchema>;
/**
 * A broker of the cluster (`rivven_protocol::BrokerInfo`).
 * @interface
 * @property nodeId The broker's node id.
 * @property host The host clients connect to.
 * @property port The port clients connect to.
 * @property rack The broker's rack, if it has one.
 */
export type BrokerInfo = Infer<typeof brokerInfoSchema>;
/**
 * One partition of a topic (`rivven_protocol::PartitionMetadata`).
 * @interface
 * @property partition The partition number.
 * @property leader Node id of the partition's leader; `undefined` when it has none.
 * @property replicas Node ids of the partition's replicas.
 * @property isr Node ids of the in-sync replicas.
 * @property offline Whether the partition has no leader available.
 */
export type PartitionMetadata = Infer<typeof partitionMetadataSchema>;
/**
 * A topic and its partitions (`rivven_protocol::TopicMetadata`).
 * @interface
 * @property name The topic's name.
 * @property isInternal Whether the broker counts the topic as internal (a `__` name such as `__consumer_offsets`).
 * @property partitions The topic's partitions.
 */
export type TopicMetadata = Infer<typeof topicMetadataSchema>;
/**
 * The quotas set for one entity (`rivven_protocol::QuotaEntry`).
 * @interface
 * @property entityType The kind of entity: `user`, `client-id`, `consumer-group` or `default`.
 * @property entityName The entity's name; `undefined` for the defaults.
 * @property quotas Quota values by key (`produce_bytes_rate`, `consume_bytes_rate`, `request_rate`).
 */
export type QuotaEntry = Infer<typeof quotaEntrySchema>;
/**
 * What deleting records did to one partition (`rivven_protocol::DeleteRecordsResult`).
 * @interface
 * @property partition The partition number.
 * @property lowWatermark The partition's new low watermark: its first offset still readable.
 * @property error Why deleting failed on this partition; `undefined` when it did not.
 */
export type DeleteRecordsResult = Infer<typeof deleteRecordsResultSchema>;
/**
 * One topic configuration value and what the broker says of it (`rivven_protocol::TopicConfigValue`).
 * @interface
 * @property value The current value.
 * @property isDefault Whether it is the default value.
 * @property isReadOnly Whether it cannot be altered.
 * @property isSensitive Whether it is sensitive (such as a password).
 */
export type TopicConfigValue = Infer<typeof topicConfigValueSchema>;
/**
 * A topic's configuration (`rivven_protocol::TopicConfigDescription`).
 * @interface
 * @property topic The topic's name.
 * @property configs The configuration values, by key (such as `retention.ms`).
 */
export type TopicConfigDescription = Infer<typeof topicConfigDescriptionSchema>;
