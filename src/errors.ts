/**
 * The one error hierarchy of rivven-rx. Every error carries a stable `code` (match on it, not on the
 * message) and `retriable` (whether doing the same thing again may succeed).
 *
 * Messages say what happened and what to do. They never include passwords, SCRAM proofs or key
 * material: secrets are redacted where the errors are built, not left to callers.
 */
import { classifyServerError, leadingServerCode } from './server-error-table.js';

export type RivvenErrorCode =
  | 'PROTOCOL'
  | 'COMPRESSION'
  | 'CONNECTION'
  | 'TIMEOUT'
  | 'SERVER'
  | 'AUTHENTICATION'
  | 'AUTHORIZATION'
  | 'ALL_SERVERS_UNAVAILABLE'
  | 'CONFIG'
  | 'THROTTLED'
  | 'INCOMPATIBLE_BROKER'
  | 'SCHEMA_REGISTRY'
  | 'TLS'
  | 'TRANSACTION_ABORTED'
  | 'NOT_IN_LOG'
  | 'MESSAGE_TOO_LARGE'
  | 'CLOSED'
  | 'UNKNOWN_OUTCOME'
  | 'PROCESSING_FAILED'
  | 'BUFFER_FULL'
  | 'ABORTED';

export interface RivvenErrorOptions {
  /** The error that led to this one (set as the standard `Error.cause`). */
  cause?: unknown;
}

export abstract class RivvenError extends Error {
  /** Stable code of the kind of error: match on it, not on the message. */
  abstract readonly code: RivvenErrorCode;
  /** Whether doing the same thing again may succeed (`isRetriable` reads it; the retrier retries only such errors). */
  abstract readonly retriable: boolean;

  constructor(message: string, options?: RivvenErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/**
 * Bytes that do not follow the Rivven wire format (from a peer, or values a user asked us to
 * encode). Retriable, as in rivven-client: a malformed frame usually means a broken connection,
 * and a fresh one may work.
 */
export class ProtocolError extends RivvenError { readonly code = 'PROTOCOL' as const; readonly retriable = true; }

/**
 * A value whose Rivven compression framing is broken, oversized or fails its checksum, or that needs
 * a codec whose optional npm package (lz4-napi, snappy, @mongodb-js/zstd) is not installed or does
 * not load (the message names it). Not retriable.
 */
export class CompressionError extends RivvenError { readonly code = 'COMPRESSION' as const; readonly retriable = false; }

/**
 * The broker acknowledged records that reading its log back does not find where it said (or at all).
 * Not retriable: sending them again could store them twice. Read the partition to see what it holds.
 */
export class NotInLogError extends RivvenError { readonly code = 'NOT_IN_LOG' as const; readonly retriable = false; }

/**
 * A request (or a single record) too large for one request to the broker: rivvend refuses frames
 * over 10 MiB (`MAX_MESSAGE_SIZE`) and closes the connection. Not retriable: the same bytes are
 * refused again. `size` is what it would take on the wire, `limit` the largest allowed.
 */
export class MessageTooLargeError extends RivvenError {
  readonly code = 'MESSAGE_TOO_LARGE' as const;
  readonly retriable = false;
  constructor(
    message: string,
    /** Bytes on the wire (request body: everything after the length prefix). */
    readonly size: number,
    /** The largest request body allowed (`maxRequestSize`, at most `MAX_MESSAGE_SIZE`). */
    readonly limit: number,
    options?: RivvenErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * The component was closed (or is closing) before this was asked of it. Not retriable: the same
 * call on the same object fails the same way; create a new one.
 */
export class ClosedError extends RivvenError { readonly code = 'CLOSED' as const; readonly retriable = false; }

/**
 * The broker's answer for these records never came before the producer gave up waiting (`close()`'s
 * bound): they may or may not be stored. Not retriable blindly: sending them again may store them
 * twice; read the partition (or rely on idempotent consumers) to find out.
 */
export class UnknownOutcomeError extends RivvenError { readonly code = 'UNKNOWN_OUTCOME' as const; readonly retriable = false; }

/**
 * `producer.next(record)` while `bufferMemory` is full and as many bytes again already wait for
 * room: an Observer cannot be paused, so the record is refused at once rather than buffered without
 * bound. Retriable: room comes back as the broker acknowledges. Feed the producer no faster than
 * the broker takes records (or use `send$`/`sendAll$`, which wait in order up to `maxBlockMs`).
 */
export class BufferFullError extends RivvenError { readonly code = 'BUFFER_FULL' as const; readonly retriable = true; }

/**
 * A promise helper's `AbortSignal` fired: the records not yet handed to the broker were withdrawn
 * (`withdrawn`, their indexes in the call); the others (`inFlight`) were already sent and their
 * outcome is not reported to this call. `cause` is the signal's reason.
 */
export class SendAbortedError extends RivvenError {
  readonly code = 'ABORTED' as const;
  readonly retriable = false;
  constructor(
    message: string,
    /** Indexes of the records withdrawn before they were sent (never stored). */
    readonly withdrawn: readonly number[],
    /** Indexes of the records already handed to the broker (they may be stored). */
    readonly inFlight: readonly number[],
    options?: RivvenErrorOptions,
  ) {
    super(message, options);
  }
}

/** The connection could not be opened, or broke (reset, closed by the broker, out of sync). */
export class ConnectionError extends RivvenError { readonly code = 'CONNECTION' as const; readonly retriable = true; }

/** No answer within the time allowed (connection, request or delivery timeout). */
export class RivvenTimeoutError extends RivvenError { readonly code = 'TIMEOUT' as const; readonly retriable = true; }

/** The broker answered with `Response::Error`. `serverCode` and `retriable` come from the table of rivvend's error texts. */
export class ServerError extends RivvenError {
  readonly code = 'SERVER' as const;
  readonly retriable: boolean;
  /**
   * The stable code of the broker's answer, such as `UNKNOWN_TOPIC_OR_PARTITION`,
   * `TOPIC_ALREADY_EXISTS` or `PRODUCER_FENCED` (server-error-table.ts): the broker's most
   * specific prefix, or the table's code for a text without one; undefined for a text the table
   * does not know and that has no prefix.
   */
  readonly serverCode: string | undefined;
  /** The broker's message, verbatim. */
  readonly serverMessage: string;

  constructor(serverMessage: string, context?: string) {
    const classified = classifyServerError(serverMessage);
    const what = `broker error: ${serverMessage}${classified.hint === undefined ? '' : ` (${classified.hint})`}`;
    super(context === undefined ? what : `${context}: ${what}`);
    this.serverMessage = serverMessage;
    this.serverCode = classified.code;
    this.retriable = classified.retriable;
  }
}

/** Rivven error messages start with a code such as `UNKNOWN_TOPIC:` or `PRODUCER_FENCED `. */
export function serverCodeOf(message: string): string | undefined {
  return leadingServerCode(message);
}

/** A refusal that may carry the broker's own error prefix. */
abstract class ServerRefusalError extends RivvenError {
  readonly retriable = false;
  /** The broker's error prefix (e.g. `AUTHENTICATION_FAILED`), when the broker said no. */
  readonly serverCode: string | undefined;
  constructor(message: string, options?: RivvenErrorOptions & { serverCode?: string }) {
    super(message, options);
    this.serverCode = options?.serverCode;
  }
}

/** Credentials were refused, or the server could not prove it knows them. Fix the credentials. */
export class AuthenticationError extends ServerRefusalError {
  readonly code = 'AUTHENTICATION' as const;
}

/** The broker refused the request for this principal (or for an unauthenticated connection). */
export class AuthorizationError extends ServerRefusalError {
  readonly code = 'AUTHORIZATION' as const;
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

/** No server of the list answered (each one's error is in the message), or every circuit breaker refuses. */
export class AllServersUnavailableError extends RivvenError { readonly code = 'ALL_SERVERS_UNAVAILABLE' as const; readonly retriable = true; }

/**
 * The broker could not be reached or did not answer in time — as opposed to answering with an
 * error: a new connection (along the bootstrap list) may work.
 */
export function isUnreachable(error: unknown): error is ConnectionError | RivvenTimeoutError | AllServersUnavailableError {
  return error instanceof ConnectionError || error instanceof RivvenTimeoutError || error instanceof AllServersUnavailableError;
}

/**
 * The one rule for what may succeed when done again: a RivvenError that says so (its class, or
 * for a broker's answer the server error table). Anything else — a bug, a user callback's throw —
 * is not retried anywhere. The retrier (client/retrier.ts) asks this; callers may only narrow it.
 */
export function isRetriable(error: unknown): boolean {
  return error instanceof RivvenError && error.retriable;
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
    /** How long the broker asks the client to wait before retrying, in milliseconds. */
    readonly throttleTimeMs: bigint,
    /** The quota that was exceeded (such as `produce_bytes_rate`). */
    readonly quotaType: string,
    /** The entity the quota applies to (a user, client id or consumer group). */
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
    /** The protocol version the broker speaks. */
    readonly serverVersion: number,
    /** The protocol version this client speaks (`PROTOCOL_VERSION`). */
    readonly clientVersion: number,
    /** The broker's message, verbatim. */
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
    /** The HTTP status of the answer; 0 when none arrived (connection refused, timeout). */
    readonly status: number,
    /** The start of the answer's body, for the message (empty when there was none). */
    readonly bodyExcerpt: string,
    options?: RivvenErrorOptions,
  ) {
    super(message, options);
    // Server-side trouble and rate limits may pass; a rejected schema or request will not.
    this.retriable = status === 0 || status === 429 || status >= 500;
  }
}

/** The typed error for a broker `Error` reply: authorization and authentication codes get their own classes. */
export function errorFromServerMessage(message: string, context: string): RivvenError {
  const { code, kind } = classifyServerError(message);
  if (kind === 'authorization') {
    return new AuthorizationError(
      `${context}: the broker refused this request for this principal (${message}). ` +
        'Authenticate (the `auth` option) with a principal that holds the needed permission',
      code === undefined ? undefined : { serverCode: code },
    );
  }
  if (kind === 'authentication') {
    return new AuthenticationError(`${context}: authentication failed: ${message}`, code === undefined ? undefined : { serverCode: code });
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

/**
 * A transaction lost its broker: the connection dropped, or the broker forgot the producer (a
 * restart: `UNKNOWN_PRODUCER_ID`). It was aborted or died with the broker; retry it whole.
 */
export class TransactionInterruptedError extends ConnectionError {
  /** The commit request was sent and its answer lost: the transaction may have committed. */
  readonly mayHaveCommitted: boolean;

  constructor(reason: string, options?: RivvenErrorOptions & { mayHaveCommitted?: boolean }) {
    super(`transaction interrupted: ${reason} — run it again (the producer reconnects by itself)`, options);
    this.mayHaveCommitted = options?.mayHaveCommitted ?? false;
  }
}

/** What was thrown, reduced to what is safe to report: class, message and code, never a stack or causes. */
export interface ErrorSummary {
  /** The error's class name (`error.name`), or the type of what was thrown. */
  class: string;
  /** The error's message (consumer health caps it at 500 characters; a dead letter keeps it whole). */
  message: string;
  /** A rivven-rx error's `code` (RivvenError), else undefined. */
  code: string | undefined;
}

/** Summarize whatever was thrown; a message longer than `maxMessageLength` is cut, ending in `…`. */
export function summarizeError(error: unknown, maxMessageLength = Infinity): ErrorSummary {
  const cap = (message: string): string => (message.length > maxMessageLength ? `${message.slice(0, maxMessageLength - 1)}…` : message);
  if (error instanceof Error) return { class: error.name, message: cap(error.message), code: error instanceof RivvenError ? error.code : undefined };
  return { class: typeof error, message: cap(String(error)), code: undefined };
}

/** An error as a component's health reports it (`lastError`): never a secret. */
export interface HealthError {
  /** The error's `code` (`RivvenError.code`). */
  code: string;
  /** The error's message. */
  message: string;
  /**
   * When it happened, in milliseconds: the component's scheduler clock where it takes a scheduler
   * (ms since the epoch with the default scheduler), else ms since the Unix epoch.
   */
  at: number;
}
