/**
 * Every error text rivvend 0.0.22 sends in a `Response::Error`, mapped to a stable `serverCode` and
 * whether retrying the same request may succeed. Built by reading every `Response::Error`
 * construction in rivvend-0.0.22/src (handler/*.rs, auth_handler.rs, framing.rs, secure_server.rs,
 * cluster_server.rs, group_coordinator.rs) and the rivven-core 0.0.22 error texts they forward
 * (`Error`'s Display in error.rs, `ValidationError` in validation.rs, topic.rs, consumer_group.rs,
 * transaction.rs `TransactionResult` Debug).
 *
 * Why a table and not only the prefix: rivvend forwards some rivven-core errors with no prefix at
 * all ("Topic not found: t", "Topic 't' already exists", "Consumer group 'g' not found"), and
 * nests the real reason of group and transaction failures behind a generic one
 * ("HEARTBEAT_FAILED: ILLEGAL_GENERATION: …", "COMMIT_FAILED: ProducerFenced { … }").
 * `serverCode` is the most specific code: the broker's own prefix where it sent a specific one,
 * else the code named here.
 *
 * Retriability starts from rivven-client 0.0.22 `error.rs` (its non-retriable prefixes are all
 * non-retriable here too) and adds what that list misses: a missing topic, partition or group, a
 * topic that already exists, an invalid argument the broker refused — the same request gets the
 * same answer, so retrying it only delays the error (645 ms for a missing topic through
 * ResilientClient before this table). Unlike Kafka, `UNKNOWN_TOPIC_OR_PARTITION` is not retriable:
 * rivvend has no metadata propagation delay that a retry would wait out (Publish auto-creates
 * topics; every other request sees the topic at once or never).
 *
 * Pure data and functions, beside `errors.ts` in the base layer: no imports, so `errors.ts` can use it
 * without a cycle.
 */

/** Which error class a broker answer becomes. */
export type ServerErrorKind = 'server' | 'authentication' | 'authorization';

export interface ServerErrorRule {
  /** The stable code (`ServerError.serverCode`). */
  readonly code: string;
  readonly retriable: boolean;
  readonly kind: ServerErrorKind;
  /** Matches the broker's whole message. */
  readonly pattern: RegExp;
  /** Where rivvend sends it (request types / source), for the reader of this table. */
  readonly sentBy: string;
  /** A message exactly as rivvend formats it (unit-tested against the rule). */
  readonly example: string;
  /** What to do, appended to the error message. */
  readonly hint?: string;
}

/** What `classifyServerError` says of a broker `Error` message. */
export interface ServerErrorClass {
  /** The stable code (`ServerError.serverCode`); undefined for a message the table does not know and that has no prefix. */
  code: string | undefined;
  /** Whether sending the request again may succeed. */
  retriable: boolean;
  /** Which error class it becomes: `ServerError`, `AuthenticationError` or `AuthorizationError`. */
  kind: ServerErrorKind;
  /** What to do, appended to the error message; undefined if the table has no advice. */
  hint: string | undefined;
}

/** rivvend wraps the group coordinator's reason in one of these. */
const GROUP = '(?:(?:JOIN_GROUP|SYNC_GROUP|LEAVE_GROUP|HEARTBEAT)_FAILED: )?';
/** rivvend formats some `TransactionResult`s with `{:?}` behind one of these. */
const TXN = '(?:TRANSACTION_ERROR|COMMIT_FAILED|ABORT_FAILED): ';

const CREATE_TOPIC = 'create the topic first (createTopic$), or check its name';
const FEWER_PARTITIONS = 'the topic has fewer partitions: check getMetadata$, or grow it with createPartitions$';

function rule(
  code: string,
  retriable: boolean,
  pattern: RegExp,
  sentBy: string,
  example: string,
  extra: { kind?: ServerErrorKind; hint?: string } = {},
): ServerErrorRule {
  return { code, retriable, kind: extra.kind ?? 'server', pattern, sentBy, example, ...(extra.hint === undefined ? {} : { hint: extra.hint }) };
}

/** Ordered: the first rule whose pattern matches decides. */
export const SERVER_ERROR_RULES: readonly ServerErrorRule[] = [
  // ---- topics and partitions ------------------------------------------------------------------
  rule('TOPIC_ALREADY_EXISTS', false, /^Topic '.*' already exists$/s, 'CreateTopic (rivven-core topic.rs)', "Topic 'orders' already exists", { hint: 'the topic exists already: use it, or delete it first' }),
  rule('UNKNOWN_TOPIC_OR_PARTITION', false, /^Topic not found: /, 'Consume, GetMetadata, DeleteTopic, GetOffsetBounds, GetOffsetForTimestamp (rivven-core Error::TopicNotFound)', 'Topic not found: orders', {
    hint: CREATE_TOPIC,
  }),
  rule('UNKNOWN_TOPIC_OR_PARTITION', false, /^UNKNOWN_TOPIC_OR_PARTITION\b/, 'AlterTopicConfig, CreatePartitions, DeleteRecords (admin.rs); cluster routing', "UNKNOWN_TOPIC_OR_PARTITION: Topic 'orders' not found", {
    hint: CREATE_TOPIC,
  }),
  rule('UNKNOWN_TOPIC', false, /^UNKNOWN_TOPIC\b/, 'CommitOffset', "UNKNOWN_TOPIC: topic 'orders' does not exist", { hint: CREATE_TOPIC }),
  rule('UNKNOWN_PARTITION', false, /^UNKNOWN_PARTITION\b/, 'CommitOffset', "UNKNOWN_PARTITION: partition 9 does not exist in topic 'orders'", { hint: FEWER_PARTITIONS }),
  rule('UNKNOWN_PARTITION', false, /^Partition not found: \d+$/, 'Consume with maxWaitMs (rivven-core Error::PartitionNotFound)', 'Partition not found: 9', { hint: FEWER_PARTITIONS }),
  rule('UNKNOWN_PARTITION', false, /^Partition \d+ not found for topic '.*'$/s, 'GetOffsetBounds', "Partition 9 not found for topic 'orders'", { hint: FEWER_PARTITIONS }),
  rule('INVALID_PARTITION', false, /^INVALID_PARTITION: /, 'Publish*, Consume, GetOffsetForTimestamp, TransactionalPublish', 'INVALID_PARTITION: Invalid partition 9: must be < 3', {
    hint: FEWER_PARTITIONS,
  }),
  rule('INVALID_PARTITION_COUNT', false, /^INVALID_PARTITION_COUNT\b/, 'CreateTopic', 'INVALID_PARTITION_COUNT: must be between 1 and 1000, got 0', { hint: 'ask for 1 to 1000 partitions' }),
  rule('INVALID_PARTITIONS', false, /^INVALID_PARTITIONS\b/, 'CreatePartitions', 'INVALID_PARTITIONS: New partition count 2 must be greater than current count 3', { hint: 'the new partition count must be greater than the current one (getMetadata$)' }),
  rule('INVALID_PARTITIONS', false, /^PARTITION_CREATE_FAILED: New partition count \d+ must exceed/, 'CreatePartitions racing another (rivven-core topic.rs)', 'PARTITION_CREATE_FAILED: New partition count 3 must exceed current count 3', { hint: 'the new partition count must be greater than the current one (getMetadata$)' }),
  rule('PARTITION_CREATE_FAILED', true, /^PARTITION_CREATE_FAILED\b/, 'CreatePartitions (storage failure)', 'PARTITION_CREATE_FAILED: I/O error: No space left on device (os error 28)'),
  rule('INVALID_TOPIC_NAME', false, /^INVALID_TOPIC_NAME\b/, 'every request naming a topic', 'INVALID_TOPIC_NAME: Topic name cannot be empty', { hint: 'topic names are 1–255 characters of [a-zA-Z0-9._-], starting with a letter or digit, without ".."' }),
  rule('INVALID_CONFIG', false, /^INVALID_CONFIG\b/, 'AlterTopicConfig', 'INVALID_CONFIG: unknown config key: retention.bogus'),
  rule('INVALID_CONFIG', false, /^Invalid configuration: /, 'rivven-core Error::InvalidConfig', 'Invalid configuration: segment size too small'),
  // ---- offsets and groups ---------------------------------------------------------------------
  rule('OFFSET_OUT_OF_RANGE', false, /^OFFSET_OUT_OF_RANGE\b/, 'CommitOffset', 'OFFSET_OUT_OF_RANGE: offset 99 exceeds latest offset 3 for partition 0', { hint: 'commit an offset at or below the partition end (getOffsetBounds$)' }),
  rule('INVALID_OFFSET', false, /^Invalid offset: \d+/, 'rivven-core Error::InvalidOffset', 'Invalid offset: 42'),
  rule('OFFSET_LOOKUP_FAILED', true, /^Failed to find offset for timestamp: /, 'GetOffsetForTimestamp (storage failure)', 'Failed to find offset for timestamp: find_offset_for_timestamp join: task panicked'),
  rule('UNKNOWN_GROUP', false, /^Consumer group '.*' not found$/s, 'DescribeGroup, DeleteGroup', "Consumer group 'billing' not found", { hint: 'the broker knows a group only once it committed an offset: check the name (listGroups$)' }),
  rule('INVALID_CONSUMER_GROUP', false, /^INVALID_CONSUMER_GROUP\b/, 'CommitOffset, GetOffset', 'INVALID_CONSUMER_GROUP: Invalid consumer group ID: bad group', { hint: 'group ids follow the topic name rules: [a-zA-Z0-9._-], starting with a letter or digit' }),
  rule('INVALID_GROUP_ID', false, /^INVALID_GROUP_ID\b/, 'DescribeGroup, DeleteGroup', 'INVALID_GROUP_ID: Invalid consumer group ID: bad group', { hint: 'group ids follow the topic name rules: [a-zA-Z0-9._-], starting with a letter or digit' }),
  // The coordinator's reasons, behind JOIN_GROUP_FAILED / SYNC_GROUP_FAILED / HEARTBEAT_FAILED / LEAVE_GROUP_FAILED.
  rule('UNKNOWN_GROUP', false, new RegExp(`^${GROUP}UNKNOWN_GROUP\\b`), 'SyncGroup, Heartbeat, LeaveGroup', "HEARTBEAT_FAILED: UNKNOWN_GROUP: 'billing'", { hint: 'rejoin the group (JoinGroup)' }),
  rule('UNKNOWN_MEMBER_ID', false, new RegExp(`^${GROUP}UNKNOWN_MEMBER_ID\\b`), 'SyncGroup, Heartbeat, LeaveGroup', "SYNC_GROUP_FAILED: UNKNOWN_MEMBER_ID: 'consumer-1' in group 'billing'", { hint: 'rejoin the group with an empty member id' }),
  rule('UNKNOWN_MEMBER_ID', false, new RegExp(`^${GROUP}Unknown member: `), 'Heartbeat (rivven-core consumer_group.rs)', 'HEARTBEAT_FAILED: Unknown member: consumer-1', { hint: 'rejoin the group with an empty member id' }),
  rule('ILLEGAL_GENERATION', false, new RegExp(`^${GROUP}ILLEGAL_GENERATION\\b`), 'SyncGroup, Heartbeat', 'HEARTBEAT_FAILED: ILLEGAL_GENERATION: expected 2, got 1', { hint: 'a rebalance happened: rejoin the group' }),
  rule('INCONSISTENT_GROUP_PROTOCOL', true, new RegExp(`^${GROUP}INCONSISTENT_GROUP_PROTOCOL\\b`), 'SyncGroup (leader assigned to an unknown member)', "SYNC_GROUP_FAILED: INCONSISTENT_GROUP_PROTOCOL: assignment references unknown member 'm9'"),
  rule('REBALANCE_TIMEOUT', true, new RegExp(`^${GROUP}REBALANCE_TIMEOUT\\b`), 'SyncGroup (follower; the leader did not sync)', "SYNC_GROUP_FAILED: REBALANCE_TIMEOUT: leader did not sync within 30s for group 'billing'"),
  rule('JOIN_GROUP_FAILED', true, /^JOIN_GROUP_FAILED\b/, 'JoinGroup (any other reason)', 'JOIN_GROUP_FAILED: something else'),
  rule('SYNC_GROUP_FAILED', true, /^SYNC_GROUP_FAILED\b/, 'SyncGroup (any other reason)', 'SYNC_GROUP_FAILED: something else'),
  rule('HEARTBEAT_FAILED', true, /^HEARTBEAT_FAILED\b/, 'Heartbeat (any other reason)', 'HEARTBEAT_FAILED: something else'),
  rule('LEAVE_GROUP_FAILED', true, /^LEAVE_GROUP_FAILED\b/, 'LeaveGroup (any other reason)', 'LEAVE_GROUP_FAILED: something else'),
  // ---- producing ------------------------------------------------------------------------------
  rule('BUFFER_FULL', true, /^BUFFER_FULL\b/, 'Publish*, TransactionalPublish (broker back-pressure)', 'BUFFER_FULL: Server publish buffer is full, retry later', { hint: 'the broker is overloaded: retry after a backoff' }),
  rule('FENCED_LEADER_EPOCH', false, /^FENCED_LEADER_EPOCH\b/, 'Publish* with leaderEpoch', 'FENCED_LEADER_EPOCH: client epoch 1 < server epoch 2', { hint: 'the leaderEpoch sent is stale: refresh it' }),
  rule('NOT_LEADER_FOR_PARTITION', true, /^NOT_LEADER_FOR_PARTITION\b/, 'cluster mode routing', "NOT_LEADER_FOR_PARTITION: Not leader for partition 0. Leader is node 'n2'"),
  rule('WAL_ERROR', true, /^WAL_ERROR\b/, 'Publish*, TransactionalPublish, CommitTransaction', 'WAL_ERROR: I/O error: No space left on device (os error 28)'),
  rule('WAL_ERROR', true, /^WAL failure during abort: /, 'AbortTransaction', 'WAL failure during abort: I/O error: broken pipe'),
  rule('MESSAGE_TOO_LARGE', false, /^MESSAGE_TOO_LARGE\b/, 'any frame over the broker limit (framing.rs; the connection is closed)', 'MESSAGE_TOO_LARGE: 20000000 bytes exceeds limit', { hint: 'send smaller requests (frames are limited to 10 MiB)' }),
  // Kept retriable as in rivven-client: the idempotent producer recovers by re-initialising (KIP-360).
  rule('OUT_OF_ORDER_SEQUENCE', true, /^OUT_OF_ORDER_SEQUENCE\b/, 'IdempotentPublish*, TransactionalPublish', 'OUT_OF_ORDER_SEQUENCE: expected 5, got 7'),
  rule('UNKNOWN_PRODUCER_ID', true, /^UNKNOWN_PRODUCER_ID\b/, 'IdempotentPublish*, TransactionalPublish (also after a broker restart)', 'UNKNOWN_PRODUCER_ID: producer 1 not initialized', { hint: 'obtain a new producer id (initProducerId$); rivvend forgets producer ids when it restarts' }),
  rule('PRODUCER_FENCED', false, /^PRODUCER_FENCED\b/, 'IdempotentPublish*, transactions', 'PRODUCER_FENCED: expected epoch 2, got 1', { hint: 'a newer instance of this producer took over: stop this one' }),
  rule('INVALID_PRODUCER_EPOCH', false, /^INVALID_PRODUCER_EPOCH\b/, '(rivven-client prefix; not sent by rivvend 0.0.22)', 'INVALID_PRODUCER_EPOCH: stale epoch'),
  // ---- transactions ---------------------------------------------------------------------------
  rule('CONCURRENT_TRANSACTIONS', false, /^CONCURRENT_TRANSACTIONS\b/, 'BeginTransaction while one is open', 'CONCURRENT_TRANSACTIONS: producer already has an active transaction', { hint: 'commit or abort the open transaction first' }),
  rule('INVALID_TXN_ID', false, /^INVALID_TXN_ID\b/, 'transaction requests after the transaction ended or expired', "INVALID_TXN_ID: transaction 'tx-1' not found"),
  rule('INVALID_TXN_STATE', false, /^INVALID_TXN_STATE\b/, 'transaction requests out of order', 'INVALID_TXN_STATE: transaction in PrepareCommit, expected Ongoing'),
  rule('TRANSACTION_TIMED_OUT', false, /^TRANSACTION_TIMED_OUT\b/, 'transaction requests after the transaction timeout', 'TRANSACTION_TIMED_OUT: transaction has expired', { hint: 'the broker aborted the transaction: begin a new one' }),
  rule('PARTITION_NOT_IN_TXN', false, /^PARTITION_NOT_IN_TXN\b/, 'TransactionalPublish', 'PARTITION_NOT_IN_TXN: orders:0 not added to transaction', { hint: 'add the partition first (addPartitionsToTxn$)' }),
  rule('INVALID_TXN_ID', false, new RegExp(`^${TXN}InvalidTransactionId\\b`), 'CommitTransaction, AbortTransaction', 'COMMIT_FAILED: InvalidTransactionId'),
  rule('INVALID_TXN_STATE', false, new RegExp(`^${TXN}InvalidTransactionState\\b`), 'CommitTransaction, AbortTransaction', 'ABORT_FAILED: InvalidTransactionState { current: CompleteCommit, expected: "Ongoing or PrepareAbort" }'),
  rule('PRODUCER_FENCED', false, new RegExp(`^${TXN}ProducerFenced\\b`), 'CommitTransaction, AbortTransaction', 'COMMIT_FAILED: ProducerFenced { expected_epoch: 2, received_epoch: 1 }', { hint: 'a newer instance of this producer took over: stop this one' }),
  rule('TRANSACTION_TIMED_OUT', false, new RegExp(`^${TXN}TransactionTimeout\\b`), 'CommitTransaction, AbortTransaction', 'COMMIT_FAILED: TransactionTimeout'),
  rule('CONCURRENT_TRANSACTIONS', false, new RegExp(`^${TXN}ConcurrentTransaction\\b`), 'transactions', 'TRANSACTION_ERROR: ConcurrentTransaction'),
  rule('PARTITION_NOT_IN_TXN', false, new RegExp(`^${TXN}PartitionNotInTransaction\\b`), 'transactions', 'TRANSACTION_ERROR: PartitionNotInTransaction { topic: "orders", partition: 0 }'),
  rule('TOO_MANY_TRANSACTIONS', true, new RegExp(`^${TXN}TooManyTransactions\\b`), 'BeginTransaction', 'TRANSACTION_ERROR: TooManyTransactions'),
  rule('WAL_ERROR', true, new RegExp(`^${TXN}LogWriteError\\b`), 'transactions', 'COMMIT_FAILED: LogWriteError("disk full")'),
  rule('TRANSACTION_ERROR', true, /^(?:TRANSACTION_ERROR|COMMIT_FAILED|ABORT_FAILED)\b/, 'transactions (any other TransactionResult)', 'TRANSACTION_ERROR: Ok'),
  // ---- authentication and authorization (AuthenticationError / AuthorizationError) -----------
  rule('AUTHENTICATION_REQUIRED', false, /^AUTHENTICATION_REQUIRED\b/, 'any request before authenticating, when auth is on', 'AUTHENTICATION_REQUIRED: Please authenticate first', {
    kind: 'authorization',
  }),
  rule('AUTHORIZATION_FAILED', false, /^AUTHORIZATION_FAILED\b/, 'any request the principal may not make', 'AUTHORIZATION_FAILED: Topic access denied: no permission', { kind: 'authorization' }),
  rule('AUTHENTICATION_FAILED', false, /^AUTHENTICATION_FAILED\b/, 'Authenticate, SaslAuthenticate', 'AUTHENTICATION_FAILED: Invalid credentials', { kind: 'authentication' }),
  rule('SCRAM_FAILED', false, /^SCRAM_FAILED\b/, 'ScramClientFirst, ScramClientFinal', 'SCRAM_FAILED: Invalid state - send client-first first', { kind: 'authentication' }),
  rule('SESSION_EXPIRED', false, /^SESSION_EXPIRED\b/, 'any request after the session expired', 'SESSION_EXPIRED: Please re-authenticate', { kind: 'authentication' }),
  rule('INVALID_SESSION', false, /^INVALID_SESSION\b/, 'any request with a revoked session', 'INVALID_SESSION: Please re-authenticate', { kind: 'authentication' }),
  rule('PLAINTEXT_AUTH_REQUIRES_TLS', false, /^PLAINTEXT_AUTH_REQUIRES_TLS\b/, 'Authenticate over plaintext', 'PLAINTEXT_AUTH_REQUIRES_TLS: The client requires a TLS connection for plaintext authentication. Use a TLS listener or switch to SCRAM-SHA-256.', {
    kind: 'authentication',
  }),
  rule('PLAINTEXT_AUTH_REQUIRES_TLS', false, /^SASL\/PLAIN requires a TLS connection/, 'SaslAuthenticate PLAIN over plaintext', 'SASL/PLAIN requires a TLS connection (use SASL_SSL listener). Sending credentials over cleartext is not permitted.', {
    kind: 'authentication',
  }),
  rule('UNSUPPORTED_MECHANISM', false, /^UNSUPPORTED_MECHANISM\b/, 'SaslAuthenticate', 'UNSUPPORTED_MECHANISM: Only PLAIN is supported, got GSSAPI', { kind: 'authentication' }),
  // ---- the connection and the request as a whole ----------------------------------------------
  rule('RATE_LIMIT_EXCEEDED', true, /^RATE_LIMIT_EXCEEDED\b/, 'any request over the per-IP rate limit', 'RATE_LIMIT_EXCEEDED: Too many requests', { hint: 'slow down: retry after a backoff' }),
  rule('INVALID_REQUEST', false, /^INVALID_REQUEST\b/, 'a frame the broker cannot decode (framing.rs)', 'INVALID_REQUEST: Deserialization error: Hit the end of buffer, expected more data', { hint: 'the broker could not decode the request: is it a rivvend 0.0.22?' }),
  rule('UNSUPPORTED', false, /^UNSUPPORTED\b/, 'authentication requests on a listener without auth', 'UNSUPPORTED: Use authenticated endpoint for authentication'),
  rule('UNSUPPORTED', false, /^Cluster metadata not available in basic handler$/, 'GetClusterMetadata on the basic handler', 'Cluster metadata not available in basic handler'),
  rule('INTERNAL_ERROR', true, /^INTERNAL_ERROR\b/, 'broker-side failures', 'INTERNAL_ERROR: response send failed'),
  rule('INTERNAL_ERROR', true, /^Failed to serialise TxnAbort: /, 'AbortTransaction', 'Failed to serialise TxnAbort: out of memory'),
  // rivven-core errors forwarded verbatim (storage trouble): may pass.
  rule('IO_ERROR', true, /^I\/O error: /, 'storage (rivven-core Error::IoError)', 'I/O error: No space left on device (os error 28)'),
  rule('SERIALIZATION_ERROR', true, /^Serialization error: /, 'storage (rivven-core Error::SerializationError)', 'Serialization error: Hit the end of buffer, expected more data'),
];

/**
 * rivven-client 0.0.22 `error.rs`: the prefixes that mean "retrying will not help". Used for a
 * prefixed message no rule above knows (a newer broker).
 */
export const RIVVEN_CLIENT_NON_RETRIABLE_PREFIXES: readonly string[] = [
  'PRODUCER_FENCED',
  'INVALID_PRODUCER_EPOCH',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'INVALID_TOPIC',
  'INVALID_PARTITIONS',
  'INVALID_REPLICATION_FACTOR',
  'INVALID_REQUIRED_ACKS',
  'UNSUPPORTED_VERSION',
  'UNSUPPORTED_COMPRESSION',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'SECURITY_DISABLED',
  'ILLEGAL_SASL_STATE',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'INVALID_SESSION_TIMEOUT',
  'RECORD_TOO_LARGE',
  'MESSAGE_TOO_LARGE',
  'INVALID_GROUP_ID',
  'INVALID_TXN_STATE',
  'INVALID_PRODUCER_ID_MAPPING',
];

const PREFIX = /^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b/;

/** The broker's leading upper-case code (`UNKNOWN_TOPIC:` → `UNKNOWN_TOPIC`), if it sent one. */
export function leadingServerCode(message: string): string | undefined {
  return PREFIX.exec(message.trimStart())?.[1];
}

/** The rule that decides for this message, or undefined for a text rivvend 0.0.22 does not send. */
export function findServerErrorRule(message: string): ServerErrorRule | undefined {
  const text = message.trimStart();
  return SERVER_ERROR_RULES.find((r) => r.pattern.test(text));
}

/** The code, retriability and error class of a broker `Error` message. */
export function classifyServerError(message: string): ServerErrorClass {
  const text = message.trimStart();
  const r = findServerErrorRule(text);
  if (r !== undefined) return { code: r.code, retriable: r.retriable, kind: r.kind, hint: r.hint };
  // Not a text rivvend 0.0.22 sends: rivven-client's rule.
  const code = leadingServerCode(text);
  const upper = text.toUpperCase();
  const retriable = !RIVVEN_CLIENT_NON_RETRIABLE_PREFIXES.some((prefix) => upper.startsWith(prefix));
  // TOPIC_/GROUP_/CLUSTER_/TRANSACTIONAL_ID_AUTHORIZATION_FAILED (rivven-client's vocabulary).
  const kind = code?.endsWith('_AUTHORIZATION_FAILED') ? 'authorization' : 'server';
  return { code, retriable, kind, hint: undefined };
}
