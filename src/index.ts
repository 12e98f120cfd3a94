/**
 * rivven-rx: a reactive TypeScript client for the Rivven event streaming broker (rivvend 0.0.22,
 * protocol version 2). What an application uses is exported from here; the wire codecs, frames and
 * compression framing are the subpath `rivven-rx/protocol`. Nothing else is public.
 */
export {
  AllServersUnavailableError,
  AuthenticationError,
  AuthorizationError,
  CompressionError,
  ConfigError,
  ConnectionError,
  IncompatibleBrokerError,
  NotInLogError,
  MessageTooLargeError,
  ClosedError,
  UnknownOutcomeError,
  BufferFullError,
  SendAbortedError,
  ProducerFencedError,
  ProtocolError,
  RivvenError,
  SchemaRegistryError,
  ServerError,
  ThrottledError,
  RivvenTimeoutError,
  TlsError,
  TransactionInterruptedError,
  type ErrorSummary,
  type HealthError,
  type RivvenErrorCode,
  type RivvenErrorOptions,
} from './errors.js';

// Wire types an application meets (the raw request$ escape hatch, value framing, response limits).
// The codecs, frames and compression framing themselves are the subpath `rivven-rx/protocol`.
export type { BatchRecord, QuotaAlteration, Request, RequestInput, RequestType, TopicConfigEntry } from './protocol/request-schema.js';
export type {
  BrokerInfo,
  DeleteRecordsResult,
  MessageData,
  PartitionMetadata,
  QuotaEntry,
  Response,
  ResponseOf,
  ResponseType,
  TopicConfigDescription,
  TopicConfigValue,
  TopicMetadata,
} from './protocol/response-schema.js';
export { DEFAULT_RESPONSE_LIMITS, type ResponseLimits, type ResolvedResponseLimits } from './protocol/decode-limits.js';
export type { CompressionAlgorithm, ValueFraming } from './protocol/value-framing.js';

// Transport settings
export type { ConnectionOptions, ConnectionState, ConnectionStats, RequestOptions } from './transport/connection-types.js';
export type { BrokerAddress } from './broker-address.js';
export { TlsConfig } from './transport/sockets.js';
export { clearScramCache } from './transport/scram.js';

// The root object: shared settings once, components made from them
export {
  Rivven,
  type RivvenConsumerOptions,
  type RivvenProducerOptions,
  type RivvenResilientOptions,
  type RivvenSettings,
  type RivvenTransactionalOptions,
} from './rivven.js';

// The settings every component takes under the same names
export type { AuthOptions, ConnectionSettings, PemSource, ResolvedConnectionSettings, ResolvedRetryPolicy, RetryPolicy, SocketFactory, TlsOptions } from './connection-settings.js';

// Client: every broker operation as an Observable
export { Client, type ClientConfig, type ClientConnectionOptions, type ClientHealth } from './client/client.js';
export type * from './client/client-types.js';
export type { CreateTopicOptions } from './client/admin-operations.js';
export { DEFAULT_MAX_DECODED_BYTES } from './client/data-operations.js';
export { classifyServerError, type ServerErrorClass, type ServerErrorKind } from './server-error-table.js';
export { registerSchema$, type SchemaRegistryOptions } from './client/schema-registry.js';

// Resilience: bounded pipelining on one connection; pooled failover with retries and circuit breakers
export { PipelinedClient } from './client/pipelined-client.js';
export {
  PipelinedClientPresets,
  type PipelinedClientConfig,
  type PipelinedClientConnectionOptions,
  type PipelinedClientPreset,
  type ResolvedPipelinedClientConfig,
} from './client/pipelined-options.js';
export type { PipelinedClientHealth } from './client/pipelined-health.js';
export { ResilientClient } from './client/resilient-client.js';
export { MAX_THROTTLE_WAIT_WITHOUT_DEADLINE_MS, type ExecuteOptions, type RetryClass } from './client/resilient-retry-class.js';
export {
  RESILIENT_DEFAULTS,
  type ConnectionFactory,
  type PoolableConnection,
  type ResilientClientConfig,
  type ResolvedResilientClientConfig,
} from './client/resilient-config.js';
export { formatHealth, type ResilientHealth, type ServerHealth } from './client/resilient-health.js';
export type { PoolSnapshot } from './client/connection-pool.js';
export type { CircuitSnapshot, CircuitState } from './client/circuit-breaker.js';

// Producer: batching, partitioning, idempotence, compression, backpressure
export { Producer, type ProducerCloseOptions, type SendOptions } from './producer/producer.js';
export type { ProducerOutcome } from './producer/results-feed.js';
export type { ProducerHealth } from './producer/producer-health.js';
export type { ProducerRecord, ProducerResult } from './producer/producer-record.js';
export { DEFAULT_PRODUCER_CONFIG, ProducerPresets, type ProducerConfig, type ProducerPreset, type ProducerTuning, type ResolvedProducerConfig } from './producer/producer-config.js';
export { produceTo } from './operators/at-least-once.js';
export { promiseOf, type PromiseOfOptions } from './operators/promise-of.js';
export { TransactionalProducer, type TransactionalResult } from './producer/transactional-producer.js';
export type { TransactionalProducerConfig } from './producer/transactional-config.js';
export type { OffsetsToCommit, TransactionalRecord } from './producer/transaction-state.js';

// Consumer
export { Consumer } from './consumer/consumer.js';
export type { IterateOptions } from './consumer/record-iterator.js';
export { CONSUMER_DEFAULTS, ConsumerPresets, type AckMode, type ConsumerConfig, type ResolvedConsumerConfig } from './consumer/consumer-config.js';
export { rangeAssignor, roundRobinAssignor, type GroupMember, type PartitionAssignor } from './consumer/assignors.js';
export type { CommittedOffsets, ConsumerRecord, RebalanceEvent, ReceiverOffset, RevokeReason, TopicPartition, TopicPartitionOffset } from './consumer/consumer-record.js';
export type { ConsumerHealth, ConsumerState, HeldRecord, HiddenRecordsEvent, StalledPartition, TruncationEvent, WarningSource } from './consumer/consumer-health.js';
export type { PartitionLag } from './consumer/lag-monitor.js';
export { commitOffsets, type CommitBatch, type CommitOffsetsOptions } from './operators/at-least-once.js';
export {
  transactional,
  TransactionAbortedError,
  type CommittedTransaction,
  type ConsumedOnly,
  type TransactionalConsumer,
  type TransactionalItem,
  type TransactionalOptions,
  type TransactionalOutput,
} from './operators/transactional.js';
export { processConcurrently } from './operators/process-concurrently.js';
export {
  ProcessingFailedError,
  type ConcurrentRecord,
  type DeadLetterOptions,
  type ProcessConcurrentlyOptions,
  type ProcessingEvent,
  type ProcessingOrder,
} from './operators/processing-options.js';
export { decodeDeadLetter, encodeDeadLetter, DEAD_LETTER_FORMAT, DEAD_LETTER_VERSION, type DeadLetter, type DeadLetterSource } from './operators/dead-letter.js';

// Observability: node:diagnostics_channel channels and the logger shape
export {
  CHANNEL_NAMES,
  type CommitTraceMessage,
  type ConnectionEventMessage,
  type FetchTraceMessage,
  type ProduceTraceMessage,
  type RebalanceEventMessage,
  type RequestTraceMessage,
  type TransactionTraceMessage,
} from './observability/channels.js';
export { stderrLogger, type LogFields, type Logger, type LogLevel } from './observability/log.js';
