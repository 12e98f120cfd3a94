/**
 * ResilientClient configuration: the options of rivven-client's `ResilientClientConfig` (same
 * names in camelCase, same defaults; durations in milliseconds) plus the reactive extras, and
 * validation that rejects nonsense at build time with a ConfigError naming the option.
 */
import { asyncScheduler, type Observable, type SchedulerLike } from 'rxjs';
import { ConfigError } from '../errors.js';
import { describeValue, durationMs, integerIn } from '../settings-validation.js';
import type { RequestInput } from '../protocol/request-schema.js';
import type { Response } from '../protocol/response-schema.js';
import { parseAddress, type BrokerAddress } from '../transport/address.js';
import { rejectUnknownOptionKeys, validateConnectionOptions } from '../transport/connection-options.js';
import type { ConnectionOptions, ConnectionState, RequestOptions } from '../transport/connection.js';
import type { RandomSource } from './backoff.js';

/** What the pool needs from a connection. `Connection` is one; tests plug in fakes. */
export interface PoolableConnection {
  readonly state: ConnectionState;
  readonly state$: Observable<ConnectionState>;
  request$(request: RequestInput, options?: RequestOptions): Observable<Response>;
  close(): Promise<void>;
}

/** Opens one ready connection (emits it once) or errors. Cold; unsubscribing abandons the attempt. */
export type ConnectionFactory = (address: BrokerAddress, options: ConnectionOptions) => Observable<PoolableConnection>;

export interface ResilientClientOptions {
  /** Broker addresses (`host:port`, IPv6 as `[addr]:port`). Required, at least one. */
  servers: readonly string[];
  /** Most connections kept open to each server. Default 10. */
  poolSizePerServer?: number;
  /** Time to open a connection (TCP, TLS, handshake, auth), ms. Default 10,000. */
  connectionTimeout?: number;
  /** Time to wait for a reply, per attempt, ms (0 = no timeout). Default 30,000. */
  requestTimeout?: number;
  /** Retries after the first attempt (so up to 1 + maxRetries attempts). Default 3. */
  maxRetries?: number;
  /** Delay before the first retry, ms. Default 100. */
  retryInitialDelay?: number;
  /** Cap on the exponential delay, ms. Default 5,000. */
  retryMaxDelay?: number;
  /** Growth of the delay per retry (≥ 1). Default 2.0. */
  retryMultiplier?: number;
  /** Jitter as a fraction of each delay (0..1): 0.25 spreads delays over ±25 %. Default 0.25. */
  retryJitter?: number;
  /** Consecutive failures that open a server's circuit. Default 5. */
  circuitBreakerFailureThreshold?: number;
  /** The longest an open circuit refuses requests before one probe, ms. Default 30,000. */
  circuitBreakerRecoveryTimeout?: number;
  /**
   * How long a circuit stays open the first time, ms; it doubles with every failed probe up to
   * `circuitBreakerRecoveryTimeout` and starts again once the server is healthy. So a broker that
   * restarts is used again about a second after it is back. Default 1,000.
   */
  circuitBreakerInitialRecoveryTimeout?: number;
  /** Connections older than this are retired (after their in-flight requests finish), ms. Default 300,000. */
  maxConnectionLifetime?: number;
  /** Connections idle longer than this are closed, ms (0 = never). Default 60,000. */
  idleTimeout?: number;
  /** Ping every server periodically (and probe Half-Open circuits at once). Default true. */
  healthCheckEnabled?: boolean;
  /** Interval between health-check pings, ms. Default 30,000. */
  healthCheckInterval?: number;
  /**
   * `health$` emits breaker and pool changes at once; counter-only changes (a request finished)
   * are coalesced to at most one emission per this many ms. Default 1,000.
   */
  healthEmitInterval?: number;
  /**
   * Also retry requests that are not idempotent (Publish, CreateTopic, transactions, …) after
   * failures where they may have reached the broker. Their effect may then happen twice. Default false.
   */
  retryNonIdempotent?: boolean;
  /**
   * Options every pooled connection gets (clientId, socketFactory, TLS, auth, write linger, …).
   * `connectionTimeoutMs`, `requestTimeoutMs` and `scheduler` come from the options above.
   */
  connection?: ConnectionOptions;
  /** Scheduler for backoff, breaker, health checks, lifetimes (virtual time in tests). Default asyncScheduler. */
  scheduler?: SchedulerLike;
  /** Random source for jitter (tests). Default Math.random. */
  random?: RandomSource;
  /** Where connections come from (default: `Connection.connect$`). For custom transports and tests. */
  connectionFactory?: ConnectionFactory;
}

export interface ResolvedResilientConfig {
  servers: BrokerAddress[];
  poolSizePerServer: number;
  connectionTimeout: number;
  requestTimeout: number;
  maxRetries: number;
  retryInitialDelay: number;
  retryMaxDelay: number;
  retryMultiplier: number;
  retryJitter: number;
  circuitBreakerFailureThreshold: number;
  circuitBreakerRecoveryTimeout: number;
  circuitBreakerInitialRecoveryTimeout: number;
  maxConnectionLifetime: number;
  idleTimeout: number;
  healthCheckEnabled: boolean;
  healthCheckInterval: number;
  healthEmitInterval: number;
  retryNonIdempotent: boolean;
  connection: ConnectionOptions;
  scheduler: SchedulerLike;
  random: RandomSource;
  connectionFactory: ConnectionFactory | undefined;
}

export const RESILIENT_DEFAULTS = {
  poolSizePerServer: 10,
  connectionTimeout: 10_000,
  requestTimeout: 30_000,
  maxRetries: 3,
  retryInitialDelay: 100,
  retryMaxDelay: 5_000,
  retryMultiplier: 2.0,
  retryJitter: 0.25,
  circuitBreakerFailureThreshold: 5,
  circuitBreakerRecoveryTimeout: 30_000,
  circuitBreakerInitialRecoveryTimeout: 1_000,
  maxConnectionLifetime: 300_000,
  idleTimeout: 60_000,
  healthCheckEnabled: true,
  healthCheckInterval: 30_000,
  healthEmitInterval: 1_000,
  retryNonIdempotent: false,
} as const;

const RESILIENT_OPTION_KEYS = [
  'servers',
  'poolSizePerServer',
  'connectionTimeout',
  'requestTimeout',
  'maxRetries',
  'retryInitialDelay',
  'retryMaxDelay',
  'retryMultiplier',
  'retryJitter',
  'circuitBreakerFailureThreshold',
  'circuitBreakerRecoveryTimeout',
  'circuitBreakerInitialRecoveryTimeout',
  'maxConnectionLifetime',
  'idleTimeout',
  'healthCheckEnabled',
  'healthCheckInterval',
  'healthEmitInterval',
  'retryNonIdempotent',
  'connection',
  'scheduler',
  'random',
  'connectionFactory',
] as const satisfies readonly (keyof ResilientClientOptions)[];

// Integers and durations are checked by the one validator (settings-validation.ts): durations
// above setTimeout's limit would fire at once, so they are refused.
const integer = integerIn;
const duration = durationMs;

/** Apply defaults and validate. Throws ConfigError naming the first bad option. */
export function resolveResilientConfig(options: ResilientClientOptions): ResolvedResilientConfig {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigError('options', 'expected an object with at least `servers`');
  }
  const o = options;
  rejectUnknownOptionKeys('ResilientClient', o, RESILIENT_OPTION_KEYS);
  if (!Array.isArray(o.servers) || o.servers.length === 0) {
    throw new ConfigError('servers', 'expected at least one broker address (host:port)');
  }
  const servers = o.servers.map((s, i) => {
    if (typeof s !== 'string') throw new ConfigError(`servers[${i}]`, `expected host:port, got ${describeValue(s)}`);
    return parseAddress(s, `servers[${i}]`);
  });
  const seen = new Set<string>();
  servers.forEach((s, i) => {
    const key = `${s.host.toLowerCase()}:${s.port}`;
    if (seen.has(key)) throw new ConfigError(`servers[${i}]`, `duplicate address ${o.servers[i]}`);
    seen.add(key);
  });

  const d = RESILIENT_DEFAULTS;
  const retryInitialDelay = duration('retryInitialDelay', o.retryInitialDelay ?? d.retryInitialDelay, 0);
  const retryMaxDelay = duration('retryMaxDelay', o.retryMaxDelay ?? d.retryMaxDelay, 0);
  if (retryMaxDelay < retryInitialDelay) {
    throw new ConfigError('retryMaxDelay', `must be ≥ retryInitialDelay (${retryInitialDelay}), got ${retryMaxDelay}`);
  }
  const retryMultiplier = o.retryMultiplier ?? d.retryMultiplier;
  if (typeof retryMultiplier !== 'number' || !Number.isFinite(retryMultiplier) || retryMultiplier < 1) {
    throw new ConfigError('retryMultiplier', `expected a number ≥ 1, got ${describeValue(retryMultiplier)}`);
  }
  const retryJitter = o.retryJitter ?? d.retryJitter;
  if (typeof retryJitter !== 'number' || !(retryJitter >= 0 && retryJitter <= 1)) {
    throw new ConfigError('retryJitter', `expected a fraction in 0..1, got ${describeValue(retryJitter)}`);
  }
  const healthCheckEnabled = o.healthCheckEnabled ?? d.healthCheckEnabled;
  if (typeof healthCheckEnabled !== 'boolean') throw new ConfigError('healthCheckEnabled', `expected true or false, got ${describeValue(healthCheckEnabled)}`);
  const retryNonIdempotent = o.retryNonIdempotent ?? d.retryNonIdempotent;
  if (typeof retryNonIdempotent !== 'boolean') throw new ConfigError('retryNonIdempotent', `expected true or false, got ${describeValue(retryNonIdempotent)}`);
  if (o.random !== undefined && typeof o.random !== 'function') throw new ConfigError('random', 'expected a function returning [0, 1)');
  if (o.connectionFactory !== undefined && typeof o.connectionFactory !== 'function') {
    throw new ConfigError('connectionFactory', 'expected a function (address, options) => Observable of a connection');
  }
  if (o.connection !== undefined && (o.connection === null || typeof o.connection !== 'object')) {
    throw new ConfigError('connection', 'expected connection options (an object)');
  }
  validateConnectionOptions(o.connection, 'ResilientClient connection');
  if (o.scheduler !== undefined && (typeof o.scheduler !== 'object' || o.scheduler === null || typeof o.scheduler.now !== 'function')) {
    throw new ConfigError('scheduler', 'expected an RxJS SchedulerLike');
  }

  return {
    servers,
    poolSizePerServer: integer('poolSizePerServer', o.poolSizePerServer ?? d.poolSizePerServer, 1, 10_000),
    connectionTimeout: duration('connectionTimeout', o.connectionTimeout ?? d.connectionTimeout, 1),
    requestTimeout: duration('requestTimeout', o.requestTimeout ?? d.requestTimeout, 0),
    maxRetries: integer('maxRetries', o.maxRetries ?? d.maxRetries, 0, 1_000),
    retryInitialDelay,
    retryMaxDelay,
    retryMultiplier,
    retryJitter,
    circuitBreakerFailureThreshold: integer('circuitBreakerFailureThreshold', o.circuitBreakerFailureThreshold ?? d.circuitBreakerFailureThreshold, 1),
    circuitBreakerRecoveryTimeout: duration('circuitBreakerRecoveryTimeout', o.circuitBreakerRecoveryTimeout ?? d.circuitBreakerRecoveryTimeout, 0),
    circuitBreakerInitialRecoveryTimeout: duration('circuitBreakerInitialRecoveryTimeout', o.circuitBreakerInitialRecoveryTimeout ?? d.circuitBreakerInitialRecoveryTimeout, 0),
    maxConnectionLifetime: duration('maxConnectionLifetime', o.maxConnectionLifetime ?? d.maxConnectionLifetime, 1),
    idleTimeout: duration('idleTimeout', o.idleTimeout ?? d.idleTimeout, 0),
    healthCheckEnabled,
    healthCheckInterval: duration('healthCheckInterval', o.healthCheckInterval ?? d.healthCheckInterval, 1),
    healthEmitInterval: duration('healthEmitInterval', o.healthEmitInterval ?? d.healthEmitInterval, 0),
    retryNonIdempotent,
    connection: { ...(o.connection ?? {}) },
    scheduler: o.scheduler ?? asyncScheduler,
    random: o.random ?? Math.random,
    connectionFactory: o.connectionFactory,
  };
}
