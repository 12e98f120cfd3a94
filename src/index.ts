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
export { registerSchema$, type SchemaRegistryOptions } from './client/schema-registry.js';
