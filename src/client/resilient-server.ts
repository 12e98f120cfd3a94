/**
 * One server of a ResilientClient and one attempt of a call on it.
 *
 * `ResilientServer` is what the client keeps per server: its circuit breaker (owned by the client's
 * ServerRotation), its connection pool (connection-pool.ts) and the counters its health is built
 * from (resilient-health.ts). `attempt$` is one try of a call on one server: run the request on a
 * pooled connection, settle the server's breaker permit by what happened, update those counters,
 * and note how far the request got — which decides (`mayRetry`) whether a request that is not
 * idempotent may be tried again. Which server an attempt goes to is server-rotation.ts's rule; the
 * retries around attempts are resilient-client.ts's.
 */
import { Observable, catchError, defer, finalize, map, throwError, type SchedulerLike } from 'rxjs';
import { AllServersUnavailableError, RivvenError, RivvenTimeoutError, isRetriable } from '../errors.js';
import { formatAddress, type BrokerAddress } from '../broker-address.js';
import type { RequestInput } from '../protocol/request-schema.js';
import type { Response } from '../protocol/response-schema.js';
import type { RequestOptions } from '../transport/connection-types.js';
import { LatencyTracker } from '../transport/request-telemetry.js';
import type { CircuitBreaker, CircuitPermit } from './circuit-breaker.js';
import { ConnectionPool } from './connection-pool.js';
import type { ConnectionFactory, PoolableConnection, ResolvedResilientClientConfig } from './resilient-config.js';
import type { HealthError } from '../errors.js';
import type { ServerHealth } from './resilient-health.js';
import { errorFromResponse } from './broker-exchange.js';

export class ResilientServer {
  readonly label: string;
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
    readonly breaker: CircuitBreaker,
    config: ResolvedResilientClientConfig,
    factory: ConnectionFactory,
  ) {
    this.label = formatAddress(address);
    const connectionOptions = config.connection;
    this.pool = new ConnectionPool({
      address,
      maxSize: config.poolSizePerServer,
      maxLifetimeMs: config.maxConnectionLifetimeMs,
      idleTimeoutMs: config.idleTimeoutMs,
      scheduler: config.scheduler,
      connect: () => factory(address, connectionOptions),
    });
  }

  /** Note a failure that counts against this server (the breaker is told separately). */
  failed(error: unknown, at: number): void {
    this.failures++;
    this.noteError(error, at);
  }

  /** Note a failure seen on this server, counted or not (a TLS refusal says nothing about its health). */
  noteError(error: unknown, at: number): void {
    this.lastError = describeError(error, at);
  }

  /** This server's part of the client's health snapshot. */
  health(): ServerHealth {
    const breaker = this.breaker.snapshot();
    return {
      address: this.label,
      breaker: breaker.state,
      consecutiveFailures: breaker.consecutiveFailures,
      openedAt: breaker.openedAt,
      halfOpenAt: breaker.halfOpenAt,
      probeInFlight: breaker.probeInFlight,
      pool: this.pool.snapshot(),
      requests: this.requests,
      answered: this.answered,
      failures: this.failures,
      lastError: this.lastError,
      latencyP50Ms: this.latencies.quantile(0.5),
      latencyP99Ms: this.latencies.quantile(0.99),
      lastHealthCheck: this.lastHealthCheck,
    };
  }
}

function describeError(error: unknown, at: number): HealthError {
  if (error instanceof RivvenError) return { code: error.code, message: error.message, at };
  return { code: 'UNKNOWN', message: error instanceof Error ? error.message : String(error), at };
}

// ---- one attempt on one server -----------------------------------------------------------------

/** Where an attempt got to before it failed: decides whether a non-idempotent retry is safe. */
export type Phase = 'acquiring' | 'not-sent' | 'unsendable' | 'sent';

export interface Attempt {
  phase: Phase;
  /** When the request was handed to a connection (performance.now()). */
  sentAt?: number;
}

/** What an attempt reports to its client. */
export interface AttemptContext {
  readonly scheduler: SchedulerLike;
  /** A breaker or pool may have changed: health$ emits at once. */
  urgentChange(): void;
  /** Only counters changed: health$ emits within its coalescing interval. */
  counterChange(): void;
}

export interface AttemptRequest {
  request: RequestInput;
  options: RequestOptions;
  /** The broker will hold it (long poll, group join). */
  heavy: boolean;
  /** A health-check ping is not counted as a request routed to the server. */
  kind: 'request' | 'health';
}

/**
 * Whether a failed attempt may be tried again (given attempts remain): a retriable error, on a
 * request that is idempotent or certainly never reached the broker.
 */
export function mayRetry(error: unknown, phase: Phase, idempotent: boolean): boolean {
  if (!isRetriable(error)) return false;
  if (error instanceof AllServersUnavailableError || phase === 'unsendable') return false;
  const neverSent = phase === 'acquiring' || phase === 'not-sent';
  return idempotent || neverSent;
}

/** The fail-fast error when no server's breaker admits a request, naming each breaker's state. */
export function allServersUnavailable(servers: readonly ResilientServer[], now: number, lastError: unknown): AllServersUnavailableError {
  const n = servers.length;
  const states = servers
    .map((s) => {
      const b = s.breaker.snapshot();
      if (b.state === 'open') return `${s.label} open (probe in ~${Math.max(0, Math.ceil(((b.halfOpenAt ?? now) - now) / 1000))} s)`;
      return `${s.label} ${b.state}${b.probeInFlight ? ' (probe in flight)' : ''}`;
    })
    .join(', ');
  const last = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
  return new AllServersUnavailableError(
    `all ${n} server${n === 1 ? '' : 's'} unavailable, circuit breakers refuse requests: ${states}${last}. ` +
      'Requests fail fast until a probe succeeds; check that the brokers are running and reachable.',
    lastError === undefined ? undefined : { cause: lastError },
  );
}

/** One try on one server, settling the breaker permit and the server's counters. */
export function attempt$(context: AttemptContext, server: ResilientServer, permit: CircuitPermit, call: AttemptRequest, attempt: Attempt): Observable<Response> {
  return defer(() => {
    const { request, options, heavy, kind } = call;
    if (kind === 'request') server.requests++;
    let settled = false;
    const settle = (outcome: 'success' | 'failure' | 'release') => {
      if (settled) return;
      settled = true;
      permit[outcome]();
    };
    return server.pool.use$((connection) => send(connection, request, options, attempt), { heavy }).pipe(
      map((response) => {
        const latency = performance.now() - (attempt.sentAt ?? performance.now());
        server.latencies.record(latency);
        server.answered++;
        settle('success');
        if (kind === 'health') server.lastHealthCheck = { at: context.scheduler.now(), ok: true, latencyMs: latency };
        if (response.type === 'Error' || response.type === 'Throttled') throw errorFromResponse(response, request.type);
        return response;
      }),
      catchError((error: unknown) => {
        if (!settled) {
          const now = context.scheduler.now();
          if (error instanceof RivvenTimeoutError && attempt.phase === 'sent') {
            // The server took the request and did not answer in time: that counts against it.
            server.failed(error, now);
            settle('failure');
          } else {
            // Connect failures and broken connections were counted once, by the pool's events.
            settle('release');
          }
          if (kind === 'health') server.lastHealthCheck = { at: now, ok: false, latencyMs: undefined };
          context.urgentChange();
        }
        return throwError(() => error);
      }),
      finalize(() => {
        settle('release');
        context.counterChange();
      }),
    );
  });
}

/** Hand the request to a connection, noting whether it may have left the client. */
function send(connection: PoolableConnection, request: RequestInput, options: RequestOptions, attempt: Attempt): Observable<Response> {
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
