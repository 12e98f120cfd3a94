/**
 * `ResilientClient`: the typed broker operations routed through a connection pool per server,
 * a circuit breaker per server, failover across servers, and retries with exponential backoff and
 * jitter; live `health$`.
 *
 * Routing a call:
 *  1. Pick a server round-robin among those whose breaker lets a request through (Closed, or the
 *     single Half-Open probe). None → `AllServersUnavailableError` at once: no connection attempt.
 *  2. Run the request on a pooled connection to it.
 *  3. On a failure: non-retriable errors (DESIGN.md §4: `retriable === false`) fail at once. A
 *     retriable one is retried — on the next server, after the backoff delay — if the request is
 *     idempotent, or if it certainly never reached the broker (the connection could not be opened
 *     or was already unusable). Up to `maxRetries` retries.
 *
 * What counts against a server's breaker: a failed connect, a pooled connection that broke
 * (once per connection, however many requests were on it — a reply of the wrong type or over the
 * decode limits breaks its connection), a request that timed out. Any well-formed reply —
 * including a broker error such as UNKNOWN_TOPIC — counts as the server being alive.
 *
 * A `Throttled` reply is waited out (then retried) only if the wait ends before the request's
 * deadline (`timeoutMs`, else `requestTimeout`; 5 minutes when there is none); otherwise the
 * caller gets the ThrottledError at once.
 */
import {
  BehaviorSubject,
  EMPTY,
  Observable,
  Subject,
  Subscription,
  catchError,
  defer,
  exhaustMap,
  filter,
  finalize,
  interval,
  map,
  merge,
  mergeMap,
  race,
  skip,
  tap,
  throttleTime,
  throwError,
  timer,
} from 'rxjs';
import { AllServersUnavailableError, ConfigError, ConnectionError, RivvenError, ThrottledError, TimeoutError } from '../errors.js';
import type { RequestInput, RequestType } from '../protocol/request-schema.js';
import type { Response } from '../protocol/response-schema.js';
import { formatAddress, type BrokerAddress } from '../transport/address.js';
import { Connection, type RequestOptions } from '../transport/connection.js';
import { LatencyTracker } from '../transport/latency-tracker.js';
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import { CircuitBreaker, type CircuitPermit, type CircuitState } from './circuit-breaker.js';
import { createLog, type Log } from '../observability/log.js';
import { errorFromResponse } from './response-errors.js';
import { ConnectionPool, type PoolEvent } from './connection-pool.js';
import { BrokerOperations } from './operations.js';
import {
  resolveResilientConfig,
  type ConnectionFactory,
  type PoolableConnection,
  type ResilientClientOptions,
  type ResolvedResilientConfig,
} from './resilient-config.js';
import type { HealthError, ResilientHealth, ServerHealth } from './resilient-health.js';

/**
 * How a request may be retried after a failure that may have reached the broker.
 * - `idempotent`: doing it twice has the same effect as once (reads, offset commits, config
 *   sets, idempotent publishes deduplicated by sequence) — retried after any retriable failure.
 * - `once`: doing it twice may do it twice (publish, create/delete, transactions, group
 *   membership) — retried only when it certainly never left the client, unless the caller opts in.
 * - `connection`: the handshake and authentication belong to one connection; the pool does them
 *   itself (set them in `connection` options), so they are refused here.
 */
export type RetryClass = 'idempotent' | 'once' | 'connection';

export const REQUEST_RETRY_CLASS: Readonly<Record<RequestType, RetryClass>> = {
  Authenticate: 'connection',
  SaslAuthenticate: 'connection',
  ScramClientFirst: 'connection',
  ScramClientFinal: 'connection',
  Handshake: 'connection',
  Publish: 'once',
  PublishBatch: 'once',
  Consume: 'idempotent',
  CreateTopic: 'once',
  ListTopics: 'idempotent',
  DeleteTopic: 'once',
  CommitOffset: 'idempotent',
  GetOffset: 'idempotent',
  GetMetadata: 'idempotent',
  GetClusterMetadata: 'idempotent',
  Ping: 'idempotent',
  GetOffsetBounds: 'idempotent',
  ListGroups: 'idempotent',
  DescribeGroup: 'idempotent',
  DeleteGroup: 'once',
  GetOffsetForTimestamp: 'idempotent',
  InitProducerId: 'once',
  IdempotentPublish: 'idempotent',
  IdempotentPublishBatch: 'idempotent',
  BeginTransaction: 'once',
  AddPartitionsToTxn: 'once',
  TransactionalPublish: 'once',
  AddOffsetsToTxn: 'once',
  CommitTransaction: 'once',
  AbortTransaction: 'once',
  DescribeQuotas: 'idempotent',
  AlterQuotas: 'idempotent',
  AlterTopicConfig: 'idempotent',
  CreatePartitions: 'once',
  DeleteRecords: 'idempotent',
  DescribeTopicConfigs: 'idempotent',
  JoinGroup: 'once',
  SyncGroup: 'once',
  Heartbeat: 'idempotent',
  LeaveGroup: 'once',
};

export interface ExecuteOptions extends RequestOptions {
  /**
   * Retry this request after any retriable failure even if it may have reached the broker.
   * Default: true for idempotent request types, else the client's `retryNonIdempotent`.
   */
  idempotent?: boolean;
}

/** Where an attempt got to before it failed: decides whether a non-idempotent retry is safe. */
type Phase = 'acquiring' | 'not-sent' | 'unsendable' | 'sent';

interface Attempt {
  phase: Phase;
  /** When the request was handed to a connection (performance.now()). */
  sentAt?: number;
}

class Server {
  readonly label: string;
  readonly breaker: CircuitBreaker;
  readonly pool: ConnectionPool;
  readonly latencies = new LatencyTracker(512);
  requests = 0;
  answered = 0;
  failures = 0;
  lastError: HealthError | undefined;
  lastHealthCheck: ServerHealth['lastHealthCheck'];

  constructor(
    readonly index: number,
    readonly address: BrokerAddress,
    config: ResolvedResilientConfig,
    factory: ConnectionFactory,
  ) {
    this.label = formatAddress(address);
    this.breaker = new CircuitBreaker({
      failureThreshold: config.circuitBreakerFailureThreshold,
      recoveryTimeout: config.circuitBreakerRecoveryTimeout,
      initialRecoveryTimeout: config.circuitBreakerInitialRecoveryTimeout,
      scheduler: config.scheduler,
    });
    const connectionOptions = {
      ...config.connection,
      connectionTimeoutMs: config.connectionTimeout,
      requestTimeoutMs: config.requestTimeout,
      scheduler: config.scheduler,
    };
    this.pool = new ConnectionPool({
      address,
      maxSize: config.poolSizePerServer,
      maxLifetime: config.maxConnectionLifetime,
      idleTimeout: config.idleTimeout,
      scheduler: config.scheduler,
      connect: () => factory(address, connectionOptions),
    });
  }
}

const defaultFactory: ConnectionFactory = (address, options) => Connection.connect$(address, options);

function isHeavy(request: RequestInput): boolean {
  if (request.type === 'Consume') return request.maxWaitMs !== undefined && request.maxWaitMs > 0n;
  return request.type === 'JoinGroup' || request.type === 'SyncGroup';
}

/** Without a request timeout, the longest throttle wait a request sits out (then: ThrottledError). */
export const MAX_THROTTLE_WAIT_WITHOUT_DEADLINE_MS = 300_000;

/** How long a throttle wait may still last: what is left of the deadline (0 = none: a fixed cap). */
function throttleBudget(deadlineMs: number, elapsedMs: number): number {
  return deadlineMs > 0 ? deadlineMs - elapsedMs : MAX_THROTTLE_WAIT_WITHOUT_DEADLINE_MS;
}

function describeError(error: unknown, at: number): HealthError {
  if (error instanceof RivvenError) return { code: error.code, message: error.message, at };
  return { code: 'UNKNOWN', message: error instanceof Error ? error.message : String(error), at };
}

export class ResilientClient extends BrokerOperations {
  private readonly config: ResolvedResilientConfig;
  private readonly backoff: BackoffPolicy;
  private readonly serverList: Server[];
  private readonly healthSubject: BehaviorSubject<ResilientHealth>;
  private readonly urgentChange = new Subject<void>();
  private readonly counterChange = new Subject<void>();
  private readonly closing = new Subject<void>();
  private readonly subscriptions = new Subscription();
  private readonly healthChecks = new Subscription();
  private readonly totals = { requests: 0, successes: 0, failures: 0, retries: 0, inFlight: 0 };
  private cursor = 0;
  private closed = false;
  private closePromise: Promise<void> | undefined;
  /** Everything is closed; the next health emission is the last. */
  private finished = false;
  private lastEmitted = '';
  private readonly log: Log;

  /**
   * The whole picture — per server: breaker state, pool (idle/busy connections), consecutive
   * failures, last error, latency p50/p99; totals: requests, successes, failures, retries,
   * success rate. Starts with the current value; emits when something changes (breaker and pool
   * changes at once, counter changes at most every `healthEmitInterval`); completes on `close()`.
   */
  readonly health$: Observable<ResilientHealth>;

  /** Validates the options (ConfigError naming the first bad one) and starts health checks. Opens nothing yet. */
  constructor(options: ResilientClientOptions) {
    super();
    this.config = resolveResilientConfig(options);
    const c = this.config;
    this.backoff = { initialDelay: c.retryInitialDelay, maxDelay: c.retryMaxDelay, multiplier: c.retryMultiplier, jitter: c.retryJitter };
    const factory = c.connectionFactory ?? defaultFactory;
    this.serverList = c.servers.map((address, i) => new Server(i, address, c, factory));

    this.healthSubject = new BehaviorSubject(this.snapshot());
    this.lastEmitted = JSON.stringify(this.healthSubject.value);
    this.health$ = this.healthSubject.asObservable();
    const counters = c.healthEmitInterval > 0
      ? this.counterChange.pipe(throttleTime(c.healthEmitInterval, c.scheduler, { leading: true, trailing: true }))
      : this.counterChange;
    this.subscriptions.add(merge(this.urgentChange, counters).subscribe(() => this.publishHealth()));

    this.log = createLog('resilient-client', c.connection.logger, c.connection.logLevel, c.connection.clientId === undefined ? {} : { clientId: c.connection.clientId });
    for (const server of this.serverList) {
      this.subscriptions.add(server.breaker.state$.subscribe(() => this.urgentChange.next()));
      this.subscriptions.add(server.breaker.state$.pipe(skip(1)).subscribe((state) => this.logBreaker(server, state)));
      this.subscriptions.add(server.pool.events$.subscribe((event) => this.onPoolEvent(server, event)));
      if (c.healthCheckEnabled) {
        this.healthChecks.add(
          interval(c.healthCheckInterval, c.scheduler)
            .pipe(exhaustMap(() => this.healthCheck$(server)))
            .subscribe(),
        );
        // A circuit that just went Half-Open is probed at once, so recovery needs no user traffic.
        this.healthChecks.add(
          server.breaker.state$
            .pipe(
              filter((state) => state === 'half-open'),
              mergeMap(() => this.healthCheck$(server)),
            )
            .subscribe(),
        );
      }
    }
  }

  /** The configured servers, `host:port`, in order. */
  get servers(): string[] {
    return this.serverList.map((s) => s.label);
  }

  /** The current health (what health$ last emitted may be up to `healthEmitInterval` older). */
  health(): ResilientHealth {
    return this.snapshot();
  }

  /**
   * Any request, routed with failover, retries and circuit breaking. Emits the broker's reply;
   * `Error` and `Throttled` replies become typed errors (so the retry rules apply to them).
   */
  execute$(request: RequestInput, options: ExecuteOptions = {}): Observable<Response> {
    return defer(() => {
      if (typeof request !== 'object' || request === null) throw new ConfigError('request', `expected a request object with a \`type\`, got ${String(request)}`);
      if (typeof options !== 'object' || options === null) throw new ConfigError('options', `expected execute options (an object), got ${String(options)}`);
      const retryClass = Object.hasOwn(REQUEST_RETRY_CLASS, request.type) ? REQUEST_RETRY_CLASS[request.type] : undefined;
      if (retryClass === undefined) throw new ConfigError('request.type', `unknown request type '${String(request.type)}'`);
      if (retryClass === 'connection') {
        throw new ConfigError(
          'request.type',
          `${request.type} belongs to one connection; the pool does it for every connection it opens — set it in the \`connection\` options`,
        );
      }
      if (this.closed) throw new ConnectionError('this ResilientClient is closed; create a new one');
      const idempotent = options.idempotent ?? (retryClass === 'idempotent' || this.config.retryNonIdempotent);
      const heavy = isHeavy(request);
      const requestOptions: RequestOptions = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
      // The request's own deadline: a throttle wait that would end past it is not waited out.
      const deadlineMs = options.timeoutMs ?? this.config.requestTimeout;
      const startedAt = this.config.scheduler.now();
      this.totals.requests++;
      this.totals.inFlight++;
      this.counterChange.next();

      const attemptFrom = (retry: number, previous: number | undefined, lastError: unknown): Observable<Response> =>
        defer(() => {
          const { server, permit } = this.pick(previous, lastError);
          const attempt: Attempt = { phase: 'acquiring' };
          return this.attempt$(server, permit, request, requestOptions, heavy, 'request', attempt).pipe(
            catchError((error: unknown) => {
              const errorCode = error instanceof RivvenError ? ((error as { serverCode?: string }).serverCode ?? error.code) : 'UNKNOWN';
              if (!this.retriable(error, attempt.phase, idempotent)) return throwError(() => error);
              if (retry >= this.config.maxRetries) {
                this.log.warn('giving up', { requestType: request.type, broker: server.label, attempt: retry + 1, errorCode, error: errorMessage(error) });
                return throwError(() => error);
              }
              // A throttled request waits at least as long as the broker asked — but never past its
              // own deadline: then the caller gets the ThrottledError now instead of a wait that
              // could be days long (a hostile or misconfigured broker can ask for 2^64 ms).
              const throttle = error instanceof ThrottledError ? Number(error.throttleTimeMs) : 0;
              if (throttle > 0 && throttle > throttleBudget(deadlineMs, this.config.scheduler.now() - startedAt)) {
                this.log.warn('throttle wait exceeds the request deadline: failing now', { requestType: request.type, broker: server.label, delayMs: throttle });
                return throwError(() => error);
              }
              this.totals.retries++;
              this.counterChange.next();
              const wait = Math.max(backoffDelay(retry, this.backoff, this.config.random), throttle);
              if (throttle > 0) this.log.info('throttled by the broker', { requestType: request.type, broker: server.label, delayMs: wait });
              else this.log.debug('retrying', { requestType: request.type, broker: server.label, attempt: retry + 1, delayMs: wait, errorCode });
              return this.wait$(wait).pipe(mergeMap(() => attemptFrom(retry + 1, server.index, error)));
            }),
          );
        });

      let settled = false;
      return attemptFrom(0, undefined, undefined).pipe(
        tap({
          next: () => {
            if (settled) return;
            settled = true;
            this.totals.successes++;
          },
          error: () => {
            settled = true;
            this.totals.failures++;
          },
        }),
        finalize(() => {
          this.totals.inFlight--;
          this.counterChange.next();
        }),
      );
    });
  }

  private logBreaker(server: Server, state: CircuitState): void {
    const fields = { broker: server.label };
    if (state === 'open') {
      const { halfOpenAt } = server.breaker.snapshot();
      this.log.warn('circuit open: requests skip this broker', { ...fields, delayMs: halfOpenAt === undefined ? undefined : halfOpenAt - this.config.scheduler.now() });
    }
    else if (state === 'half-open') this.log.info('circuit half-open: probing', fields);
    else this.log.info('circuit closed: broker healthy again', fields);
  }

  /** Alias of `execute$`, the name `Client` uses for its escape hatch. */
  request$(request: RequestInput, options?: ExecuteOptions): Observable<Response> {
    return this.execute$(request, options);
  }

  /**
   * Stop health checks, let in-flight requests finish (each connection's close grace), close every
   * connection, complete `health$`. Calls waiting for a retry fail with ConnectionError.
   */
  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.closed = true;
    // Everything periodic stops now, synchronously; only in-flight replies are waited for.
    this.healthChecks.unsubscribe();
    this.closing.next();
    this.closing.complete();
    const pools = this.serverList.map((s) => s.pool.close());
    for (const server of this.serverList) server.breaker.dispose();
    this.closePromise = (async () => {
      await Promise.all(pools);
      this.subscriptions.unsubscribe();
      this.finished = true;
      this.healthSubject.next(this.snapshot());
      this.healthSubject.complete();
    })();
    return this.closePromise;
  }

  protected send$(request: RequestInput, options?: RequestOptions): Observable<Response> {
    return this.execute$(request, options);
  }

  // -------------------------------------------------------------------------------------------

  /** The next server (after `previous`, else round-robin) whose breaker lets a request through. */
  private pick(previous: number | undefined, lastError: unknown): { server: Server; permit: CircuitPermit } {
    if (this.closed) throw new ConnectionError('this ResilientClient is closed; create a new one');
    const n = this.serverList.length;
    let start: number;
    if (previous === undefined) {
      start = this.cursor;
      this.cursor = (this.cursor + 1) % n;
    } else {
      start = (previous + 1) % n;
    }
    for (let i = 0; i < n; i++) {
      const server = this.serverList[(start + i) % n]!;
      const permit = server.breaker.tryAcquire();
      if (permit !== undefined) return { server, permit };
    }
    const now = this.config.scheduler.now();
    const states = this.serverList
      .map((s) => {
        const b = s.breaker.snapshot();
        if (b.state === 'open') return `${s.label} open (probe in ~${Math.max(0, Math.ceil(((b.halfOpenAt ?? now) - now) / 1000))} s)`;
        return `${s.label} ${b.state}${b.probeInFlight ? ' (probe in flight)' : ''}`;
      })
      .join(', ');
    const last = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
    throw new AllServersUnavailableError(
      `all ${n} server${n === 1 ? '' : 's'} unavailable, circuit breakers refuse requests: ${states}${last}. ` +
        'Requests fail fast until a probe succeeds; check that the brokers are running and reachable.',
      lastError === undefined ? undefined : { cause: lastError },
    );
  }

  /** Whether a failed attempt may be tried again (given retries remain). */
  private retriable(error: unknown, phase: Phase, idempotent: boolean): boolean {
    if (!(error instanceof RivvenError) || !error.retriable) return false;
    if (error instanceof AllServersUnavailableError || phase === 'unsendable' || this.closed) return false;
    const neverSent = phase === 'acquiring' || phase === 'not-sent';
    return idempotent || neverSent;
  }

  /** A backoff wait that ends early, with an error, if the client closes. */
  private wait$(ms: number): Observable<0> {
    return race(
      timer(ms, this.config.scheduler),
      this.closing.pipe(mergeMap(() => throwError(() => new ConnectionError('this ResilientClient closed while the request waited to be retried')))),
    );
  }

  /** One try on one server, settling the breaker permit and the server's counters. */
  private attempt$(
    server: Server,
    permit: CircuitPermit,
    request: RequestInput,
    options: RequestOptions,
    heavy: boolean,
    kind: 'request' | 'health',
    attempt: Attempt,
  ): Observable<Response> {
    return defer(() => {
      if (kind === 'request') server.requests++;
      let settled = false;
      const settle = (outcome: 'success' | 'failure' | 'release') => {
        if (settled) return;
        settled = true;
        permit[outcome]();
      };
      return server.pool.use$((connection) => this.send(connection, request, options, attempt), { heavy }).pipe(
        map((response) => {
          const latency = performance.now() - (attempt.sentAt ?? performance.now());
          server.latencies.record(latency);
          server.answered++;
          settle('success');
          if (kind === 'health') server.lastHealthCheck = { at: this.config.scheduler.now(), ok: true, latencyMs: latency };
          if (response.type === 'Error' || response.type === 'Throttled') throw errorFromResponse(response, request.type);
          return response;
        }),
        catchError((error: unknown) => {
          if (!settled) {
            const now = this.config.scheduler.now();
            if (error instanceof TimeoutError && attempt.phase === 'sent') {
              // The server took the request and did not answer in time: that counts against it.
              server.failures++;
              server.lastError = describeError(error, now);
              settle('failure');
            } else {
              // Connect failures and broken connections were counted once, by the pool's events.
              settle('release');
            }
            if (kind === 'health') server.lastHealthCheck = { at: now, ok: false, latencyMs: undefined };
            this.urgentChange.next();
          }
          return throwError(() => error);
        }),
        finalize(() => {
          settle('release');
          this.counterChange.next();
        }),
      );
    });
  }

  /** Hand the request to a connection, noting whether it may have left the client. */
  private send(connection: PoolableConnection, request: RequestInput, options: RequestOptions, attempt: Attempt): Observable<Response> {
    return new Observable<Response>((subscriber) => {
      const wasReady = connection.state === 'ready';
      let synchronous = true;
      attempt.phase = 'sent';
      attempt.sentAt = performance.now();
      const subscription = connection.request$(request, options).subscribe({
        next: (response) => subscriber.next(response),
        error: (error: unknown) => {
          // An immediate refusal: a ready connection could not encode it (retrying won't help);
          // an unusable connection never took it (safe to retry anything).
          if (synchronous) attempt.phase = wasReady ? 'unsendable' : 'not-sent';
          subscriber.error(error);
        },
        complete: () => subscriber.complete(),
      });
      synchronous = false;
      return subscription;
    });
  }

  /** One health-check ping (or the Half-Open probe). Never errors. */
  private healthCheck$(server: Server): Observable<never> {
    return defer(() => {
      if (this.closed) return EMPTY;
      const permit = server.breaker.tryAcquire();
      if (permit === undefined) return EMPTY; // open: no connection attempts; or a probe is already out
      const c = this.config;
      const timeoutMs = c.requestTimeout > 0 ? c.requestTimeout : c.healthCheckInterval;
      return this.attempt$(server, permit, { type: 'Ping' }, { timeoutMs }, false, 'health', { phase: 'acquiring' }).pipe(
        mergeMap(() => EMPTY),
        catchError(() => EMPTY),
      );
    });
  }

  private onPoolEvent(server: Server, event: PoolEvent): void {
    if (event.type === 'usage') {
      this.counterChange.next();
      return;
    }
    const now = this.config.scheduler.now();
    if (event.type === 'connect-failed') {
      server.lastError = describeError(event.error, now);
      // A refused TLS certificate or bad credentials say nothing about the server's health.
      if (event.error instanceof RivvenError && event.error.retriable) {
        server.failures++;
        server.breaker.recordFailure();
      }
    } else if (event.type === 'broken' && !this.closed) {
      server.failures++;
      server.lastError = describeError(event.error, now);
      server.breaker.recordFailure();
    }
    this.urgentChange.next();
  }

  private publishHealth(): void {
    if (this.healthSubject.closed) return;
    const snapshot = this.snapshot();
    const key = JSON.stringify(snapshot);
    if (key === this.lastEmitted) return;
    this.lastEmitted = key;
    this.healthSubject.next(snapshot);
  }

  private snapshot(): ResilientHealth {
    const servers = this.serverList.map((s): ServerHealth => {
      const breaker = s.breaker.snapshot();
      return {
        address: s.label,
        breaker: breaker.state,
        consecutiveFailures: breaker.consecutiveFailures,
        openedAt: breaker.openedAt,
        halfOpenAt: breaker.halfOpenAt,
        probeInFlight: breaker.probeInFlight,
        pool: s.pool.snapshot(),
        requests: s.requests,
        answered: s.answered,
        failures: s.failures,
        lastError: s.lastError,
        latencyP50Ms: s.latencies.quantile(0.5),
        latencyP99Ms: s.latencies.quantile(0.99),
        lastHealthCheck: s.lastHealthCheck,
      };
    });
    const t = this.totals;
    const finished = t.successes + t.failures;
    let connections = 0;
    let idle = 0;
    let busy = 0;
    for (const s of servers) {
      connections += s.pool.size - s.pool.connecting;
      idle += s.pool.idle;
      busy += s.pool.busy;
    }
    return {
      servers,
      totalServers: servers.length,
      healthyServers: servers.filter((s) => s.breaker === 'closed').length,
      requests: t.requests,
      successes: t.successes,
      failures: t.failures,
      retries: t.retries,
      inFlight: t.inFlight,
      successRate: finished === 0 ? 1 : t.successes / finished,
      connections,
      idleConnections: idle,
      busyConnections: busy,
      closed: this.finished,
    };
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
