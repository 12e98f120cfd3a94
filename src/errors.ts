/**
 * The one error hierarchy of rivven-rx. Every error carries a stable `code` (match on it, not on the
 * message) and `retriable` (whether doing the same thing again may succeed).
 *
 * Messages say what happened and what to do. They never include passwords, SCRAM proofs or key
 * material: secrets are redacted where the errors are built, not left to callers.
 */

export type RivvenErrorCode =
  | 'PROTOCOL'
  | 'COMPRESSION'
  | 'CONNECTION'
  | 'TIMEOUT'
  | 'SERVER'
  | 'AUTHENTICATION'
  | 'AUTHORIZATION'
  | 'CIRCUIT_OPEN'
  | 'ALL_SERVERS_UNAVAILABLE'
  | 'CONFIG'
  | 'THROTTLED'
  | 'INCOMPATIBLE_BROKER'
  | 'SCHEMA_REGISTRY';

export interface RivvenErrorOptions {
  cause?: unknown;
}

export abstract class RivvenError extends Error {
  abstract readonly code: RivvenErrorCode;
  abstract readonly retriable: boolean;

  constructor(message: string, options?: RivvenErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** Bytes that do not follow the Rivven wire format (from a peer, or values a user asked us to encode). */
export class ProtocolError extends RivvenError {
  readonly code = 'PROTOCOL' as const;
  // Matches rivven-client: a malformed frame usually means a broken connection; a fresh one may work.
  readonly retriable = true;
}

/** A value whose Rivven compression framing is broken, oversized or fails its checksum. */
export class CompressionError extends RivvenError {
  readonly code = 'COMPRESSION' as const;
  readonly retriable = false;
}

export class ConnectionError extends RivvenError {
  readonly code = 'CONNECTION' as const;
  readonly retriable = true;
}

export class TimeoutError extends RivvenError {
  readonly code = 'TIMEOUT' as const;
  readonly retriable = true;
}

/** The broker's prefixes that mean "retrying will not help" (rivven-client 0.0.22 `error.rs`). */
const NON_RETRIABLE_SERVER_PREFIXES = [
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
] as const;

/** The broker answered with `Response::Error`. `serverCode` is its upper-case prefix, if it sent one. */
export class ServerError extends RivvenError {
  readonly code = 'SERVER' as const;
  readonly retriable: boolean;
  /** The broker's error prefix such as `UNKNOWN_TOPIC` or `PRODUCER_FENCED`, or undefined. */
  readonly serverCode: string | undefined;
  /** The broker's message, verbatim. */
  readonly serverMessage: string;

  constructor(serverMessage: string, context?: string) {
    super(context === undefined ? `broker error: ${serverMessage}` : `${context}: broker error: ${serverMessage}`);
    this.serverMessage = serverMessage;
    this.serverCode = serverCodeOf(serverMessage);
    const upper = serverMessage.toUpperCase();
    this.retriable = !NON_RETRIABLE_SERVER_PREFIXES.some((prefix) => upper.startsWith(prefix));
  }
}

/** Rivven error messages start with a code such as `UNKNOWN_TOPIC:` or `PRODUCER_FENCED `. */
function serverCodeOf(message: string): string | undefined {
  const match = /^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b/.exec(message.trimStart());
  return match?.[1];
}

export class AuthenticationError extends RivvenError {
  readonly code = 'AUTHENTICATION' as const;
  readonly retriable = false;
}

export class AuthorizationError extends RivvenError {
  readonly code = 'AUTHORIZATION' as const;
  readonly retriable = false;
}

export class CircuitOpenError extends RivvenError {
  readonly code = 'CIRCUIT_OPEN' as const;
  readonly retriable = true;
}

export class AllServersUnavailableError extends RivvenError {
  readonly code = 'ALL_SERVERS_UNAVAILABLE' as const;
  readonly retriable = true;
}

/** Invalid configuration or arguments: fix the call, retrying will not help. */
export class ConfigError extends RivvenError {
  readonly code = 'CONFIG' as const;
  readonly retriable = false;
  /** The option or argument that was wrong. */
  readonly option: string;

  constructor(option: string, message: string) {
    super(`invalid ${option}: ${message}`);
    this.option = option;
  }
}

/** The broker asked us to slow down (`Response::Throttled`). Retry after `throttleTimeMs`. */
export class ThrottledError extends RivvenError {
  readonly code = 'THROTTLED' as const;
  readonly retriable = true;
  constructor(
    readonly throttleTimeMs: bigint,
    readonly quotaType: string,
    readonly entity: string,
  ) {
    super(`throttled by the broker: quota '${quotaType}' exceeded for '${entity}'; retry after ${throttleTimeMs} ms`);
  }
}

/** The broker does not speak our protocol version (its HandshakeResult said `compatible: false`). */
export class IncompatibleBrokerError extends RivvenError {
  readonly code = 'INCOMPATIBLE_BROKER' as const;
  readonly retriable = false;
  constructor(
    readonly serverVersion: number,
    readonly clientVersion: number,
    readonly serverMessage: string,
  ) {
    super(
      `broker speaks protocol version ${serverVersion}, this client speaks ${clientVersion}: "${serverMessage}". ` +
        'Use a rivven-rx release built for that broker version.',
    );
  }
}

/** A schema registry refused or garbled a request. `status` is the HTTP status (0 if none arrived). */
export class SchemaRegistryError extends RivvenError {
  readonly code = 'SCHEMA_REGISTRY' as const;
  readonly retriable: boolean;
  constructor(
    message: string,
    readonly status: number,
    readonly bodyExcerpt: string,
    options?: RivvenErrorOptions,
  ) {
    super(message, options);
    // Server-side trouble and rate limits may pass; a rejected schema or request will not.
    this.retriable = status === 0 || status === 429 || status >= 500;
  }
}
