/**
 * One connection to a broker: a socket, a frame decoder, and a table of requests in flight matched
 * to replies by correlation id. Requests are pipelined (many in flight at once); requests issued in
 * the same tick leave in one corked socket write.
 *
 * Every operation is a cold Observable: subscribing sends, the reply completes it, unsubscribing
 * before the reply frees the slot and the late reply is dropped silently.
 *
 * Facing a broken or hostile peer: arguments are checked before anything opens (ConfigError);
 * replies are decoded against `responseLimits`; a reply of the wrong type or with an impossible
 * value (response-expectations.ts), an undecodable one, or a request that times out with half a
 * reply received closes the connection (a pool replaces it). Replies with many records are
 * decoded in slices so the event loop keeps turning.
 */
import { BehaviorSubject, Observable, Subject, asyncScheduler, throwError, timeout, type SchedulerLike } from 'rxjs';
import type { Socket } from 'node:net';
import { AuthenticationError, ConfigError, ConnectionError, IncompatibleBrokerError, ProtocolError, RivvenError, TimeoutError, TlsError } from '../errors.js';
import { resolveResponseLimits, type ResolvedResponseLimits, type ResponseLimits } from '../protocol/decode-limits.js';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import { PROTOCOL_VERSION, encodeRequestFrame, type FrameBody } from '../protocol/frame.js';
import { decodeResponse } from '../protocol/message-codec.js';
import type { RequestInput } from '../protocol/request-schema.js';
import { responseViolation } from '../protocol/response-expectations.js';
import type { Response } from '../protocol/response-schema.js';
import { SlicedMessagesDecoder, messagesRecordCount } from '../protocol/sliced-messages.js';
import { Trace, isTraced, publishConnectionEvent, requestChannel, type RequestTraceMessage } from '../observability/channels.js';
import { createLog, type Log, type Logger, type LogLevel } from '../observability/log.js';
import { formatAddress, type BrokerAddress } from './address.js';
import { authenticate, validateAuthOptions, type AuthOptions, type AuthSession } from './authenticator.js';
import { describeValue, validateAddress, validateConnectionOptions } from './connection-options.js';
import { LatencyTracker } from './latency-tracker.js';
import { tcpSocketFactory, type SocketFactory } from './socket-factory.js';
import { tlsSocketFactory, type TlsOptions } from './tls.js';
import { MAX_TIMER_MS } from '../settings-validation.js';

export type ConnectionState = 'connecting' | 'ready' | 'closing' | 'closed' | 'failed';

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

export interface RequestOptions {
  /** Overrides the connection's request timeout for this request (0 = none). */
  timeoutMs?: number;
}

export interface ResponseFrame {
  correlationId: number;
  response: Response;
}

export interface ConnectionStats {
  state: ConnectionState;
  requestsSent: number;
  requestsSucceeded: number;
  requestsFailed: number;
  requestsTimedOut: number;
  inFlight: number;
  bytesIn: number;
  bytesOut: number;
  /** Socket writes issued; framesWritten / batchesWritten is the average batch size. */
  batchesWritten: number;
  framesWritten: number;
  latencyP50Ms: number | undefined;
  latencyP99Ms: number | undefined;
  lastError: { code: string; message: string; at: number } | undefined;
  /** Who this connection is authenticated as (never any secret), and when the session ends. */
  auth: { mechanism: string; username: string; sessionExpiresAt: number; reauthentications: number } | undefined;
  /** Requests held back while the connection re-authenticates. */
  waitingForAuth: number;
  transport: string;
}

interface Pending {
  subscriber: { next(r: Response): void; complete(): void; error(e: unknown): void };
  sentAt: number;
  type: string;
  /** The `rivven-rx:request` trace, only while someone listens on that channel. */
  trace?: Trace<RequestTraceMessage> | undefined;
}

/** The subscriber of a traced request: the trace ends with the request, whichever way it ends. */
function tracedSubscriber(subscriber: Pending['subscriber'], trace: Trace<RequestTraceMessage>): Pending['subscriber'] {
  return {
    next: (response) => {
      trace.message.responseType = response.type;
      subscriber.next(response);
    },
    complete: () => {
      trace.finish();
      subscriber.complete();
    },
    error: (error) => {
      trace.fail(error);
      subscriber.error(error);
    },
  };
}

const DEFAULTS = {
  clientId: 'rivven-rx',
  connectionTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  closeTimeoutMs: 5_000,
} as const;

/** Replies with more records than this are decoded this many records per macrotask. */
const RECORDS_PER_SLICE = 10_000;

/** Late replies of cancelled requests are recognised (and dropped) for this many ids. */
const CANCELLED_MEMORY = 65_536;

export class Connection {
  readonly address: BrokerAddress;
  private readonly options: Required<
    Omit<ConnectionOptions, 'scheduler' | 'socketFactory' | 'writeLingerUs' | 'maxWriteBatch' | 'auth' | 'tls' | 'responseLimits' | 'logger' | 'logLevel'>
  > & {
    auth: AuthOptions | undefined;
    writeLingerUs: number;
    maxWriteBatch: number;
    scheduler: SchedulerLike;
    socketFactory: SocketFactory;
  };
  private readonly stateSubject = new BehaviorSubject<ConnectionState>('connecting');
  private readonly responsesSubject = new Subject<ResponseFrame>();
  private readonly statsChanged = new Subject<void>();
  private readonly decoder = new FrameDecoder();
  private readonly pending = new Map<number, Pending>();
  private readonly cancelled = new Set<number>();
  /** Correlation ids of quick-ACK pings in flight (their replies are dropped). */
  private readonly ackPings = new Set<number>();
  private wroteSinceData = false;
  private ackCheckScheduled = false;
  private readonly latencies = new LatencyTracker();
  private socket: Socket | undefined;
  private lastCorrelationId = 0;
  private writeQueue: Buffer[] = [];
  private flushScheduled = false;
  private lingerTimer: NodeJS.Timeout | undefined;
  private closePromise: Promise<void> | undefined;
  private drainWaiters: (() => void)[] = [];
  private readonly counters = {
    requestsSent: 0,
    requestsSucceeded: 0,
    requestsFailed: 0,
    requestsTimedOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    /** Socket writes issued (each carries one or more frames). */
    batchesWritten: 0,
    framesWritten: 0,
  };
  private lastError: ConnectionStats['lastError'];
  private session: AuthSession | undefined;
  private sessionExpiresAt = 0;
  private reauthentications = 0;
  private reauthTimer: NodeJS.Timeout | undefined;
  /** While set, new requests wait here (re-authentication needs the connection to itself). */
  private gatedSends: { request: RequestInput; subscriber: Pending['subscriber']; cancelled: boolean; cancel?: () => void }[] | undefined;
  private framesReceived = 0;
  private readonly responseLimits: ResolvedResponseLimits;
  /** A large reply is being decoded in slices; frames that arrive meanwhile wait in `inbox`. */
  private slicing = false;
  private inbox: FrameBody[] = [];
  private readonly log: Log;

  /** connecting → ready → closing → closed, or → failed. */
  readonly state$: Observable<ConnectionState> = this.stateSubject.asObservable();
  /** Every frame the broker sends, decoded (including replies to cancelled requests). */
  readonly responses$: Observable<ResponseFrame> = this.responsesSubject.asObservable();
  /** Ticks whenever the stats change (health streams sample on it). */
  readonly statsChanged$: Observable<void> = this.statsChanged.asObservable();

  private constructor(address: BrokerAddress, options: ConnectionOptions) {
    this.address = address;
    this.options = {
      clientId: options.clientId ?? DEFAULTS.clientId,
      connectionTimeoutMs: options.connectionTimeoutMs ?? DEFAULTS.connectionTimeoutMs,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      closeTimeoutMs: options.closeTimeoutMs ?? DEFAULTS.closeTimeoutMs,
      scheduler: options.scheduler ?? asyncScheduler,
      socketFactory: options.socketFactory ?? (options.tls ? tlsSocketFactory(options.tls) : tcpSocketFactory),
      auth: options.auth,
      reauthenticateAt: options.reauthenticateAt ?? 0.8,
      writeLingerUs: options.writeLingerUs ?? 0,
      maxWriteBatch: options.maxWriteBatch ?? Number.POSITIVE_INFINITY,
      quickAck: options.quickAck ?? true,
    };
    this.responseLimits = resolveResponseLimits(options.responseLimits);
    this.log = createLog('connection', options.logger, options.logLevel, { broker: formatAddress(address), clientId: this.options.clientId });
  }

  /**
   * Connect and handshake. Cold: nothing happens until subscription; unsubscribing before the
   * connection is ready abandons it (the socket is destroyed). Emits the ready connection once.
   */
  static connect$(address: string | BrokerAddress, options: ConnectionOptions = {}): Observable<Connection> {
    return new Observable<Connection>((subscriber) => {
      // Everything is checked before a timer or socket exists: a bad call fails once, typed
      // (ConfigError), and leaves nothing behind that could fire later.
      let parsed: BrokerAddress;
      let connection: Connection;
      try {
        parsed = validateAddress(address);
        validateConnectionOptions(options);
        if (options.auth !== undefined) validateAuthOptions(options.auth);
        connection = new Connection(parsed, options);
      } catch (error) {
        subscriber.error(error);
        return;
      }
      let handedOver = false;
      const cancel = connection.open((error) => {
        if (error) {
          subscriber.error(error);
        } else {
          handedOver = true;
          subscriber.next(connection);
          subscriber.complete();
        }
      });
      return () => {
        if (!handedOver) {
          cancel();
          connection.fail(new ConnectionError(`connection to ${formatAddress(parsed)} abandoned before it was ready`));
        }
      };
    });
  }

  get state(): ConnectionState {
    return this.stateSubject.value;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  stats(): ConnectionStats {
    return {
      state: this.state,
      ...this.counters,
      inFlight: this.pending.size,
      latencyP50Ms: this.latencies.quantile(0.5),
      latencyP99Ms: this.latencies.quantile(0.99),
      lastError: this.lastError,
      auth:
        this.session === undefined
          ? undefined
          : {
              mechanism: this.session.mechanism,
              username: this.session.username,
              sessionExpiresAt: this.sessionExpiresAt,
              reauthentications: this.reauthentications,
            },
      waitingForAuth: this.gatedSends?.length ?? 0,
      transport: this.options.socketFactory.kind,
    };
  }

  /**
   * Send one request; the Observable emits the broker's reply and completes. Cold and cancellable.
   * Errors: ConnectionError (socket failed or closed), TimeoutError, ProtocolError (bad reply or a
   * request that cannot be encoded).
   */
  request$(request: RequestInput, options: RequestOptions = {}): Observable<Response> {
    const invalid = checkRequestArguments(request, options);
    if (invalid !== undefined) return throwError(() => invalid);
    const exchange$ = new Observable<Response>((subscriber) => {
      if (this.state !== 'ready') {
        subscriber.error(this.notReadyError());
        return;
      }
      return this.send(request, subscriber);
    });
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs;
    if (timeoutMs <= 0) return exchange$;
    return exchange$.pipe(
      timeout({
        first: timeoutMs,
        scheduler: this.options.scheduler,
        with: () => {
          this.counters.requestsTimedOut++;
          // (While a large reply is decoded in slices the socket is paused: bytes wait, nothing is stuck.)
          const stuck = this.slicing ? 0 : this.decoder.buffered;
          const error = new TimeoutError(
            stuck > 0
              ? `no reply to ${request.type} from ${formatAddress(this.address)} within ${timeoutMs} ms, and the connection is stuck ` +
                  `${stuck} bytes into a reply; the connection is closed (a ResilientClient's pool opens a new one)`
              : `no reply to ${request.type} from ${formatAddress(this.address)} within ${timeoutMs} ms; the broker may be overloaded or unreachable`,
          );
          this.noteError(error);
          // Half a frame received and no reply in time: every later frame would be read from the
          // middle of this one, so nothing on this connection can succeed any more.
          if (stuck > 0) this.fail(new ConnectionError(`connection to ${formatAddress(this.address)} reset: ${error.message}`));
          return throwError(() => error);
        },
      }),
    );
  }

  /** Flush or fail what is pending, then close the socket. Leaves no handles open. */
  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    if (this.state === 'closed' || this.state === 'failed') {
      this.closePromise = Promise.resolve();
      return this.closePromise;
    }
    this.setState('closing');
    if (this.reauthTimer !== undefined) clearTimeout(this.reauthTimer);
    this.closePromise = (async () => {
      await this.waitForDrain(this.options.closeTimeoutMs);
      this.failPending(new ConnectionError(`connection to ${formatAddress(this.address)} closed before the reply arrived`));
      await this.endSocket();
      this.setState('closed');
      this.log.debug('closed');
      publishConnectionEvent(() => ({ event: 'close', broker: formatAddress(this.address), clientId: this.options.clientId }));
      this.complete();
    })();
    return this.closePromise;
  }

  // -------------------------------------------------------------------------------------------
  // Internals
  // -------------------------------------------------------------------------------------------

  /** Open the socket and handshake; `done` is called once. Returns a function that cancels the timer. */
  private open(done: (error?: RivvenError) => void): () => void {
    let finished = false;
    const finish = (error?: RivvenError) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (error) {
        // Never the credentials: only the error's code and message (which redact them).
        if (error instanceof AuthenticationError) this.log.error('authentication failed', { errorCode: error.code, error: error.message });
        else this.log.info('could not connect', { errorCode: error.code, error: error.message });
        this.fail(error, false);
      }
      done(error);
    };
    const timer = setTimeout(() => {
      finish(
        new TimeoutError(
          `could not connect to ${formatAddress(this.address)} within ${this.options.connectionTimeoutMs} ms; is the broker running and reachable?`,
        ),
      );
    }, this.options.connectionTimeoutMs);

    let socket: Socket;
    try {
      socket = this.options.socketFactory.open(this.address, () => {
        this.handshakeAndAuthenticate().then(
          () => {
            this.setState('ready');
            if (this.session !== undefined) this.log.info('authenticated', { mechanism: this.session.mechanism, username: this.session.username });
            this.log.info('connected');
            publishConnectionEvent(() => ({ event: 'open', broker: formatAddress(this.address), clientId: this.options.clientId }));
            finish();
          },
          (error: unknown) => finish(error instanceof RivvenError ? error : new ConnectionError(String(error))),
        );
      });
    } catch (error) {
      // A factory (or node:net, on arguments it refuses) that throws: one typed failure, no timer left.
      finish(
        error instanceof RivvenError
          ? error
          : new ConnectionError(`could not open a socket to ${formatAddress(this.address)}: ${(error as Error)?.message ?? String(error)}`, { cause: error }),
      );
      return () => undefined;
    }
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const classified = this.options.socketFactory.classifyError?.(error, socket, this.address);
      const wrapped = classified ?? new ConnectionError(
        `connection to ${formatAddress(this.address)} failed: ${error.code ?? ''} ${error.message}`.replace(/\s+/g, ' '),
        { cause: error },
      );
      if (!finished) finish(wrapped);
      else this.fail(wrapped);
    });
    socket.on('close', () => {
      if (this.state === 'closing' || this.state === 'closed') return;
      const error = new ConnectionError(
        finished
          ? `broker ${formatAddress(this.address)} closed the connection`
          : `broker ${formatAddress(this.address)} closed the connection before the handshake completed` +
            (this.options.socketFactory.encrypted ? '' : ' (if this port expects TLS, set the `tls` option)'),
      );
      if (!finished) finish(error);
      else this.fail(error);
    });
    return () => clearTimeout(timer);
  }

  /** The handshake rides the normal request path (pipelining rules apply from the first byte), then auth. */
  private async handshakeAndAuthenticate(): Promise<void> {
    const response = await this.exchange({ type: 'Handshake', protocolVersion: PROTOCOL_VERSION, clientId: this.options.clientId });
    if (response.type === 'HandshakeResult' && !response.compatible) {
      throw new IncompatibleBrokerError(response.serverVersion, PROTOCOL_VERSION, response.message);
    }
    // Like rivven-client: an Error here means a broker without handshake support (or one that
    // wants authentication first); carry on.
    if (response.type !== 'HandshakeResult' && response.type !== 'Error') {
      throw new ProtocolError(`broker answered Handshake with ${response.type}`);
    }
    await this.runAuthentication();
  }

  private notReadyError(): ConnectionError {
    return new ConnectionError(
      this.state === 'connecting'
        ? `connection to ${formatAddress(this.address)} is not ready yet`
        : `connection to ${formatAddress(this.address)} is ${this.state}; open a new one`,
    );
  }

  private nextCorrelationId(): number {
    // u32, wrapping; skip ids still in flight (after 4 billion requests on one connection).
    do {
      this.lastCorrelationId = this.lastCorrelationId >= 0xffff_ffff ? 1 : this.lastCorrelationId + 1;
    } while (this.pending.has(this.lastCorrelationId) || this.ackPings.has(this.lastCorrelationId));
    return this.lastCorrelationId;
  }

  /** Queue a request for the socket; returns how to cancel it (undefined if it failed at once). */
  private send(request: RequestInput, subscriber: Pending['subscriber'], bypassGate = false): (() => void) | undefined {
    if (this.gatedSends !== undefined && !bypassGate) {
      const held: NonNullable<Connection['gatedSends']>[number] = { request, subscriber, cancelled: false };
      this.gatedSends.push(held);
      this.statsChanged.next();
      return () => {
        held.cancelled = true;
        held.cancel?.();
      };
    }
    const id = this.nextCorrelationId();
    let frame: Buffer;
    try {
      frame = encodeRequestFrame(request, id);
    } catch (error) {
      subscriber.error(error);
      return undefined;
    }
    this.cancelled.delete(id);
    const trace = isTraced(requestChannel)
      ? new Trace(requestChannel, { requestType: request.type, broker: formatAddress(this.address), correlationId: id, bytesOut: frame.length })
      : undefined;
    this.pending.set(id, {
      subscriber: trace === undefined ? subscriber : tracedSubscriber(subscriber, trace),
      sentAt: performance.now(),
      type: request.type,
      trace,
    });
    this.counters.requestsSent++;
    this.counters.bytesOut += frame.length;
    this.writeQueue.push(frame);
    if (this.writeQueue.length >= this.options.maxWriteBatch) {
      this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      if (this.options.writeLingerUs > 0) {
        this.lingerTimer = setTimeout(() => this.flush(), Math.ceil(this.options.writeLingerUs / 1000));
      } else {
        process.nextTick(() => this.flush());
      }
    }
    this.statsChanged.next();
    return () => this.cancel(id);
  }

  /** One request/response on the auth path (bypasses the re-authentication gate). */
  private exchange(request: RequestInput): Promise<Response> {
    return new Promise((resolve, reject) => {
      this.send(request, { next: resolve, complete: () => undefined, error: reject }, true);
    });
  }

  private async runAuthentication(): Promise<void> {
    const auth = this.options.auth;
    if (auth === undefined) return;
    const session = await authenticate((r) => this.exchange(r), auth, this.options.socketFactory.encrypted === true);
    this.session = session;
    this.sessionExpiresAt = Date.now() + session.expiresInSeconds * 1000;
    this.scheduleReauthentication(session.expiresInSeconds);
    this.statsChanged.next();
  }

  private scheduleReauthentication(expiresInSeconds: number): void {
    if (this.reauthTimer !== undefined) clearTimeout(this.reauthTimer);
    if (!(expiresInSeconds > 0)) return;
    const delayMs = Math.max(500, expiresInSeconds * 1000 * this.options.reauthenticateAt);
    this.reauthTimer = setTimeout(() => void this.reauthenticate(), Math.min(delayMs, 0x7fff_ffff));
    // A session timer must never keep a process alive on its own.
    this.reauthTimer.unref();
  }

  /**
   * Renew the session on this connection. The broker handles one connection's requests in order
   * and refuses other requests mid-SCRAM, so new requests wait while in-flight ones finish, the
   * exchange runs alone, then the waiting requests go out. Nothing in flight fails.
   */
  private async reauthenticate(): Promise<void> {
    if (this.state !== 'ready') return;
    this.gatedSends = [];
    this.statsChanged.next();
    try {
      await this.waitForDrain(this.options.requestTimeoutMs || 30_000);
      if (this.state !== 'ready') return;
      await this.runAuthentication();
      this.reauthentications++;
    } catch (error) {
      this.fail(error instanceof RivvenError ? error : new ConnectionError(`re-authentication failed: ${String(error)}`));
    } finally {
      const held = this.gatedSends ?? [];
      this.gatedSends = undefined;
      for (const entry of held) {
        if (entry.cancelled) continue;
        if (this.state !== 'ready') {
          entry.subscriber.error(this.notReadyError());
          continue;
        }
        entry.cancel = this.send(entry.request, entry.subscriber);
      }
      this.statsChanged.next();
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.lingerTimer !== undefined) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    const socket = this.socket;
    const frames = this.writeQueue;
    this.writeQueue = [];
    if (!socket || socket.destroyed || frames.length === 0) return;
    this.counters.batchesWritten++;
    this.counters.framesWritten += frames.length;
    this.wroteSinceData = true;
    // Corked writes leave as one writev: one syscall for everything issued this tick, no copying.
    socket.cork();
    for (const frame of frames) socket.write(frame);
    socket.uncork();
  }

  private cancel(id: number): void {
    if (!this.pending.delete(id)) return;
    this.cancelled.add(id);
    if (this.cancelled.size > CANCELLED_MEMORY) {
      const oldest = this.cancelled.values().next().value;
      if (oldest !== undefined) this.cancelled.delete(oldest);
    }
    this.statsChanged.next();
    this.resolveDrainIfIdle();
  }

  private onData(chunk: Buffer): void {
    this.counters.bytesIn += chunk.length;
    if (this.framesReceived === 0 && this.decoder.buffered === 0 && looksLikeTlsRecord(chunk) && !this.options.socketFactory.encrypted) {
      this.fail(
        new TlsError(
          `${formatAddress(this.address)} answered with TLS: this port expects TLS connections; set the \`tls\` option (or use the broker's plaintext port)`,
          { tlsCode: 'TLS_EXPECTED' },
        ),
      );
      return;
    }
    let frames;
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      this.fail(error as RivvenError);
      return;
    }
    this.framesReceived += frames.length;
    this.scheduleQuickAck();
    if (frames.length === 0) return;
    // Frames are handled in order: while a large reply is decoded in slices, later ones wait.
    if (this.slicing) {
      for (const frame of frames) this.inbox.push(frame);
      return;
    }
    this.handleFrames(frames);
  }

  /** Decode and dispatch frames in order; stops (queuing the rest) when one needs sliced decoding. */
  private handleFrames(frames: readonly FrameBody[]): void {
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i]!;
      if (this.state === 'failed' || this.state === 'closed') return;
      if (this.ackPings.delete(frame.correlationId)) continue;
      if ((messagesRecordCount(frame.payload) ?? 0) > RECORDS_PER_SLICE) {
        for (let j = i + 1; j < frames.length; j++) this.inbox.push(frames[j]!);
        this.decodeInSlices(frame);
        return;
      }
      let response: Response;
      try {
        response = decodeResponse(frame.payload, this.responseLimits);
      } catch (error) {
        this.undecodable(frame.correlationId, error, frame.payload.length);
        return;
      }
      if (!this.dispatch(frame.correlationId, response, frame.payload.length)) return;
    }
  }

  /**
   * A reply with more than RECORDS_PER_SLICE records: decoded a slice per macrotask so no single
   * task holds the event loop for the whole reply (100,000 records take 50-150 ms in one go).
   * The socket is paused meanwhile (later frames wait in order; memory stays bounded).
   */
  private decodeInSlices(frame: FrameBody): void {
    let decoder: SlicedMessagesDecoder;
    try {
      decoder = new SlicedMessagesDecoder(frame.payload, this.responseLimits);
    } catch (error) {
      this.undecodable(frame.correlationId, error, frame.payload.length);
      return;
    }
    this.slicing = true;
    this.socket?.pause();
    const step = () => {
      if (this.finished()) {
        this.slicing = false;
        this.inbox = [];
        return;
      }
      let response: Response | undefined;
      try {
        response = decoder.step(RECORDS_PER_SLICE);
      } catch (error) {
        this.slicing = false;
        this.undecodable(frame.correlationId, error, frame.payload.length);
        return;
      }
      if (response === undefined) {
        setImmediate(step);
        return;
      }
      this.slicing = false;
      if (!this.dispatch(frame.correlationId, response, frame.payload.length)) return;
      const queued = this.inbox;
      this.inbox = [];
      this.handleFrames(queued);
      if (!this.slicing && !this.finished()) this.socket?.resume();
    };
    setImmediate(step);
  }

  /** Failed or closed: nothing more is read or dispatched. */
  private finished(): boolean {
    return this.state === 'failed' || this.state === 'closed';
  }

  private undecodable(correlationId: number, error: unknown, bytesIn: number): void {
    const trace = this.pending.get(correlationId)?.trace;
    if (trace !== undefined) trace.message.bytesIn = bytesIn;
    this.violation(
      correlationId,
      new ProtocolError(`undecodable reply from ${formatAddress(this.address)}: ${(error as Error).message}`, { cause: error }),
    );
  }

  /** Hand a decoded reply to its request. False if the connection failed on it (stop reading). */
  private dispatch(correlationId: number, response: Response, bytesIn: number): boolean {
    const entry = this.pending.get(correlationId);
    if (entry === undefined) {
      if (this.cancelled.delete(correlationId)) {
        this.responsesSubject.next({ correlationId, response });
        return true; // reply to a request the caller gave up on: dropped by design
      }
      // close() already failed what it stopped waiting for: a reply to one of those is late, not out of sync.
      if (this.state === 'closing') return true;
      this.fail(
        new ProtocolError(`reply with unknown correlation id ${correlationId} from ${formatAddress(this.address)}; the connection is out of sync`),
      );
      return false;
    }
    // Here, where the entry is in hand anyway: the frame loop does no extra lookup per reply.
    if (entry.trace !== undefined) entry.trace.message.bytesIn = bytesIn;
    const violation = responseViolation(entry.type, response);
    if (violation !== undefined) {
      this.violation(
        correlationId,
        new ProtocolError(
          `protocol violation by ${formatAddress(this.address)}: ${violation}; the connection is closed (a ResilientClient's pool replaces it and counts the failure against this broker)`,
        ),
      );
      return false;
    }
    this.pending.delete(correlationId);
    this.latencies.record(performance.now() - entry.sentAt);
    if (response.type === 'Error') {
      this.counters.requestsFailed++;
    } else {
      this.counters.requestsSucceeded++;
    }
    this.responsesSubject.next({ correlationId, response });
    entry.subscriber.next(response);
    entry.subscriber.complete();
    this.statsChanged.next();
    this.resolveDrainIfIdle();
    return true;
  }

  /**
   * After a chunk arrives: if a request still waits for its reply and, once this tick's own writes
   * are done, nothing was written since, send a Ping so the kernel ACKs now (see `quickAck`).
   */
  private scheduleQuickAck(): void {
    if (!this.options.quickAck || this.ackCheckScheduled) return;
    this.wroteSinceData = false;
    this.ackCheckScheduled = true;
    setImmediate(() => {
      this.ackCheckScheduled = false;
      const socket = this.socket;
      if (this.wroteSinceData || this.pending.size === 0 || this.ackPings.size >= 8) return;
      if (this.state !== 'ready' || this.gatedSends !== undefined || !socket || socket.destroyed) return;
      const id = this.nextCorrelationId();
      this.ackPings.add(id);
      socket.write(encodeRequestFrame({ type: 'Ping' }, id));
    });
  }

  private noteError(error: RivvenError): void {
    this.lastError = { code: error.code, message: error.message, at: Date.now() };
    this.statsChanged.next();
  }

  private failPending(error: RivvenError): void {
    const held = this.gatedSends;
    if (held !== undefined) {
      this.gatedSends = [];
      for (const entry of held) if (!entry.cancelled) entry.subscriber.error(error);
    }
    if (this.pending.size === 0) return;
    const entries = [...this.pending.values()];
    this.pending.clear();
    this.counters.requestsFailed += entries.length;
    this.noteError(error);
    for (const entry of entries) entry.subscriber.error(error);
  }

  /**
   * The peer broke the protocol in its reply to `correlationId`: that request fails with `error`,
   * the connection is closed, and everything else in flight fails with a (retriable)
   * ConnectionError — those requests did nothing wrong, and a fresh connection may serve them.
   */
  private violation(correlationId: number, error: ProtocolError): void {
    const entry = this.pending.get(correlationId);
    if (entry !== undefined) {
      this.pending.delete(correlationId);
      this.counters.requestsFailed++;
      this.noteError(error);
      entry.subscriber.error(error);
    }
    this.fail(entry === undefined ? error : new ConnectionError(`connection to ${formatAddress(this.address)} reset: ${error.message}`, { cause: error }));
  }

  /** The connection is unusable: fail everything in flight and release the socket. */
  private fail(error: RivvenError, logged = true): void {
    if (this.state === 'failed' || this.state === 'closed') return;
    // A connection that was up and broke (attempts that never connected are logged by open()).
    if (logged && this.state !== 'connecting') this.log.warn('connection lost', { errorCode: error.code, error: error.message });
    this.noteError(error);
    this.setState('failed');
    publishConnectionEvent(() => ({ event: 'fail', broker: formatAddress(this.address), clientId: this.options.clientId, error }));
    this.socket?.destroy();
    this.writeQueue = [];
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    if (this.reauthTimer !== undefined) clearTimeout(this.reauthTimer);
    this.failPending(error);
    this.resolveDrainIfIdle();
    this.complete();
  }

  private complete(): void {
    this.responsesSubject.complete();
    this.statsChanged.next();
    this.statsChanged.complete();
  }

  private setState(state: ConnectionState): void {
    if (this.stateSubject.value !== state) this.stateSubject.next(state);
    this.statsChanged.next();
  }

  private waitForDrain(maxMs: number): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, maxMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.drainWaiters.push(done);
    });
  }

  private resolveDrainIfIdle(): void {
    if (this.pending.size > 0 || this.drainWaiters.length === 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter();
  }

  private endSocket(): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => socket.destroy(), 1_000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end();
    });
  }
}

/** A request that is not an object with a `type`, or a bad per-request timeout: a ConfigError (not sent). */
function checkRequestArguments(request: unknown, options: unknown): ConfigError | undefined {
  if (typeof request !== 'object' || request === null || typeof (request as { type?: unknown }).type !== 'string') {
    return new ConfigError('request', `expected a request object with a \`type\` (e.g. { type: 'Ping' }), got ${describeValue(request)}`);
  }
  if (typeof options !== 'object' || options === null) return new ConfigError('options', `expected request options (an object), got ${describeValue(options)}`);
  const timeoutMs = (options as RequestOptions).timeoutMs;
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || timeoutMs > MAX_TIMER_MS)) {
    return new ConfigError('timeoutMs', `expected milliseconds in 0..${MAX_TIMER_MS} (0 = none), got ${describeValue(timeoutMs)}`);
  }
  return undefined;
}

/** A TLS record (alert 0x15 or handshake 0x16, version 3.x) where a Rivven frame was expected. */
function looksLikeTlsRecord(chunk: Buffer): boolean {
  return chunk.length >= 2 && (chunk[0] === 0x15 || chunk[0] === 0x16) && chunk[1] === 0x03;
}
