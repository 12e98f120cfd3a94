/**
 * `PipelinedClient`: many requests in flight over one connection, bounded by `maxInFlight`, with
 * write batching (`batchLingerUs`, `maxBatchSize`) — rivven-client's `PipelinedClient` and its
 * `PipelineConfig` presets, as Observables.
 *
 * Past `maxInFlight`, requests wait in FIFO order (they are neither dropped nor failed) and are
 * sent as replies free slots; the wait shows in `stats()`. A request's `requestTimeout` starts when
 * it is sent, not while it waits for a slot. Unsubscribing from a waiting request removes it from
 * the queue; unsubscribing from a sent one frees its slot (the late reply is dropped).
 *
 * A connection that breaks (broker restarted, socket reset, protocol violation) is replaced on
 * demand: the requests in flight on it fail with the retriable ConnectionError they got (they may
 * have reached the broker, so they are not resent here), and the next requests — the ones waiting
 * for a slot included — wait for a new connection to the same address, opened with jittered
 * exponential backoff (backoff.ts), each for at most its own timeout. Nothing reconnects while no
 * request needs a connection, so an idle client holds no timer.
 */
import {
  BehaviorSubject,
  Observable,
  Subject,
  Subscription,
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
import { ConfigError, ConnectionError, RivvenError, TimeoutError } from '../errors.js';
import type { RequestInput } from '../protocol/request-schema.js';
import type { Response } from '../protocol/response-schema.js';
import { formatAddress, type BrokerAddress } from '../transport/address.js';
import { describeValue, rejectUnknownOptionKeys, validateAddress, validateConnectionOptions } from '../transport/connection-options.js';
import { Connection, type ConnectionOptions, type ConnectionState, type RequestOptions } from '../transport/connection.js';
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import { BrokerOperations } from './operations.js';
import { MAX_TIMER_MS } from '../settings-validation.js';

export interface PipelineOptions {
  /** Most requests awaiting a reply at once; more wait in order. Default 100. */
  maxInFlight?: number;
  /** How long a request may wait for others to share its socket write, µs (0 = same tick only). Default 1000. */
  batchLingerUs?: number;
  /** Write as soon as this many requests are waiting to be written. Default 64. */
  maxBatchSize?: number;
  /** Time to wait for a reply once sent, ms (0 = none). Default 30,000. */
  requestTimeout?: number;
  /** How long `close()` waits for in-flight replies, ms. Default 5,000. */
  closeTimeout?: number;
  /** `stats$` emits on change, at most once per this many ms. Default 1,000. */
  statsInterval?: number;
  /** First wait before reconnecting again after a failed attempt, ms (jittered ±25 %, doubling). Default 100. */
  reconnectInitialDelay?: number;
  /** Cap on the wait between reconnection attempts, ms. Default 5,000. */
  reconnectMaxDelay?: number;
  /**
   * Options for the connection: clientId, connectionTimeoutMs, socketFactory, TLS, auth, … The
   * pipeline options above take the place of its request/close timeouts and write batching.
   */
  connection?: ConnectionOptions;
  /** Scheduler for timeouts and stats throttling (virtual time in tests). Default asyncScheduler. */
  scheduler?: SchedulerLike;
}

const PIPELINE_OPTION_KEYS = [
  'maxInFlight',
  'batchLingerUs',
  'maxBatchSize',
  'requestTimeout',
  'closeTimeout',
  'statsInterval',
  'reconnectInitialDelay',
  'reconnectMaxDelay',
  'connection',
  'scheduler',
] as const satisfies readonly (keyof PipelineOptions)[];

export interface ResolvedPipelineConfig {
  maxInFlight: number;
  batchLingerUs: number;
  maxBatchSize: number;
  requestTimeout: number;
  closeTimeout: number;
  statsInterval: number;
  reconnectInitialDelay: number;
  reconnectMaxDelay: number;
}

const DEFAULT_PIPELINE: ResolvedPipelineConfig = {
  maxInFlight: 100,
  batchLingerUs: 1000,
  maxBatchSize: 64,
  requestTimeout: 30_000,
  closeTimeout: 5_000,
  statsInterval: 1_000,
  reconnectInitialDelay: 100,
  reconnectMaxDelay: 5_000,
};

/** rivven-client's `PipelineConfig` presets. Each takes overrides: `PipelineConfig.lowLatency({ connection })`. */
export const PipelineConfig = {
  /** 100 in flight, 1000 µs linger, batches of 64, 30 s timeout, 5 s close. */
  defaults(overrides: PipelineOptions = {}): PipelineOptions {
    return { ...DEFAULT_PIPELINE, ...overrides };
  },
  /** 1000 in flight, 5000 µs linger, batches of 256, 60 s timeout, 10 s close. */
  highThroughput(overrides: PipelineOptions = {}): PipelineOptions {
    return { ...DEFAULT_PIPELINE, maxInFlight: 1000, batchLingerUs: 5000, maxBatchSize: 256, requestTimeout: 60_000, closeTimeout: 10_000, ...overrides };
  },
  /** 32 in flight, no linger, one request per write, 10 s timeout, 3 s close. */
  lowLatency(overrides: PipelineOptions = {}): PipelineOptions {
    return { ...DEFAULT_PIPELINE, maxInFlight: 32, batchLingerUs: 0, maxBatchSize: 1, requestTimeout: 10_000, closeTimeout: 3_000, ...overrides };
  },
} as const;

function checkInteger(option: string, value: number, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(option, `expected an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

/** Apply defaults and validate; ConfigError names the first bad option. */
export function resolvePipelineConfig(options: PipelineOptions = {}): ResolvedPipelineConfig {
  const d = DEFAULT_PIPELINE;
  const resolved: ResolvedPipelineConfig = {
    maxInFlight: checkInteger('maxInFlight', options.maxInFlight ?? d.maxInFlight, 1, 1_000_000),
    batchLingerUs: checkInteger('batchLingerUs', options.batchLingerUs ?? d.batchLingerUs, 0, 10_000_000),
    maxBatchSize: checkInteger('maxBatchSize', options.maxBatchSize ?? d.maxBatchSize, 1, 1_000_000),
    requestTimeout: checkInteger('requestTimeout', options.requestTimeout ?? d.requestTimeout, 0, MAX_TIMER_MS),
    closeTimeout: checkInteger('closeTimeout', options.closeTimeout ?? d.closeTimeout, 0, MAX_TIMER_MS),
    statsInterval: checkInteger('statsInterval', options.statsInterval ?? d.statsInterval, 0, MAX_TIMER_MS),
    reconnectInitialDelay: checkInteger('reconnectInitialDelay', options.reconnectInitialDelay ?? d.reconnectInitialDelay, 0, MAX_TIMER_MS),
    reconnectMaxDelay: checkInteger('reconnectMaxDelay', options.reconnectMaxDelay ?? d.reconnectMaxDelay, 0, MAX_TIMER_MS),
  };
  if (resolved.reconnectMaxDelay < resolved.reconnectInitialDelay) {
    throw new ConfigError(
      'reconnectMaxDelay',
      `must be ≥ reconnectInitialDelay (${resolved.reconnectInitialDelay} ms), got ${resolved.reconnectMaxDelay} ms`,
    );
  }
  return resolved;
}

// ---------------------------------------------------------------------------------------------
// In-flight limiter
// ---------------------------------------------------------------------------------------------

export interface LimiterStats {
  /** Running now. */
  active: number;
  /** Waiting for a slot. */
  queued: number;
  peakActive: number;
  peakQueued: number;
  /** Requests that had to wait for a slot, and their total / longest wait (scheduler ms). */
  waited: number;
  totalWaitMs: number;
  maxWaitMs: number;
}

interface QueuedRun {
  start(): void;
  fail(error: unknown): void;
  enqueuedAt: number;
  cancelled: boolean;
}

/**
 * Runs at most `limit` Observables at once; the rest wait in FIFO order and start as earlier ones
 * finish (complete, error or unsubscribe). Scheduler-agnostic except for the wait clock.
 */
export class InFlightLimiter {
  private active = 0;
  private queue: QueuedRun[] = [];
  private head = 0;
  private draining = false;
  private waiting = 0;
  private readonly counters = { peakActive: 0, peakQueued: 0, waited: 0, totalWaitMs: 0, maxWaitMs: 0 };
  private readonly changedSubject = new Subject<void>();
  /** Ticks when active/queued change. */
  readonly changed$: Observable<void> = this.changedSubject.asObservable();

  constructor(
    readonly limit: number,
    private readonly scheduler: SchedulerLike = asyncScheduler,
  ) {}

  /** Waiting for a slot now. */
  get queued(): number {
    return this.waiting;
  }

  stats(): LimiterStats {
    return { active: this.active, queued: this.queued, ...this.counters };
  }

  /** `source`, started once a slot is free. */
  run$<T>(source: Observable<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      let inner: Subscription | undefined;
      let holding = false;
      let entry: QueuedRun | undefined;
      const release = () => {
        if (!holding) return;
        holding = false;
        this.active--;
        this.changedSubject.next();
        this.drain();
      };
      const start = () => {
        holding = true;
        this.active++;
        if (this.active > this.counters.peakActive) this.counters.peakActive = this.active;
        this.changedSubject.next();
        inner = source.subscribe({
          next: (value) => subscriber.next(value),
          error: (error) => {
            release();
            subscriber.error(error);
          },
          complete: () => {
            release();
            subscriber.complete();
          },
        });
      };
      if (this.active < this.limit && this.waiting === 0) {
        start();
      } else {
        entry = {
          enqueuedAt: this.scheduler.now(),
          cancelled: false,
          start: () => {
            const waitMs = this.scheduler.now() - entry!.enqueuedAt;
            this.counters.waited++;
            this.counters.totalWaitMs += waitMs;
            if (waitMs > this.counters.maxWaitMs) this.counters.maxWaitMs = waitMs;
            entry = undefined;
            start();
          },
          fail: (error) => {
            entry = undefined;
            subscriber.error(error);
          },
        };
        this.queue.push(entry);
        this.waiting++;
        if (this.waiting > this.counters.peakQueued) this.counters.peakQueued = this.waiting;
        this.changedSubject.next();
      }
      return () => {
        if (entry !== undefined) {
          entry.cancelled = true;
          entry = undefined;
          this.waiting--;
          this.changedSubject.next();
        }
        inner?.unsubscribe();
        release();
      };
    });
  }

  /** Fail everything still waiting (it never started) with `error`. */
  rejectQueued(error: unknown): void {
    const waiting = this.queue.slice(this.head).filter((e) => !e.cancelled);
    this.queue = [];
    this.head = 0;
    this.waiting = 0;
    for (const entry of waiting) {
      entry.cancelled = true;
      entry.fail(error);
    }
    this.changedSubject.next();
  }

  complete(): void {
    this.changedSubject.complete();
  }

  /** Start waiting runs while slots are free; a loop, not recursion, so long queues can't overflow the stack. */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.active < this.limit && this.head < this.queue.length) {
        const next = this.queue[this.head]!;
        this.queue[this.head] = undefined as unknown as QueuedRun;
        this.head++;
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        if (!next.cancelled) {
          next.cancelled = true; // taken: a later unsubscribe must not count it as waiting
          this.waiting--;
          next.start();
        }
      }
    } finally {
      this.draining = false;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// PipelinedClient
// ---------------------------------------------------------------------------------------------

export interface PipelineStats {
  /**
   * The connection's state: `ready`; `failed` once it broke and no request needs it yet;
   * `connecting` while a new one is being opened (backoff waits included); `closing`/`closed`.
   */
  state: ConnectionState;
  /** Requests handed to the connection (sent or being written). */
  requestsSent: number;
  /** Answered with anything but a broker error. */
  requestsCompleted: number;
  /** Failed: broker error replies, connection failures, timeouts. */
  requestsFailed: number;
  /** Of the failed, those that timed out. */
  requestsTimedOut: number;
  /** Given up by the caller (unsubscribed) before a reply. */
  requestsCancelled: number;
  /** Holding an in-flight slot now (≤ maxInFlight): awaiting a reply, or a new connection. */
  inFlight: number;
  /** Of those in flight, the ones waiting for a new connection (not sent yet). */
  awaitingConnection: number;
  /** Waiting for an in-flight slot now. */
  queued: number;
  maxInFlight: number;
  peakInFlight: number;
  peakQueued: number;
  /** Requests that had to wait for a slot, and how long on average / at most (ms). */
  requestsWaited: number;
  averageQueueWaitMs: number;
  maxQueueWaitMs: number;
  /** completed / (completed + failed); 1 before anything finished. */
  successRate: number;
  /** Connections that broke under this client. */
  connectionsLost: number;
  /** New connections opened to replace a broken one. */
  reconnects: number;
  /** Attempts to open a replacement that failed (each followed by a backoff wait). */
  reconnectFailures: number;
  /** The latest connection or request failure (code, message, epoch ms); never a secret. */
  lastError: { code: string; message: string; at: number } | undefined;
  /** Socket writes, the requests they carried, and requests per write (all connections). */
  batchesWritten: number;
  framesWritten: number;
  averageBatchSize: number;
  bytesOut: number;
  bytesIn: number;
  /** Reply latency on the current connection. */
  latencyP50Ms: number | undefined;
  latencyP99Ms: number | undefined;
}

/** Totals of the connections this client replaced (their counters end with them). */
interface RetiredTotals {
  batchesWritten: number;
  framesWritten: number;
  bytesOut: number;
  bytesIn: number;
}

function isRetriable(error: unknown): boolean {
  return error instanceof RivvenError && error.retriable;
}

/** The argument checks Connection.request$ makes, made before a request waits for a connection. */
function invalidRequestArguments(request: unknown, options: unknown): ConfigError | undefined {
  if (typeof request !== 'object' || request === null || typeof (request as { type?: unknown }).type !== 'string') {
    return new ConfigError('request', `expected a request object with a \`type\` (e.g. { type: 'Ping' }), got ${describeValue(request)}`);
  }
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) return new ConfigError('options', `expected request options (an object), got ${describeValue(options)}`);
  const timeoutMs = (options as RequestOptions).timeoutMs;
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || timeoutMs > 2_147_483_647)) {
    return new ConfigError('timeoutMs', `expected milliseconds in 0..2147483647 (0 = none), got ${describeValue(timeoutMs)}`);
  }
  return undefined;
}

export class PipelinedClient extends BrokerOperations {
  private readonly limiter: InFlightLimiter;
  private readonly statsSubject: BehaviorSubject<PipelineStats>;
  private readonly statsSubscription: Subscription;
  private readonly stateSubject: BehaviorSubject<ConnectionState>;
  private readonly counters = { sent: 0, completed: 0, failed: 0, timedOut: 0, cancelled: 0, connectionsLost: 0, reconnects: 0, reconnectFailures: 0 };
  private readonly retired: RetiredTotals = { batchesWritten: 0, framesWritten: 0, bytesOut: 0, bytesIn: 0 };
  private readonly countersChanged = new Subject<void>();
  /** Fires once, on close(): requests still waiting for a connection fail, a reconnection stops. */
  private readonly closing = new Subject<void>();
  private readonly backoff: BackoffPolicy;
  /** The one reconnection in progress, shared by every request that waits for it. */
  private readonly reconnection$: Observable<Connection>;
  private connection: Connection;
  private connectionSubscription: Subscription | undefined;
  /** Whether the current connection answered a request (a connection that breaks before that does not reset the backoff). */
  private connectionProved = true;
  /** Consecutive failures to get a working connection; the next attempt waits until `nextAttemptAt`. */
  private failures = 0;
  private nextAttemptAt = 0;
  private awaiting = 0;
  private connectError: PipelineStats['lastError'];
  private closePromise: Promise<void> | undefined;

  /** Live stats: the current value, then changes at most every `statsInterval`; completes on close. */
  readonly stats$: Observable<PipelineStats>;
  /** The same as `stats$` (every component has a `health$`). */
  readonly health$: Observable<PipelineStats>;
  /** The connection state (see `PipelineStats.state`); completes on close. */
  readonly state$: Observable<ConnectionState>;

  private constructor(
    connection: Connection,
    readonly config: Readonly<ResolvedPipelineConfig>,
    private readonly connectionOptions: ConnectionOptions,
    private readonly scheduler: SchedulerLike,
  ) {
    super();
    this.connection = connection;
    this.backoff = { initialDelay: config.reconnectInitialDelay, maxDelay: config.reconnectMaxDelay, multiplier: 2, jitter: 0.25 };
    this.limiter = new InFlightLimiter(config.maxInFlight, scheduler);
    this.stateSubject = new BehaviorSubject<ConnectionState>(connection.state);
    this.state$ = this.stateSubject.asObservable();
    this.reconnection$ = defer(() => this.attemptConnection$()).pipe(
      // Retriable failures are retried (attemptConnection$ waits out the backoff) for as long as a
      // request waits; each request bounds its own wait. A non-retriable one (authentication,
      // TLS, an incompatible broker) fails the waiting requests at once.
      retry({ delay: (error: unknown) => (isRetriable(error) && this.closePromise === undefined ? of(0) : throwError(() => error)) }),
      finalize(() => {
        // The round ended without a connection (every waiting request timed out or left, or a
        // non-retriable failure): nothing is connecting now.
        if (this.closePromise === undefined && this.state === 'connecting' && this.connection.state !== 'ready') this.setState('failed');
      }),
      // One attempt for everyone; when the last waiting request gives up, the attempt stops.
      share({ resetOnError: true, resetOnComplete: true, resetOnRefCountZero: true }),
    );
    this.watch(connection);
    this.statsSubject = new BehaviorSubject(this.stats());
    this.stats$ = this.statsSubject.asObservable();
    this.health$ = this.stats$;
    const changes = merge(this.limiter.changed$, this.countersChanged);
    this.statsSubscription = (config.statsInterval > 0
      ? changes.pipe(throttleTime(config.statsInterval, scheduler, { leading: true, trailing: true }))
      : changes
    ).subscribe(() => this.statsSubject.next(this.stats()));
  }

  /**
   * Connect (handshake, and auth/TLS per `connection`) and emit a ready client. Cold. A bad
   * address or option is a ConfigError at subscription, before any socket or timer exists.
   */
  static connect$(address: string | BrokerAddress, options: PipelineOptions = {}): Observable<PipelinedClient> {
    return new Observable<PipelinedClient>((subscriber) => {
      let config: ResolvedPipelineConfig;
      let connectionOptions: ConnectionOptions;
      let scheduler: SchedulerLike;
      try {
        validateAddress(address);
        if (typeof options !== 'object' || options === null || Array.isArray(options)) {
          throw new ConfigError('options', `PipelinedClient expects an options object, got ${describeValue(options)}`);
        }
        rejectUnknownOptionKeys('PipelinedClient', options, PIPELINE_OPTION_KEYS);
        config = resolvePipelineConfig(options);
        validateConnectionOptions(options.connection, 'PipelinedClient connection');
        scheduler = options.scheduler ?? options.connection?.scheduler ?? asyncScheduler;
        connectionOptions = {
          ...options.connection,
          requestTimeoutMs: config.requestTimeout,
          closeTimeoutMs: config.closeTimeout,
          writeLingerUs: config.batchLingerUs,
          maxWriteBatch: config.maxBatchSize,
          scheduler,
        };
      } catch (error) {
        subscriber.error(error);
        return;
      }
      return Connection.connect$(address, connectionOptions)
        .pipe(map((connection) => new PipelinedClient(connection, config, connectionOptions, scheduler)))
        .subscribe(subscriber);
    });
  }

  get address(): BrokerAddress {
    return this.connection.address;
  }

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
        if (error instanceof TimeoutError) this.counters.timedOut++;
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
        const invalid = invalidRequestArguments(request, options);
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

  stats(): PipelineStats {
    const c = this.connection.stats();
    const l = this.limiter.stats();
    const r = this.retired;
    const finished = this.counters.completed + this.counters.failed;
    const batchesWritten = r.batchesWritten + c.batchesWritten;
    const framesWritten = r.framesWritten + c.framesWritten;
    const lastError = this.connectError !== undefined && (c.lastError === undefined || this.connectError.at >= c.lastError.at) ? this.connectError : c.lastError;
    return {
      state: this.state,
      requestsSent: this.counters.sent,
      requestsCompleted: this.counters.completed,
      requestsFailed: this.counters.failed,
      requestsTimedOut: this.counters.timedOut,
      requestsCancelled: this.counters.cancelled,
      inFlight: l.active,
      awaitingConnection: this.awaiting,
      queued: l.queued,
      maxInFlight: this.config.maxInFlight,
      peakInFlight: l.peakActive,
      peakQueued: l.peakQueued,
      requestsWaited: l.waited,
      averageQueueWaitMs: l.waited === 0 ? 0 : l.totalWaitMs / l.waited,
      maxQueueWaitMs: l.maxWaitMs,
      successRate: finished === 0 ? 1 : this.counters.completed / finished,
      connectionsLost: this.counters.connectionsLost,
      reconnects: this.counters.reconnects,
      reconnectFailures: this.counters.reconnectFailures,
      lastError,
      batchesWritten,
      framesWritten,
      averageBatchSize: batchesWritten === 0 ? 0 : framesWritten / batchesWritten,
      bytesOut: r.bytesOut + c.bytesOut,
      bytesIn: r.bytesIn + c.bytesIn,
      latencyP50Ms: c.latencyP50Ms,
      latencyP99Ms: c.latencyP99Ms,
    };
  }

  /**
   * Refuse new requests, fail the ones still waiting for a slot or for a new connection (never
   * sent) with ConnectionError, stop reconnecting, give in-flight ones up to `closeTimeout` to
   * finish, close the connection, complete `stats$` and `state$`.
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
      this.statsSubscription.unsubscribe();
      this.limiter.complete();
      this.statsSubject.next(this.stats());
      this.statsSubject.complete();
      this.stateSubject.complete();
    })();
    return this.closePromise;
  }

  protected send$(request: RequestInput, options?: RequestOptions): Observable<Response> {
    return this.request$(request, options);
  }

  // -------------------------------------------------------------------------------------------
  // Reconnection
  // -------------------------------------------------------------------------------------------

  /** Follow `connection`: its state becomes the client's, its stats changes tick `stats$`. */
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
    this.nextAttemptAt = this.scheduler.now() + backoffDelay(this.failures, this.backoff);
    this.failures++;
  }

  /** One attempt to open a replacement connection, after the backoff wait owed. */
  private attemptConnection$(): Observable<Connection> {
    const waitMs = Math.max(0, this.nextAttemptAt - this.scheduler.now());
    this.setState('connecting');
    const connect$ = Connection.connect$(this.connection.address, this.connectionOptions);
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
   * from now; what is left of it bounds the reply). TimeoutError if none opens in time — the
   * request was not sent; ConnectionError if the client closes meanwhile.
   */
  private awaitConnection$(request: RequestInput, options: RequestOptions | undefined): Observable<{ connection: Connection; timeoutMs: number }> {
    return defer(() => {
      const budgetMs = options?.timeoutMs ?? this.config.requestTimeout;
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
                  new TimeoutError(
                    `no connection to ${formatAddress(this.connection.address)} within ${budgetMs} ms for ${request.type} ` +
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
