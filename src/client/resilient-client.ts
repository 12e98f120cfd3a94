/**
 * `ResilientClient`: the typed broker operations routed through a connection pool per server,
 * a circuit breaker per server, failover across servers, and retries with exponential backoff and
 * jitter; live `health$`.
 *
 * Routing a call:
 *  1. Pick a server round-robin among those whose breaker lets a request through (Closed, or the
 *     single Half-Open probe) — the failover rule every component shares (server-rotation.ts).
 *     None → `AllServersUnavailableError` at once: no connection attempt.
 *  2. Run the request on a pooled connection to it.
 *  3. On a failure: non-retriable errors (DESIGN.md §4: `retriable === false`) fail at once. A
 *     retriable one is retried — on the next server, after the backoff delay of `retry` — if the
 *     request is idempotent, or if it certainly never reached the broker (the connection could
 *     not be opened or was already unusable). Up to `retry.maxAttempts` attempts in all.
 *
 * What counts against a server's breaker: a failed connect, a pooled connection that broke
 * (once per connection, however many requests were on it — a reply of the wrong type or over the
 * decode limits breaks its connection), a request that timed out. Any well-formed reply —
 * including a broker error such as UNKNOWN_TOPIC — counts as the server being alive.
 *
 * A `Throttled` reply is waited out (then retried) only if the wait ends before the request's
 * deadline (`timeoutMs`, else `requestTimeoutMs`; 5 minutes when there is none); otherwise the
 * caller gets the ThrottledError at once.
 */
import {
  BehaviorSubject,
  EMPTY,
  type Observable,
  Subject,
  Subscription,
  catchError,
  defer,
  exhaustMap,
  filter,
  finalize,
  interval,
  merge,
  mergeMap,
  race,
  skip,
  tap,
  throttleTime,
  throwError,
  timer,
} from 'rxjs';
import { ConnectionError, RivvenError, ThrottledError, isRetriable } from '../errors.js';
import { createLog, type Log } from '../observability/log.js';
import type { RequestInput } from '../protocol/request-schema.js';
import type { Response } from '../protocol/response-schema.js';
import { Connection } from '../transport/connection.js';
import type { RequestOptions } from '../transport/connection-types.js';
import { Retrier } from './retrier.js';
import type { CircuitPermit, CircuitState } from './circuit-breaker.js';
import type { PoolEvent } from './connection-pool.js';
import { BrokerOperations } from './broker-operations.js';
import { resolveResilientConfig, type ConnectionFactory, type ResilientClientConfig, type ResolvedResilientClientConfig } from './resilient-config.js';
import { buildHealth, type CallTotals, type ResilientHealth } from './resilient-health.js';
import { callableRetryClass, isHeavy, throttleBudget, type ExecuteOptions } from './resilient-retry-class.js';
import { ResilientServer, allServersUnavailable, attempt$, mayRetry, type Attempt, type AttemptContext } from './resilient-server.js';
import { ServerRotation } from './server-rotation.js';

const defaultFactory: ConnectionFactory = (address, options) => Connection.connect$(address, options);

/**
 * The typed broker operations over a connection pool per server, with a circuit breaker per server,
 * failover across `bootstrapServers` and retries with jittered backoff (idempotent requests, or ones
 * that never reached the broker); live `health$`.
 */
export class ResilientClient extends BrokerOperations {
  private readonly config: ResolvedResilientClientConfig;
  private readonly retrier: Retrier;
  private readonly rotation: ServerRotation;
  private readonly serverList: ResilientServer[];
  private readonly attemptContext: AttemptContext;
  private readonly healthSubject: BehaviorSubject<ResilientHealth>;
  private readonly urgentChange = new Subject<void>();
  private readonly counterChange = new Subject<void>();
  private readonly closing = new Subject<void>();
  private readonly subscriptions = new Subscription();
  private readonly healthChecks = new Subscription();
  private readonly totals: CallTotals = { requests: 0, successes: 0, failures: 0, retries: 0, inFlight: 0 };
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
   * changes at once, counter changes at most every `healthEmitIntervalMs`); completes on `close()`.
   */
  readonly health$: Observable<ResilientHealth>;

  /** Validates the options (ConfigError naming the first bad one) and starts health checks. Opens nothing yet. */
  constructor(options: ResilientClientConfig) {
    // The typed operations go the way execute$ goes: pooled, with failover, retries and breakers.
    super({ send$: (request, options) => this.execute$(request, options) });
    this.config = resolveResilientConfig(options);
    const c = this.config;
    this.retrier = new Retrier(c.retry, c.scheduler, c.random);
    this.rotation = new ServerRotation(c.bootstrapServers, {
      failureThreshold: c.circuitBreakerFailureThreshold,
      recoveryTimeout: c.circuitBreakerRecoveryTimeoutMs,
      initialRecoveryTimeout: c.circuitBreakerInitialRecoveryTimeoutMs,
      scheduler: c.scheduler,
    });
    const factory = c.connectionFactory ?? defaultFactory;
    this.serverList = c.servers.map((address, i) => new ResilientServer(i, address, this.rotation.servers[i]!.breaker, c, factory));
    this.attemptContext = {
      scheduler: c.scheduler,
      urgentChange: () => this.urgentChange.next(),
      counterChange: () => this.counterChange.next(),
    };

    this.healthSubject = new BehaviorSubject(this.snapshot());
    this.lastEmitted = JSON.stringify(this.healthSubject.value);
    this.health$ = this.healthSubject.asObservable();
    const counters = c.healthEmitIntervalMs > 0
      ? this.counterChange.pipe(throttleTime(c.healthEmitIntervalMs, c.scheduler, { leading: true, trailing: true }))
      : this.counterChange;
    this.subscriptions.add(merge(this.urgentChange, counters).subscribe(() => this.publishHealth()));

    this.log = createLog('resilient-client', c.connection.logger, c.connection.logLevel, c.connection.clientId === undefined ? {} : { clientId: c.connection.clientId });
    for (const server of this.serverList) {
      this.subscriptions.add(server.breaker.state$.subscribe(() => this.urgentChange.next()));
      this.subscriptions.add(server.breaker.state$.pipe(skip(1)).subscribe((state) => this.logBreaker(server, state)));
      this.subscriptions.add(server.pool.events$.subscribe((event) => this.onPoolEvent(server, event)));
      if (c.healthCheckEnabled) {
        this.healthChecks.add(
          interval(c.healthCheckIntervalMs, c.scheduler)
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

  /** The current health (what health$ last emitted may be up to `healthEmitIntervalMs` older). */
  health(): ResilientHealth {
    return this.snapshot();
  }

  /**
   * Any request, routed with failover, retries and circuit breaking. Emits the broker's reply;
   * `Error` and `Throttled` replies become typed errors (so the retry rules apply to them).
   */
  execute$(request: RequestInput, options: ExecuteOptions = {}): Observable<Response> {
    return defer(() => {
      const retryClass = callableRetryClass(request, options);
      if (this.closed) throw new ConnectionError('this ResilientClient is closed; create a new one');
      const idempotent = options.idempotent ?? (retryClass === 'idempotent' || this.config.retryNonIdempotent);
      const heavy = isHeavy(request);
      const requestOptions: RequestOptions = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
      // The request's own deadline: a throttle wait that would end past it is not waited out.
      const deadlineMs = options.timeoutMs ?? this.config.requestTimeoutMs;
      const startedAt = this.config.scheduler.now();
      this.totals.requests++;
      this.totals.inFlight++;
      this.counterChange.next();

      const attemptFrom = (retry: number, previous: number | undefined, lastError: unknown): Observable<Response> =>
        defer(() => {
          const { server, permit } = this.admit(previous, lastError);
          const attempt: Attempt = { phase: 'acquiring' };
          return attempt$(this.attemptContext, server, permit, { request, options: requestOptions, heavy, kind: 'request' }, attempt).pipe(
            catchError((error: unknown) => {
              const errorCode = error instanceof RivvenError ? ((error as { serverCode?: string }).serverCode ?? error.code) : 'UNKNOWN';
              if (this.closed || !mayRetry(error, attempt.phase, idempotent)) return throwError(() => error);
              const backoff = this.retrier.next(error, retry + 1, { retriable: (e) => mayRetry(e, attempt.phase, idempotent) });
              if (backoff === undefined) {
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
              const wait = Math.max(backoff, throttle);
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

  private logBreaker(server: ResilientServer, state: CircuitState): void {
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
    this.rotation.dispose();
    this.closePromise = (async () => {
      await Promise.all(pools);
      this.subscriptions.unsubscribe();
      this.finished = true;
      this.healthSubject.next(this.snapshot());
      this.healthSubject.complete();
    })();
    return this.closePromise;
  }

  /** `await using`: calls `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // -------------------------------------------------------------------------------------------

  /** The next server (after `previous`, else round-robin) whose breaker lets a request through, with its permit. */
  private admit(previous: number | undefined, lastError: unknown): { server: ResilientServer; permit: CircuitPermit } {
    if (this.closed) throw new ConnectionError('this ResilientClient is closed; create a new one');
    const start = previous === undefined ? this.rotation.nextStart() : (previous + 1) % this.rotation.size;
    const admitted = this.rotation.admit(start);
    if (admitted === undefined) throw allServersUnavailable(this.serverList, this.config.scheduler.now(), lastError);
    return { server: this.serverList[admitted.index]!, permit: admitted.permit };
  }

  /** A backoff wait that ends early, with an error, if the client closes. */
  private wait$(ms: number): Observable<0> {
    return race(
      timer(ms, this.config.scheduler),
      this.closing.pipe(mergeMap(() => throwError(() => new ConnectionError('this ResilientClient closed while the request waited to be retried')))),
    );
  }

  /** One health-check ping (or the Half-Open probe). Never errors. */
  private healthCheck$(server: ResilientServer): Observable<never> {
    return defer(() => {
      if (this.closed) return EMPTY;
      const permit = server.breaker.tryAcquire();
      if (permit === undefined) return EMPTY; // open: no connection attempts; or a probe is already out
      const c = this.config;
      const timeoutMs = c.requestTimeoutMs > 0 ? c.requestTimeoutMs : c.healthCheckIntervalMs;
      const ping = { request: { type: 'Ping' } as const, options: { timeoutMs }, heavy: false, kind: 'health' } as const;
      return attempt$(this.attemptContext, server, permit, ping, { phase: 'acquiring' }).pipe(
        mergeMap(() => EMPTY),
        catchError(() => EMPTY),
      );
    });
  }

  private onPoolEvent(server: ResilientServer, event: PoolEvent): void {
    if (event.type === 'usage') {
      this.counterChange.next();
      return;
    }
    const now = this.config.scheduler.now();
    if (event.type === 'connect-failed') {
      // A refused TLS certificate or bad credentials say nothing about the server's health.
      if (isRetriable(event.error)) {
        server.failed(event.error, now);
        server.breaker.recordFailure();
      } else {
        server.noteError(event.error, now);
      }
    } else if (event.type === 'broken' && !this.closed) {
      server.failed(event.error, now);
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
    return buildHealth(this.serverList.map((server) => server.health()), this.totals, this.finished);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
