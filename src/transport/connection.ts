/**
 * One connection to a broker: a socket, and requests matched to replies by correlation id.
 * Requests are pipelined (many in flight at once); requests issued in the same tick leave in one
 * corked socket write. Every operation is a cold Observable: subscribing sends, the reply completes
 * it, unsubscribing before the reply frees the slot and the late reply is dropped silently. Facing
 * a broken or hostile peer: arguments are checked before anything opens (ConfigError); replies are
 * decoded against `responseLimits`; a reply of the wrong type or with an impossible value
 * (response-expectations.ts), an undecodable one, or a request that times out with half a reply
 * received closes the connection (a pool replaces it). This class owns the lifecycle (open, close,
 * fail) and the request path, and ties the rooms of transport/ together: sockets (TCP/TLS and
 * what their failures mean), session (handshake, (re-)authentication), correlation (requests in
 * flight, what a reply means), reply-reader (bytes to replies), request-writer (write coalescing,
 * quick-ACK pings), request-telemetry (counters, latencies, traces).
 */
import { BehaviorSubject, Observable, Subject, throwError, timeout } from 'rxjs';
import type { Socket } from 'node:net';
import { AuthenticationError, ConnectionError, RivvenError, RivvenTimeoutError } from '../errors.js';
import { resolveResponseLimits } from '../protocol/decode-limits.js';
import { encodeRequestFrame } from '../protocol/frame.js';
import type { RequestInput } from '../protocol/request-schema.js';
import type { Response } from '../protocol/response-schema.js';
import { publishConnectionEvent } from '../observability/channels.js';
import { createLog, type Log } from '../observability/log.js';
import { formatAddress, type BrokerAddress } from '../broker-address.js';
import { requestArgumentsError, validateAddress, validateConnectionOptions, withConnectionDefaults, type ResolvedConnectionOptions } from './connection-options.js';
import type { ConnectionOptions, ConnectionState, ConnectionStats, RequestOptions, RequestSubscriber, ResponseFrame } from './connection-types.js';
import { PendingRequests, ReplyDispatcher } from './correlation.js';
import { ReplyReader } from './reply-reader.js';
import { QuickAckPinger, WriteBatcher } from './request-writer.js';
import { RequestCounters, startRequestTrace, tracedSubscriber } from './request-telemetry.js';
import { ConnectionSession, validateAuthOptions } from './session.js';
import { closedBeforeHandshakeMessage, endSocket, notePlaintextPeer, openSocket, socketError, spokePlaintextBefore } from './sockets.js';

export class Connection {
  readonly address: BrokerAddress;
  private readonly options: ResolvedConnectionOptions;
  private readonly stateSubject = new BehaviorSubject<ConnectionState>('connecting');
  private readonly responsesSubject = new Subject<ResponseFrame>();
  private readonly statsChanged = new Subject<void>();
  private readonly pending: PendingRequests;
  private readonly quickAck: QuickAckPinger;
  private readonly writer: WriteBatcher;
  private readonly reader: ReplyReader;
  private readonly session: ConnectionSession;
  private readonly dispatcher: ReplyDispatcher;
  private readonly counters = new RequestCounters(() => this.statsChanged.next());
  private socket: Socket | undefined;
  private closePromise: Promise<void> | undefined;
  private readonly log: Log;

  /** connecting → ready → closing → closed, or → failed. */
  readonly state$: Observable<ConnectionState> = this.stateSubject.asObservable();
  /** Every frame the broker sends, decoded (including replies to cancelled requests). */
  readonly responses$: Observable<ResponseFrame> = this.responsesSubject.asObservable();
  /** Ticks whenever the stats change (health streams sample on it). */
  readonly statsChanged$: Observable<void> = this.statsChanged.asObservable();

  private constructor(address: BrokerAddress, options: ConnectionOptions) {
    this.address = address;
    this.options = withConnectionDefaults(options);
    this.log = createLog('connection', options.logger, options.logLevel, { broker: formatAddress(address), clientId: this.options.clientId });
    const socket = () => this.socket;
    this.pending = new PendingRequests((id) => this.quickAck.owns(id));
    this.dispatcher = new ReplyDispatcher(address, this.pending, this.counters, this.responsesSubject, {
      state: () => this.state,
      fail: (error) => this.fail(error),
      statsChanged: () => this.statsChanged.next(),
    });
    this.quickAck = new QuickAckPinger(this.options.quickAck, {
      socket,
      awaitingReply: () => this.pending.size > 0,
      mayPing: () => this.state === 'ready' && !this.session.holding,
      nextCorrelationId: () => this.pending.nextCorrelationId(),
    });
    this.writer = new WriteBatcher(socket, this.options.writeLingerUs, this.options.maxWriteBatch, () => this.quickAck.noteWrite());
    this.reader = new ReplyReader(
      { address, socketFactory: this.options.socketFactory, responseLimits: resolveResponseLimits(options.responseLimits) },
      {
        socket,
        finished: () => this.finished(),
        fail: (error) => this.fail(error),
        afterChunk: () => this.quickAck.afterChunk(),
        dropReply: (id) => this.quickAck.takeReply(id),
        dispatch: (id, response, bytesIn) => this.dispatcher.dispatch(id, response, bytesIn),
        undecodable: (id, error, bytesIn) => this.dispatcher.undecodable(id, error, bytesIn),
      },
    );
    this.session = new ConnectionSession(this.options, {
      state: () => this.state,
      exchange: (request) => this.exchange(request),
      send: (request, subscriber) => this.send(request, subscriber),
      waitForDrain: (maxMs) => this.pending.waitForDrain(maxMs),
      fail: (error) => this.fail(error),
      notReadyError: () => this.notReadyError(),
      statsChanged: () => this.statsChanged.next(),
    });
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
      requestsSent: this.counters.requestsSent,
      requestsSucceeded: this.counters.requestsSucceeded,
      requestsFailed: this.counters.requestsFailed,
      requestsTimedOut: this.counters.requestsTimedOut,
      bytesIn: this.reader.bytesIn,
      bytesOut: this.counters.bytesOut,
      batchesWritten: this.writer.batchesWritten,
      framesWritten: this.writer.framesWritten,
      inFlight: this.pending.size,
      latencyP50Ms: this.counters.latencyMs(0.5),
      latencyP99Ms: this.counters.latencyMs(0.99),
      lastError: this.counters.lastError,
      auth: this.session.stats(),
      waitingForAuth: this.session.waiting,
      transport: this.options.socketFactory.kind,
    };
  }

  /**
   * Send one request; the Observable emits the broker's reply and completes. Cold and cancellable.
   * Errors: ConnectionError (socket failed or closed), RivvenTimeoutError, ProtocolError (bad reply or a
   * request that cannot be encoded).
   */
  request$(request: RequestInput, options: RequestOptions = {}): Observable<Response> {
    const invalid = requestArgumentsError(request, options);
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
          const stuck = this.reader.stuckBytes;
          const error = new RivvenTimeoutError(
            stuck > 0
              ? `no reply to ${request.type} from ${formatAddress(this.address)} within ${timeoutMs} ms, and the connection is stuck ` +
                  `${stuck} bytes into a reply; the connection is closed (a ResilientClient's pool opens a new one)`
              : `no reply to ${request.type} from ${formatAddress(this.address)} within ${timeoutMs} ms; the broker may be overloaded or unreachable`,
          );
          this.counters.noteError(error);
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
    this.session.stop();
    this.closePromise = (async () => {
      await this.pending.waitForDrain(this.options.closeTimeoutMs);
      this.failPending(new ConnectionError(`connection to ${formatAddress(this.address)} closed before the reply arrived`));
      await endSocket(this.socket);
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
        new RivvenTimeoutError(
          `could not connect to ${formatAddress(this.address)} within ${this.options.connectionTimeoutMs} ms; is the broker running and reachable?`,
        ),
      );
    }, this.options.connectionTimeoutMs);

    let socket: Socket;
    /** When the TCP connection was established (Date.now()), for closedBeforeHandshakeMessage. */
    let connectedAt: number | undefined;
    try {
      socket = openSocket(this.options.socketFactory, this.address, () => {
        connectedAt = Date.now();
        this.session.handshakeAndAuthenticate().then(
          () => {
            if (!this.options.socketFactory.encrypted) notePlaintextPeer(formatAddress(this.address));
            this.setState('ready');
            const session = this.session.current;
            if (session !== undefined) this.log.info('authenticated', { mechanism: session.mechanism, username: session.username });
            this.log.info('connected');
            publishConnectionEvent(() => ({ event: 'open', broker: formatAddress(this.address), clientId: this.options.clientId }));
            finish();
          },
          (error: unknown) => finish(error instanceof RivvenError ? error : new ConnectionError(String(error))),
        );
      });
    } catch (error) {
      // A factory (or node:net, on arguments it refuses) that throws: one typed failure, no timer left.
      finish(error as RivvenError);
      return () => undefined;
    }
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.reader.onData(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const wrapped = socketError(this.options.socketFactory, error, socket, this.address);
      if (!finished) finish(wrapped);
      else this.fail(wrapped);
    });
    socket.on('close', () => {
      if (this.state === 'closing' || this.state === 'closed') return;
      const address = formatAddress(this.address);
      const error = new ConnectionError(
        finished
          ? `broker ${address} closed the connection`
          : closedBeforeHandshakeMessage(address, {
              encrypted: this.options.socketFactory.encrypted === true,
              bytesIn: this.reader.bytesIn,
              msSinceConnect: connectedAt === undefined ? undefined : Date.now() - connectedAt,
              spokePlaintextBefore: spokePlaintextBefore(address),
            }),
      );
      if (!finished) finish(error);
      else this.fail(error);
    });
    return () => clearTimeout(timer);
  }

  private notReadyError(): ConnectionError {
    return new ConnectionError(
      this.state === 'connecting'
        ? `connection to ${formatAddress(this.address)} is not ready yet`
        : `connection to ${formatAddress(this.address)} is ${this.state}; open a new one`,
    );
  }

  /** Queue a request for the socket; returns how to cancel it (undefined if it failed at once). */
  private send(request: RequestInput, subscriber: RequestSubscriber, bypassGate = false): (() => void) | undefined {
    if (!bypassGate) {
      const cancelHeld = this.session.hold(request, subscriber);
      if (cancelHeld !== undefined) return cancelHeld;
    }
    const id = this.pending.nextCorrelationId();
    let frame: Buffer;
    try {
      frame = encodeRequestFrame(request, id);
    } catch (error) {
      subscriber.error(error);
      return undefined;
    }
    const trace = startRequestTrace(request.type, this.address, id, frame.length);
    this.pending.add(id, {
      subscriber: trace === undefined ? subscriber : tracedSubscriber(subscriber, trace),
      sentAt: performance.now(),
      type: request.type,
      trace,
    });
    this.counters.sent(frame.length);
    this.writer.enqueue(frame);
    this.statsChanged.next();
    return () => this.cancel(id);
  }

  /** One request/response on the auth path (bypasses the re-authentication gate). */
  private exchange(request: RequestInput): Promise<Response> {
    return new Promise((resolve, reject) => {
      this.send(request, { next: resolve, complete: () => undefined, error: reject }, true);
    });
  }

  private cancel(id: number): void {
    if (!this.pending.cancel(id)) return;
    this.statsChanged.next();
    this.pending.resolveDrainIfIdle();
  }

  /** Failed or closed: nothing more is read or dispatched. */
  private finished(): boolean {
    return this.state === 'failed' || this.state === 'closed';
  }

  private failPending(error: RivvenError): void {
    this.session.failHeld(error);
    this.dispatcher.failAll(error);
  }

  /** The connection is unusable: fail everything in flight and release the socket. */
  private fail(error: RivvenError, logged = true): void {
    if (this.finished()) return;
    // A connection that was up and broke (attempts that never connected are logged by open()).
    if (logged && this.state !== 'connecting') this.log.warn('connection lost', { errorCode: error.code, error: error.message });
    this.counters.noteError(error);
    this.setState('failed');
    publishConnectionEvent(() => ({ event: 'fail', broker: formatAddress(this.address), clientId: this.options.clientId, error }));
    this.socket?.destroy();
    this.writer.discard();
    this.session.stop();
    this.failPending(error);
    this.pending.resolveDrainIfIdle();
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
}
