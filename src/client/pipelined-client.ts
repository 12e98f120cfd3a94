/**
 * `PipelinedClient`: many requests in flight over one connection, bounded by `maxInFlight`, with
 * write batching (`batchLingerUs`, `maxBatchSize`) — rivven-client's `PipelinedClient` and its
 * presets (`PipelinedClientPresets`), as Observables. Options: pipelined-options.ts.
 *
 * Past `maxInFlight`, requests wait in FIFO order (they are neither dropped nor failed) and are
 * sent as replies free slots; the wait shows in `health()`. A request's `requestTimeoutMs` starts
 * when it is sent, not while it waits for a slot. Unsubscribing from a waiting request removes it
 * from the queue; unsubscribing from a sent one frees its slot (the late reply is dropped).
 *
 * A connection that breaks (broker restarted, socket reset, protocol violation) is replaced on
 * demand: the requests in flight on it fail with the retriable ConnectionError they got (they may
 * have reached the broker, so they are not resent here), and the next requests — the ones waiting
 * for a slot included — wait for a new connection, each for at most its own timeout. The new one
 * goes to the first of `bootstrapServers` that answers, from the one that answered last
 * (server-rotation.ts), with the jittered backoff of `retry` between rounds. Nothing reconnects
 * while no request needs a connection, so an idle client holds no timer.
 */
import {
  BehaviorSubject,
  Observable,
  Subject,
  type Subscription,
  asyncScheduler,
  defer,
  finalize,
  map,
  merge,
  mergeMap,
  of,
  retry,
  share,
  take,
  tap,
  throttleTime,
  throwError,
  timeout,
  timer,
  type SchedulerLike,
} from 'rxjs';
import { ConnectionError, RivvenError, RivvenTimeoutError } from '../errors.js';
import type { RequestInput } from '../protocol/request-schema.js';
import type { Response } from '../protocol/response-schema.js';
import { formatAddress, type BrokerAddress } from '../broker-address.js';
import { requestArgumentsError } from '../transport/connection-options.js';
import type { Connection } from '../transport/connection.js';
import type { ConnectionOptions, ConnectionState, RequestOptions } from '../transport/connection-types.js';
import { Retrier } from './retrier.js';
import { connectToAny$, failWithTheServersOwnError } from './client.js';
import { BrokerOperations } from './broker-operations.js';
import { pipelinedHealth, type PipelineCounters, type PipelinedClientHealth, type RetiredTotals } from './pipelined-health.js';
import { InFlightLimiter } from './in-flight-limiter.js';
import {
  resolvePipelinedClientConfig,
  type PipelinedClientConnectionOptions,
  type PipelinedClientConfig,
  type ResolvedPipelinedClientConfig,
} from './pipelined-options.js';
import { ServerRotation } from './server-rotation.js';

/**
 * The typed broker operations over one connection with many requests in flight (at most `maxInFlight`;
 * the rest wait in order) and write batching; a broken connection is replaced when a request next
 * needs one. Create it with `PipelinedClient.connect$`.
 */
export class PipelinedClient extends BrokerOperations {
  private readonly limiter: InFlightLimiter;
  private readonly healthSubject: BehaviorSubject<PipelinedClientHealth>;
  private readonly healthSubscription: Subscription;
  private readonly stateSubject: BehaviorSubject<ConnectionState>;
  private readonly counters: PipelineCounters = { sent: 0, completed: 0, failed: 0, timedOut: 0, cancelled: 0, connectionsLost: 0, reconnects: 0, reconnectFailures: 0 };
  private readonly retired: RetiredTotals = { batchesWritten: 0, framesWritten: 0, bytesOut: 0, bytesIn: 0 };
  private readonly countersChanged = new Subject<void>();
  /** Fires once, on close(): requests still waiting for a connection fail, a reconnection stops. */
  private readonly closing = new Subject<void>();
  private readonly retrier: Retrier;
  /** The one reconnection in progress, shared by every request that waits for it. */
  private readonly reconnection$: Observable<Connection>;
  private connection: Connection;
  private connectionSubscription: Subscription | undefined;
  /** Whether the current connection answered a request (a connection that breaks before that does not reset the backoff). */
  private connectionProved = true;
  /** Consecutive rounds that found no working connection; the next one waits until `nextAttemptAt`. */
  private failures = 0;
  private nextAttemptAt = 0;
  private awaiting = 0;
  private connectError: PipelinedClientHealth['lastError'];
  private closePromise: Promise<void> | undefined;

  /** Live health: the current value, then changes at most every `healthIntervalMs`; completes on close. */
  readonly health$: Observable<PipelinedClientHealth>;
  /** The connection state (see `PipelinedClientHealth.state`); completes on close. */
  readonly state$: Observable<ConnectionState>;

  private constructor(
    connection: Connection,
    /** The options in force, defaults filled in. */
    readonly config: Readonly<ResolvedPipelinedClientConfig>,
    private readonly connectionOptions: ConnectionOptions,
    /** The servers, and which one answered last: shared by the first connection and every replacement. */
    private readonly rotation: ServerRotation,
    private readonly scheduler: SchedulerLike,
  ) {
    // The typed operations go the way request$ goes: through the in-flight limit.
    super({ send$: (request, options) => this.request$(request, options) });
    this.connection = connection;
    this.retrier = new Retrier(config.retry, scheduler);
    this.limiter = new InFlightLimiter(config.maxInFlight, scheduler);
    this.stateSubject = new BehaviorSubject<ConnectionState>(connection.state);
    this.state$ = this.stateSubject.asObservable();
    this.reconnection$ = defer(() => this.attemptConnection$()).pipe(
      // Retriable failures are retried (attemptConnection$ waits out the backoff) for as long as a
      // request waits, or `retry.maxAttempts` rounds in a row; each request bounds its own wait.
      // A non-retriable one (authentication, TLS, an incompatible broker) fails the waiting
      // requests at once.
      retry({
        delay: (error: unknown) =>
          // attemptConnection$ waits what scheduleNextAttempt owes; the retrier decides whether to go on.
          this.retrier.next(error, this.failures, { stopped: () => this.closePromise !== undefined }) !== undefined ? of(0) : throwError(() => error),
      }),
      finalize(() => {
        // The round ended without a connection (every waiting request timed out or left, or a
        // non-retriable failure): nothing is connecting now.
        if (this.closePromise === undefined && this.state === 'connecting' && this.connection.state !== 'ready') this.setState('failed');
      }),
      // One attempt for everyone; when the last waiting request gives up, the attempt stops.
      share({ resetOnError: true, resetOnComplete: true, resetOnRefCountZero: true }),
    );
    this.watch(connection);
    this.healthSubject = new BehaviorSubject(this.health());
    this.health$ = this.healthSubject.asObservable();
    const changes = merge(this.limiter.changed$, this.countersChanged);
    this.healthSubscription = (config.healthIntervalMs > 0
      ? changes.pipe(throttleTime(config.healthIntervalMs, scheduler, { leading: true, trailing: true }))
      : changes
    ).subscribe(() => this.healthSubject.next(this.health()));
  }

  /**
   * Connect (handshake, TLS and authentication as set) to the first of `bootstrapServers` that
   * answers — each once, in order — and emit a ready client; `retry` paces reconnecting later.
   * Cold. A bad option (an unknown key names the closest valid one) is a ConfigError at
   * subscription, before any socket or timer exists.
   *
   * `PipelinedClient.connect$({ ...PipelinedClientPresets.highThroughput, bootstrapServers: ['a:9092', 'b:9092'] })`
   */
  static connect$(options: PipelinedClientConfig): Observable<PipelinedClient>;
  /**
   * @deprecated Use `PipelinedClient.connect$({ bootstrapServers: address, ...options })`. One
   * server; the first connection fails with that server's own error (ConnectionError, …).
   */
  static connect$(address: string | BrokerAddress, options?: PipelinedClientConnectionOptions): Observable<PipelinedClient>;
  static connect$(first: PipelinedClientConfig | string | BrokerAddress, options?: PipelinedClientConnectionOptions): Observable<PipelinedClient> {
    return new Observable<PipelinedClient>((subscriber) => {
      let resolved: ReturnType<typeof resolvePipelinedClientConfig>;
      try {
        resolved = resolvePipelinedClientConfig(first, options);
      } catch (error) {
        subscriber.error(error);
        return;
      }
      const { config, connection, addressForm } = resolved;
      const scheduler = connection.scheduler ?? asyncScheduler;
      const connectionOptions: ConnectionOptions = { ...connection, scheduler };
      const rotation = new ServerRotation(config.bootstrapServers);
      let handedOver = false;
      return connectToAny$(rotation, connectionOptions)
        .pipe(
          addressForm ? failWithTheServersOwnError() : (source) => source,
          map(({ connection: opened }) => {
            handedOver = true;
            return new PipelinedClient(opened, config, connectionOptions, rotation, scheduler);
          }),
          finalize(() => {
            if (!handedOver) rotation.dispose();
          }),
        )
        .subscribe(subscriber);
    });
  }

  /** The server the current connection goes to. */
  get address(): BrokerAddress {
    return this.connection.address;
  }

  /** The current connection's state. */
  get state(): ConnectionState {
    return this.stateSubject.value;
  }

  /** Any request, through the in-flight limit; emits the raw reply (broker errors included, as values). */
  request$(request: RequestInput, options?: RequestOptions): Observable<Response> {
    const exchange$ = new Observable<Response>((subscriber) => {
      let finished = false;
      let sent: Subscription | undefined;
      const fail = (error: unknown) => {
        finished = true;
        this.counters.failed++;
        if (error instanceof RivvenTimeoutError) this.counters.timedOut++;
        this.countersChanged.next();
        subscriber.error(error);
      };
      const send = (connection: Connection, requestOptions: RequestOptions | undefined) => {
        this.counters.sent++;
        sent = connection.request$(request, requestOptions).subscribe({
          next: (response) => {
            finished = true;
            if (connection === this.connection) this.connectionProved = true;
            if (response.type === 'Error') this.counters.failed++;
            else this.counters.completed++;
            subscriber.next(response);
          },
          error: fail,
          complete: () => {
            this.countersChanged.next();
            subscriber.complete();
          },
        });
      };
      let waiting: Subscription | undefined;
      if (this.connection.state === 'ready') {
        send(this.connection, options);
      } else {
        const invalid = requestArgumentsError(request, options);
        if (invalid !== undefined) fail(invalid);
        else waiting = this.awaitConnection$(request, options).subscribe({ next: ({ connection, timeoutMs }) => send(connection, { ...options, timeoutMs }), error: fail });
      }
      return () => {
        waiting?.unsubscribe();
        sent?.unsubscribe();
        if (!finished) {
          this.counters.cancelled++;
          this.countersChanged.next();
        }
      };
    });
    return new Observable<Response>((subscriber) => {
      if (this.closePromise !== undefined) {
        subscriber.error(new ConnectionError('this PipelinedClient is closed; connect a new one'));
        return;
      }
      return this.limiter.run$(exchange$).subscribe(subscriber);
    });
  }

  /** The current health (the latest value of health$ may be up to one interval older). */
  health(): PipelinedClientHealth {
    return pipelinedHealth({
      state: this.state,
      address: formatAddress(this.connection.address),
      clientId: this.connectionOptions.clientId ?? 'rivven-rx',
      maxInFlight: this.config.maxInFlight,
      counters: this.counters,
      awaitingConnection: this.awaiting,
      limiter: this.limiter.stats(),
      connection: this.connection.stats(),
      retired: this.retired,
      connectError: this.connectError,
    });
  }

  /**
   * Refuse new requests, fail the ones still waiting for a slot or for a new connection (never
   * sent) with ConnectionError, stop reconnecting, give in-flight ones up to `closeTimeoutMs`
   * to finish, close the connection, complete `health$` and `state$`.
   */
  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.closePromise = (async () => {
      this.limiter.rejectQueued(new ConnectionError('this PipelinedClient closed before the request could be sent (it waited for an in-flight slot)'));
      this.closing.next();
      this.closing.complete();
      if (this.connection.state === 'ready') this.setState('closing');
      await this.connection.close();
      this.connectionSubscription?.unsubscribe();
      this.setState('closed');
      this.healthSubscription.unsubscribe();
      this.limiter.complete();
      this.rotation.dispose();
      this.healthSubject.next(this.health());
      this.healthSubject.complete();
      this.stateSubject.complete();
    })();
    return this.closePromise;
  }

  /** `await using`: calls `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // -------------------------------------------------------------------------------------------
  // Reconnection
  // -------------------------------------------------------------------------------------------

  /** Follow `connection`: its state becomes the client's, its stats changes tick `health$`. */
  private watch(connection: Connection): void {
    this.connectionSubscription?.unsubscribe();
    const subscription = connection.state$.subscribe((state) => {
      if (state === 'failed') this.connectionLost();
      // (During close() the client's own state leads: a failed connection still closes the client.)
      else if (this.closePromise === undefined) this.setState(state);
    });
    subscription.add(connection.statsChanged$.subscribe(() => this.countersChanged.next()));
    this.connectionSubscription = subscription;
  }

  private connectionLost(): void {
    if (this.closePromise !== undefined) return;
    this.counters.connectionsLost++;
    if (this.connectionProved) {
      // It worked: the first attempt to replace it is immediate.
      this.failures = 0;
      this.nextAttemptAt = 0;
    } else {
      // It broke before answering anything: back off, or a broker that accepts and drops
      // connections would be hammered at the rate of requests.
      this.scheduleNextAttempt();
    }
    this.setState('failed');
  }

  private scheduleNextAttempt(): void {
    this.nextAttemptAt = this.scheduler.now() + this.retrier.delay(this.failures);
    this.failures++;
  }

  /** One round over the servers for a replacement connection, after the backoff wait owed. */
  private attemptConnection$(): Observable<Connection> {
    const waitMs = Math.max(0, this.nextAttemptAt - this.scheduler.now());
    this.setState('connecting');
    const connect$ = connectToAny$(this.rotation, this.connectionOptions).pipe(map(({ connection }) => connection));
    return (waitMs > 0 ? timer(waitMs, this.scheduler).pipe(mergeMap(() => connect$)) : connect$).pipe(
      tap({
        next: (connection) => this.adopt(connection),
        error: (error: unknown) => {
          this.counters.reconnectFailures++;
          const e = error instanceof RivvenError ? error : new ConnectionError(String(error));
          this.connectError = { code: e.code, message: e.message, at: Date.now() };
          this.scheduleNextAttempt();
          this.countersChanged.next();
        },
      }),
    );
  }

  private adopt(connection: Connection): void {
    if (this.closePromise !== undefined) {
      void connection.close();
      return;
    }
    const old = this.connection.stats();
    this.retired.batchesWritten += old.batchesWritten;
    this.retired.framesWritten += old.framesWritten;
    this.retired.bytesOut += old.bytesOut;
    this.retired.bytesIn += old.bytesIn;
    this.connection = connection;
    this.connectionProved = false;
    this.counters.reconnects++;
    this.watch(connection);
    this.countersChanged.next();
  }

  /**
   * A ready connection for a request that found none, within the request's own timeout (counted
   * from now; what is left of it bounds the reply). RivvenTimeoutError if none opens in time — the
   * request was not sent; ConnectionError if the client closes meanwhile.
   */
  private awaitConnection$(request: RequestInput, options: RequestOptions | undefined): Observable<{ connection: Connection; timeoutMs: number }> {
    return defer(() => {
      const budgetMs = options?.timeoutMs ?? this.config.requestTimeoutMs;
      const startedAt = this.scheduler.now();
      const closed$ = this.closing.pipe(
        mergeMap(() => throwError(() => new ConnectionError('this PipelinedClient closed before the request could be sent (it waited for a new connection)'))),
      );
      let ready$ = merge(this.reconnection$, closed$).pipe(take(1));
      if (budgetMs > 0) {
        ready$ = ready$.pipe(
          timeout({
            first: budgetMs,
            scheduler: this.scheduler,
            with: () =>
              throwError(
                () =>
                  new RivvenTimeoutError(
                    `no connection to ${this.config.bootstrapServers.join(', ')} within ${budgetMs} ms for ${request.type} ` +
                      `(it was not sent; ${this.counters.reconnectFailures} reconnection attempts failed so far` +
                      `${this.connectError ? `, the last: ${this.connectError.message}` : ''}); is the broker running?`,
                  ),
              ),
          }),
        );
      }
      this.awaiting++;
      this.countersChanged.next();
      return ready$.pipe(
        map((connection) => ({ connection, timeoutMs: budgetMs > 0 ? Math.max(1, budgetMs - (this.scheduler.now() - startedAt)) : 0 })),
        finalize(() => {
          this.awaiting--;
          this.countersChanged.next();
        }),
      );
    });
  }

  private setState(state: ConnectionState): void {
    if (this.stateSubject.value !== state) this.stateSubject.next(state);
    this.countersChanged.next();
  }
}
