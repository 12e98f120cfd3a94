/**
 * `PipelinedClient`: many requests in flight over one connection, bounded by `maxInFlight`, with
 * write batching (`batchLingerUs`, `maxBatchSize`) — rivven-client's `PipelinedClient` and its
 * `PipelineConfig` presets, as Observables.
 *
 * Past `maxInFlight`, requests wait in FIFO order (they are neither dropped nor failed) and are
 * sent as replies free slots; the wait shows in `stats()`. A request's `requestTimeout` starts when
 * it is sent, not while it waits for a slot. Unsubscribing from a waiting request removes it from
 * the queue; unsubscribing from a sent one frees its slot (the late reply is dropped).
 */
import { BehaviorSubject, Observable, Subject, Subscription, asyncScheduler, map, merge, throttleTime, type SchedulerLike } from 'rxjs';
import { ConfigError, ConnectionError, TimeoutError } from '../errors.js';
import type { RequestInput } from '../protocol/request-schema.js';
import type { Response } from '../protocol/response-schema.js';
import type { BrokerAddress } from '../transport/address.js';
import { describeValue, rejectUnknownOptionKeys, validateAddress, validateConnectionOptions } from '../transport/connection-options.js';
import { Connection, type ConnectionOptions, type ConnectionState, type RequestOptions } from '../transport/connection.js';
import { BrokerOperations } from './operations.js';

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
}

const DEFAULT_PIPELINE: ResolvedPipelineConfig = {
  maxInFlight: 100,
  batchLingerUs: 1000,
  maxBatchSize: 64,
  requestTimeout: 30_000,
  closeTimeout: 5_000,
  statsInterval: 1_000,
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
  return {
    maxInFlight: checkInteger('maxInFlight', options.maxInFlight ?? d.maxInFlight, 1, 1_000_000),
    batchLingerUs: checkInteger('batchLingerUs', options.batchLingerUs ?? d.batchLingerUs, 0, 10_000_000),
    maxBatchSize: checkInteger('maxBatchSize', options.maxBatchSize ?? d.maxBatchSize, 1, 1_000_000),
    requestTimeout: checkInteger('requestTimeout', options.requestTimeout ?? d.requestTimeout, 0, 2_147_483_647),
    closeTimeout: checkInteger('closeTimeout', options.closeTimeout ?? d.closeTimeout, 0, 2_147_483_647),
    statsInterval: checkInteger('statsInterval', options.statsInterval ?? d.statsInterval, 0, 2_147_483_647),
  };
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
  /** Awaiting a reply now (≤ maxInFlight). */
  inFlight: number;
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
  /** Socket writes, the requests they carried, and requests per write. */
  batchesWritten: number;
  framesWritten: number;
  averageBatchSize: number;
  bytesOut: number;
  bytesIn: number;
  latencyP50Ms: number | undefined;
  latencyP99Ms: number | undefined;
}

export class PipelinedClient extends BrokerOperations {
  private readonly limiter: InFlightLimiter;
  private readonly statsSubject: BehaviorSubject<PipelineStats>;
  private readonly statsSubscription: Subscription;
  private readonly counters = { sent: 0, completed: 0, failed: 0, timedOut: 0, cancelled: 0 };
  private readonly countersChanged = new Subject<void>();
  private closePromise: Promise<void> | undefined;

  /** Live stats: the current value, then changes at most every `statsInterval`; completes on close. */
  readonly stats$: Observable<PipelineStats>;
  readonly state$: Observable<ConnectionState>;

  private constructor(
    private readonly connection: Connection,
    readonly config: Readonly<ResolvedPipelineConfig>,
    scheduler: SchedulerLike,
  ) {
    super();
    this.limiter = new InFlightLimiter(config.maxInFlight, scheduler);
    this.state$ = connection.state$;
    this.statsSubject = new BehaviorSubject(this.stats());
    this.stats$ = this.statsSubject.asObservable();
    const changes = merge(connection.statsChanged$, this.limiter.changed$, this.countersChanged);
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
        .pipe(map((connection) => new PipelinedClient(connection, config, scheduler)))
        .subscribe(subscriber);
    });
  }

  get address(): BrokerAddress {
    return this.connection.address;
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** Any request, through the in-flight limit; emits the raw reply (broker errors included, as values). */
  request$(request: RequestInput, options?: RequestOptions): Observable<Response> {
    const exchange$ = new Observable<Response>((subscriber) => {
      this.counters.sent++;
      let finished = false;
      const subscription = this.connection.request$(request, options).subscribe({
        next: (response) => {
          finished = true;
          if (response.type === 'Error') this.counters.failed++;
          else this.counters.completed++;
          subscriber.next(response);
        },
        error: (error: unknown) => {
          finished = true;
          this.counters.failed++;
          if (error instanceof TimeoutError) this.counters.timedOut++;
          this.countersChanged.next();
          subscriber.error(error);
        },
        complete: () => {
          this.countersChanged.next();
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
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
    const finished = this.counters.completed + this.counters.failed;
    return {
      state: c.state,
      requestsSent: this.counters.sent,
      requestsCompleted: this.counters.completed,
      requestsFailed: this.counters.failed,
      requestsTimedOut: this.counters.timedOut,
      requestsCancelled: this.counters.cancelled,
      inFlight: l.active,
      queued: l.queued,
      maxInFlight: this.config.maxInFlight,
      peakInFlight: l.peakActive,
      peakQueued: l.peakQueued,
      requestsWaited: l.waited,
      averageQueueWaitMs: l.waited === 0 ? 0 : l.totalWaitMs / l.waited,
      maxQueueWaitMs: l.maxWaitMs,
      successRate: finished === 0 ? 1 : this.counters.completed / finished,
      batchesWritten: c.batchesWritten,
      framesWritten: c.framesWritten,
      averageBatchSize: c.batchesWritten === 0 ? 0 : c.framesWritten / c.batchesWritten,
      bytesOut: c.bytesOut,
      bytesIn: c.bytesIn,
      latencyP50Ms: c.latencyP50Ms,
      latencyP99Ms: c.latencyP99Ms,
    };
  }

  /**
   * Refuse new requests, fail the ones still waiting for a slot (never sent) with ConnectionError,
   * give in-flight ones up to `closeTimeout` to finish, close the connection, complete `stats$`.
   */
  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.closePromise = (async () => {
      this.limiter.rejectQueued(new ConnectionError('this PipelinedClient closed before the request could be sent (it waited for an in-flight slot)'));
      await this.connection.close();
      this.statsSubscription.unsubscribe();
      this.limiter.complete();
      this.statsSubject.next(this.stats());
      this.statsSubject.complete();
    })();
    return this.closePromise;
  }

  protected send$(request: RequestInput, options?: RequestOptions): Observable<Response> {
    return this.request$(request, options);
  }
}
