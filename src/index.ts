/**
 * rivven-rx: a reactive TypeScript client for the Rivven event streaming broker (rivvend 0.0.22,
 * protocol version 2). Everything public is exported from here.
 */
export * from './errors.js';

// Wire protocol (pure codecs)
export {
  MAX_MESSAGE_SIZE,
  PROTOCOL_VERSION,
  WIRE_HEADER_SIZE,
  WireFormat,
  encodeRequestFrame,
  encodeResponseFrame,
  parseFrameBody,
  requestToWire,
  responseToWire,
  type FrameBody,
} from './protocol/frame.js';
export { FrameDecoder } from './protocol/frame-decoder.js';
export { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from './protocol/message-codec.js';
export {
  MAX_LIST_LEN,
  type BatchRecord,
  type QuotaAlteration,
  type Request,
  type RequestInput,
  type RequestType,
  type TopicConfigEntry,
} from './protocol/request-schema.js';
export {
  MAX_MESSAGES_PER_RESPONSE,
  type BrokerInfo,
  type DeleteRecordsResult,
  type MessageData,
  type PartitionMetadata,
  type QuotaEntry,
  type Response,
  type ResponseOf,
  type ResponseType,
  type TopicConfigDescription,
  type TopicConfigValue,
  type TopicMetadata,
} from './protocol/response-schema.js';
export {
  MAX_DECOMPRESSED_SIZE,
  compressValue,
  decompressValue,
  tryDecompressValue,
  type CompressionAlgorithm,
  type CompressionOptions,
} from './protocol/compression.js';
export { murmur2, murmur2Partition } from './protocol/murmur2.js';

// Transport: one pipelined connection
export { Connection, type ConnectionOptions, type ConnectionState, type ConnectionStats, type RequestOptions, type ResponseFrame } from './transport/connection.js';
export { parseAddress, formatAddress, type BrokerAddress } from './transport/address.js';
export { tcpSocketFactory, type SocketFactory } from './transport/socket-factory.js';
export { TlsConfig, tlsSocketFactory, type PemSource, type TlsOptions } from './transport/tls.js';
export type { AuthOptions, AuthSession } from './transport/authenticator.js';
export { clearScramCache } from './transport/scram.js';

// Client: every broker operation as an Observable
export { Client, type ClientHealth, type ClientOptions } from './client/client.js';
export type * from './client/client-types.js';
export { DEFAULT_MAX_DECODED_BYTES } from './client/operations.js';
export { SERVER_ERROR_RULES, classifyServerError, type ServerErrorClass, type ServerErrorKind, type ServerErrorRule } from './client/server-error-table.js';
export { registerSchema$, type SchemaRegistryOptions } from './client/schema-registry.js';

// Resilience: bounded pipelining on one connection; pooled failover with retries and circuit breakers
export { PipelinedClient, PipelineConfig, resolvePipelineConfig, type PipelineOptions, type PipelineStats, type ResolvedPipelineConfig } from './client/pipelined-client.js';
export { ResilientClient, REQUEST_RETRY_CLASS, type ExecuteOptions, type RetryClass } from './client/resilient-client.js';
export {
  RESILIENT_DEFAULTS,
  resolveResilientConfig,
  type ConnectionFactory,
  type PoolableConnection,
  type ResilientClientOptions,
  type ResolvedResilientConfig,
} from './client/resilient-config.js';
export { formatHealth, type HealthError, type ResilientHealth, type ServerHealth } from './client/resilient-health.js';
export type { PoolSnapshot } from './client/connection-pool.js';
export { CircuitBreaker, type CircuitBreakerOptions, type CircuitPermit, type CircuitSnapshot, type CircuitState } from './client/circuit-breaker.js';
export { backoffBounds, backoffDelay, backoffNotifier, exponentialDelay, type BackoffPolicy, type RandomSource } from './client/backoff.js';

// Producer: batching, partitioning, idempotence, compression, backpressure
export { Producer, type ProducerHealth, type ProducerRecord, type ProducerResult } from './producer/producer.js';
export { DEFAULT_PRODUCER_CONFIG, ProducerPresets, resolveProducerConfig, type ProducerConfig, type ProducerConfigInput } from './producer/producer-config.js';
export { produceTo } from './operators/produce-to.js';
export {
  TransactionalProducer,
  type TransactionalProducerConfig,
  type TransactionalRecord,
  type TransactionalResult,
} from './producer/transactional-producer.js';

// Consumer
export { Consumer } from './consumer/consumer.js';
export { CONSUMER_DEFAULTS, readCommitted, resolveConsumerConfig, type ConsumerConfig, type ResolvedConsumerConfig } from './consumer/consumer-config.js';
export { rangeAssignor, roundRobinAssignor, toGroupAssignments, type GroupMember, type PartitionAssignor } from './consumer/assignors.js';
export type { CommittedOffsets, ConsumerRecord, RebalanceEvent, ReceiverOffset, RevokeReason, TopicPartition, TopicPartitionOffset } from './consumer/consumer-record.js';
export type { ConsumerHealth, ConsumerState } from './consumer/consumer-health.js';
export { rejoinReasonOf, type RejoinReason } from './consumer/group-membership.js';
export { commitOffsets, type CommitBatch, type CommitOffsetsOptions } from './operators/commit-offsets.js';
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
