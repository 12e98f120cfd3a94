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
  | 'SCHEMA_REGISTRY'
  | 'TLS'
  | 'TRANSACTION_ABORTED';

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
export function serverCodeOf(message: string): string | undefined {
  const match = /^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b/.exec(message.trimStart());
  return match?.[1];
}

/** Credentials were refused, or the server could not prove it knows them. Fix the credentials. */
export class AuthenticationError extends RivvenError {
  readonly code = 'AUTHENTICATION' as const;
  readonly retriable = false;
  /** The broker's error prefix (e.g. `AUTHENTICATION_FAILED`), when the broker said no. */
  readonly serverCode: string | undefined;
  constructor(message: string, options?: RivvenErrorOptions & { serverCode?: string }) {
    super(message, options);
    this.serverCode = options?.serverCode;
  }
}

/** The broker refused the request for this principal (or for an unauthenticated connection). */
export class AuthorizationError extends RivvenError {
  readonly code = 'AUTHORIZATION' as const;
  readonly retriable = false;
  readonly serverCode: string | undefined;
  constructor(message: string, options?: RivvenErrorOptions & { serverCode?: string }) {
    super(message, options);
    this.serverCode = options?.serverCode;
  }
}

/** TLS could not be established: certificate, hostname, protocol or port trouble. Fix the setup. */
export class TlsError extends RivvenError {
  readonly code = 'TLS' as const;
  readonly retriable = false;
  /** The TLS library's code, e.g. `CERT_HAS_EXPIRED`, `ERR_TLS_CERT_ALTNAME_INVALID`. */
  readonly tlsCode: string | undefined;
  constructor(message: string, options?: RivvenErrorOptions & { tlsCode?: string }) {
    super(message, options);
    this.tlsCode = options?.tlsCode;
  }
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

const AUTHORIZATION_CODES = new Set(['AUTHENTICATION_REQUIRED', 'AUTHORIZATION_FAILED']);
const AUTHENTICATION_CODES = new Set(['AUTHENTICATION_FAILED', 'SCRAM_FAILED', 'SESSION_EXPIRED', 'INVALID_SESSION', 'PLAINTEXT_AUTH_REQUIRES_TLS']);

/** The typed error for a broker `Error` reply: authorization and authentication codes get their own classes. */
export function errorFromServerMessage(message: string, context: string): RivvenError {
  const code = serverCodeOf(message);
  if (code !== undefined && (AUTHORIZATION_CODES.has(code) || code.endsWith('_AUTHORIZATION_FAILED'))) {
    return new AuthorizationError(
      `${context}: the broker refused this request for this principal (${message}). ` +
        'Authenticate (the `auth` option) with a principal that holds the needed permission',
      { serverCode: code },
    );
  }
  if (code !== undefined && AUTHENTICATION_CODES.has(code)) {
    return new AuthenticationError(`${context}: authentication failed: ${message}`, { serverCode: code });
  }
  return new ServerError(message, context);
}

/** A newer instance of this producer exists (`PRODUCER_FENCED` / `INVALID_PRODUCER_EPOCH`). */
export class ProducerFencedError extends RivvenError {
  readonly code = 'SERVER' as const;
  readonly retriable = false;
  constructor(message: string, options?: RivvenErrorOptions) {
    super(`${message}: a newer instance of this producer took over (its epoch is higher); this instance must stop`, options);
  }
}
