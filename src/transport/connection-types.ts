/**
 * The shapes a Connection is configured with and reports: its options, states, per-request
 * options, decoded frames, where a request's outcome goes, and its stats (the public types
 * `ConnectionOptions`, `ConnectionState`, `ConnectionStats` and `RequestOptions` among them). Kept
 * apart from the Connection class so the rooms that implement its parts, connection-options.ts
 * (which checks the options) and the client layer can name these types without importing the
 * class they serve; everyone imports them from here, and nothing re-exports them but the public
 * barrel.
 */
import type { SchedulerLike } from 'rxjs';
import type { HealthError } from '../errors.js';
import type { ResponseLimits } from '../protocol/decode-limits.js';
import type { Response } from '../protocol/response-schema.js';
import type { Logger, LogLevel } from '../observability/log.js';
import type { AuthOptions, SocketFactory, TlsOptions } from '../connection-settings.js';

/** A connection's state: `ready` takes requests; `failed` and `closed` are final. */
export type ConnectionState = 'connecting' | 'ready' | 'closing' | 'closed' | 'failed';

/** Options of one broker connection (`Client.connect$` and the connections of the other components). */
export interface ConnectionOptions {
  /** Sent in the Handshake, shown in broker logs. Default `rivven-rx`. */
  clientId?: string;
  /** Time allowed to open the socket and complete the handshake. Default 10,000 ms. */
  connectionTimeoutMs?: number;
  /**
   * Default per-request timeout (0 = none). Default 30,000 ms. A request that times out while
   * half a reply is buffered closes the connection: every later frame would be misread.
   */
  requestTimeoutMs?: number;
  /** How long `close()` waits for replies still in flight. Default 5,000 ms. */
  closeTimeoutMs?: number;
  /** Authenticate every connection: SCRAM-SHA-256 (recommended) or PLAIN (TLS only). */
  auth?: AuthOptions;
  /** Connect with TLS (and mTLS with a client certificate). */
  tls?: TlsOptions;
  /** Where sockets come from (TCP, or TLS when `tls` is set); custom factories for tests/proxies. */
  socketFactory?: SocketFactory;
  /**
   * Re-authenticate when this fraction of the broker's session lifetime has passed (default 0.8),
   * so a long-lived connection never meets SESSION_EXPIRED.
   */
  reauthenticateAt?: number;
  /** Scheduler for timeouts (tests use virtual time). */
  scheduler?: SchedulerLike;
  /**
   * How long a request may wait for others to share its socket write, in microseconds. 0 (the
   * default) writes at the end of the current tick: everything issued in the same tick goes out in
   * one write. Timer resolution is 1 ms, so values are rounded up to whole milliseconds.
   */
  writeLingerUs?: number;
  /** Write as soon as this many frames are queued, linger or not. Default unlimited. */
  maxWriteBatch?: number;
  /**
   * Get replies without the ~40 ms delayed-ACK stall (default true). rivvend 0.0.22 does not set
   * TCP_NODELAY and writes a reply in two parts, so the second part waits (Nagle) for this side to
   * acknowledge the first — which the kernel delays up to 40 ms when we have nothing to send. While
   * a request waits for its reply and nothing else is being written, the connection sends a `Ping`
   * after each chunk it receives; its packet carries the ACK at once. Costs a tiny request per
   * received chunk at most, never more than 8 outstanding; their replies are dropped.
   */
  quickAck?: boolean;
  /**
   * Where log lines go: any object with `debug/info/warn/error(fields, message)` (pino's shape;
   * `console` works). Default: warnings and errors to stderr; `null` turns logging off.
   */
  logger?: Logger | null;
  /** Least severe level logged: 'debug', 'info', 'warn' (default), 'error' or 'silent'. */
  logLevel?: LogLevel;
  /**
   * Bounds on what one reply may make the decoder allocate (header counts and sizes, list items
   * in all). A reply over a limit is a ProtocolError naming it, and the connection is reset.
   * Defaults: see `DEFAULT_RESPONSE_LIMITS` (1,000 headers per record, 100,000 per reply, keys
   * 16 KiB, values 1 MiB, 150,000 list items). Raise them only for a broker you trust.
   */
  responseLimits?: ResponseLimits;
}

/** Options of one request. */
export interface RequestOptions {
  /** Overrides the connection's request timeout for this request (0 = none). */
  timeoutMs?: number;
}

/** Where a request's outcome goes: its reply (then completion), or its error. */
export interface RequestSubscriber {
  next(response: Response): void;
  complete(): void;
  error(error: unknown): void;
}

export interface ResponseFrame {
  correlationId: number;
  response: Response;
}

/** One connection's counters and state, since it opened. */
export interface ConnectionStats {
  /** The connection's state. */
  state: ConnectionState;
  /** Requests written. */
  requestsSent: number;
  /** Requests the broker answered with anything but an `Error`. */
  requestsSucceeded: number;
  /** Requests the broker answered with an `Error`. */
  requestsFailed: number;
  /** Requests that got no reply within their timeout. */
  requestsTimedOut: number;
  /** Requests sent and not answered yet. */
  inFlight: number;
  /** Bytes read from the socket. */
  bytesIn: number;
  /** Request frame bytes written (length prefix included). */
  bytesOut: number;
  /** Socket writes issued; framesWritten / batchesWritten is the average batch size. */
  batchesWritten: number;
  /** Request frames written. */
  framesWritten: number;
  /** Median reply latency of the last 1,024 requests, in milliseconds; undefined before the first reply. */
  latencyP50Ms: number | undefined;
  /** 99th percentile reply latency of the last 1,024 requests, in milliseconds; undefined before the first reply. */
  latencyP99Ms: number | undefined;
  /** The last error the connection met; undefined if none. */
  lastError: HealthError | undefined;
  /** Who this connection is authenticated as (never any secret), and when the session ends. */
  auth:
    | {
        /** The mechanism used (`scram-sha-256` or `plain`). */
        mechanism: string;
        /** The user authenticated as. */
        username: string;
        /** When the broker's session ends, in milliseconds since the Unix epoch. */
        sessionExpiresAt: number;
        /** Re-authentications done on this connection so far. */
        reauthentications: number;
      }
    | undefined;
  /** Requests held back while the connection re-authenticates. */
  waitingForAuth: number;
  /** The socket factory's kind (`tcp`, `tls`, or a custom factory's). */
  transport: string;
}
