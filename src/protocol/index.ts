/**
 * `rivven-rx/protocol`: the wire protocol as pure functions over bytes (rivven-protocol 0.0.22,
 * postcard): frames, the Request/Response codecs, compression framing, value framing and murmur2.
 * For tools, test servers and other clients; applications use the root `rivven-rx`.
 */
export {
  LENGTH_PREFIX_SIZE,
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
} from './frame.js';
export { FrameDecoder } from './frame-decoder.js';
export { DEFAULT_RESPONSE_LIMITS, resolveResponseLimits, type ResolvedResponseLimits, type ResponseLimits } from './decode-limits.js';
export { EXPECTED_RESPONSES, MAX_OFFSET, responseViolation } from './response-expectations.js';
export { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from './message-codec.js';
export {
  MAX_LIST_LEN,
  type BatchRecord,
  type QuotaAlteration,
  type Request,
  type RequestInput,
  type RequestType,
  type TopicConfigEntry,
} from './request-schema.js';
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
} from './response-schema.js';
export {
  DEFAULT_MIN_SIZE,
  DEFAULT_RATIO_THRESHOLD,
  DEFAULT_ZSTD_LEVEL,
  compressValue,
  compressValueSync,
  decompressValue,
  tryDecompressValue,
  tryDecompressValueSync,
  type CompressionOptions,
} from './compression.js';
export { DETECTED_FLAGS, MAX_DECOMPRESSED_SIZE, planValue, type CompressionAlgorithm, type ValueFraming, type ValueHeader, type ValuePlan } from './value-framing.js';
export { decodeValues, type DecodeValuesOptions, type DecodedValues } from './value-decoder.js';
export { murmur2, murmur2Partition } from './murmur2.js';
