/**
 * ResilientClient configuration: the shared connection settings (resolved in
 * connection-settings.ts) under the names every component uses, plus the client's own options —
 * rivven-client's `ResilientClientConfig` in camelCase, same defaults, durations ending in `Ms` —
 * validated once, at creation, with errors naming the option.
 */
import { asyncScheduler, type Observable, type SchedulerLike } from 'rxjs';
import { CONNECTION_SETTING_DEFAULTS, CONNECTION_SETTING_KEYS, checkScheduler, resolveConnectionSettings, type ConnectionSettings, type ResolvedConnectionSettings, type SchedulerOption } from '../connection-settings.js';
import { ConfigError } from '../errors.js';
import { describeValue, durationMs, integerIn, optionsObject, rejectUnknownKeys } from '../settings-validation.js';
import type { RequestInput } from '../protocol/request-schema.js';
import type { Response } from '../protocol/response-schema.js';
import { parseAddress, type BrokerAddress } from '../broker-address.js';
import { connectionKnobsOf, connectionOptionsOf } from '../transport/connection-options.js';
import type { ConnectionOptions, ConnectionState, RequestOptions } from '../transport/connection-types.js';
import type { RandomSource } from './retrier.js';
import { RETRY_DEFAULTS } from './retrier.js';

/** What the pool needs from a connection. `Connection` is one; tests plug in fakes. */
export interface PoolableConnection {
  /** The connection's current state; only `ready` connections take requests. */
  readonly state: ConnectionState;
  /** The state, then every change. */
  readonly state$: Observable<ConnectionState>;
  /** Send one request; emits the reply and completes (cold, cancellable). */
  request$(request: RequestInput, options?: RequestOptions): Observable<Response>;
  /** Close the connection (replies still in flight get a grace period). */
  close(): Promise<void>;
}

/** Opens one ready connection (emits it once) or errors. Cold; unsubscribing abandons the attempt. */
export type ConnectionFactory = (address: BrokerAddress, options: ConnectionOptions) => Observable<PoolableConnection>;

/** The per-connection knobs that are not shared settings: only these go in `connection`. */
export const RESILIENT_CONNECTION_KEYS = ['writeLingerUs', 'maxWriteBatch', 'quickAck', 'closeTimeoutMs', 'reauthenticateAt', 'responseLimits'] as const;

export type ResilientConnectionOptions = Pick<ConnectionOptions, (typeof RESILIENT_CONNECTION_KEYS)[number]>;

/**
 * What `new ResilientClient(...)` takes: `bootstrapServers`, the other shared settings
 * (`clientId`, `tls`, `auth`, `socketFactory`, `connectionTimeoutMs`, `requestTimeoutMs`, `retry`,
 * `logger`, `logLevel`), `scheduler`, and the client's own options below.
 *
 * `connectionTimeoutMs` (default 10,000) bounds opening a pooled connection; `requestTimeoutMs`
 * (default 30,000; 0 = none) bounds each attempt. `retry` paces failover: up to `maxAttempts`
 * attempts in all (default 4: the first and 3 retries), each on the next server, after
 * `initialDelayMs` (100) growing by `multiplier` (2) up to `maxDelayMs` (5,000), ±`jitter` (0.25).
 */
export interface ResilientClientConfig extends ConnectionSettings, SchedulerOption {
  /** Most connections kept open to each server. Default 10. */
  poolSizePerServer?: number;
  /** Consecutive failures that open a server's circuit. Default 5. */
  circuitBreakerFailureThreshold?: number;
  /** The longest an open circuit refuses requests before one probe. Default 30,000 ms. */
  circuitBreakerRecoveryTimeoutMs?: number;
  /**
   * How long a circuit stays open the first time; it doubles with every failed probe up to
   * `circuitBreakerRecoveryTimeoutMs` and starts again once the server is healthy. So a broker that
   * restarts is used again about a second after it is back. Default 1,000 ms.
   */
  circuitBreakerInitialRecoveryTimeoutMs?: number;
  /** Connections older than this are retired (after their in-flight requests finish). Default 300,000 ms. */
  maxConnectionLifetimeMs?: number;
  /** Connections idle longer than this are closed (0 = never). Default 60,000 ms. */
  idleTimeoutMs?: number;
  /** Ping every server periodically (and probe Half-Open circuits at once). Default true. */
  healthCheckEnabled?: boolean;
  /** Interval between health-check pings. Default 30,000 ms. */
  healthCheckIntervalMs?: number;
  /**
   * `health$` emits breaker and pool changes at once; counter-only changes (a request finished)
   * are coalesced to at most one emission per this many ms. Default 1,000.
   */
  healthEmitIntervalMs?: number;
  /**
   * Also retry requests that are not idempotent (Publish, CreateTopic, transactions, …) after
   * failures where they may have reached the broker. Their effect may then happen twice. Default false.
   */
  retryNonIdempotent?: boolean;
  /**
   * Advanced knobs of every pooled connection that are not shared settings: write linger, write
   * batch, quick ACK, close grace, re-authentication point, reply decode limits. The shared ones
   * (`clientId`, `tls`, `auth`, …) are set at top level, as for every component.
   */
  connection?: ResilientConnectionOptions;
  /** Random source for jitter (tests). Default Math.random. */
  random?: RandomSource;
  /** Where connections come from (default: `Connection.connect$`). For custom transports and tests. */
  connectionFactory?: ConnectionFactory;
}

/**
 * The resolved configuration: every default filled in. Each field is the `ResilientClientConfig`
 * option of the same name.
 * @property poolSizePerServer Most connections kept open to each server.
 * @property circuitBreakerFailureThreshold Consecutive failures that open a server's circuit.
 * @property circuitBreakerRecoveryTimeoutMs The longest an open circuit refuses requests before one probe, in milliseconds.
 * @property circuitBreakerInitialRecoveryTimeoutMs How long a circuit stays open the first time, in milliseconds.
 * @property maxConnectionLifetimeMs Age at which connections are retired, in milliseconds.
 * @property idleTimeoutMs Idle time after which connections are closed, in milliseconds (0: never).
 * @property healthCheckEnabled Whether every server is pinged periodically.
 * @property healthCheckIntervalMs Interval between health-check pings, in milliseconds.
 * @property healthEmitIntervalMs Most one counter-only `health$` emission per this many milliseconds.
 * @property retryNonIdempotent Whether requests that are not idempotent are retried too.
 * @property scheduler Where the client's timers run.
 * @property random The random source for jitter.
 * @property connectionFactory Where connections come from (undefined: `Connection.connect$`).
 */
export interface ResolvedResilientClientConfig extends ResolvedConnectionSettings {
  /** `bootstrapServers` parsed, in the same order. */
  servers: BrokerAddress[];
  poolSizePerServer: number;
  circuitBreakerFailureThreshold: number;
  circuitBreakerRecoveryTimeoutMs: number;
  circuitBreakerInitialRecoveryTimeoutMs: number;
  maxConnectionLifetimeMs: number;
  idleTimeoutMs: number;
  healthCheckEnabled: boolean;
  healthCheckIntervalMs: number;
  healthEmitIntervalMs: number;
  retryNonIdempotent: boolean;
  /** What every pooled connection is opened with: the shared settings, the advanced knobs, timeouts, scheduler. */
  connection: ConnectionOptions;
  scheduler: SchedulerLike;
  random: RandomSource;
  connectionFactory: ConnectionFactory | undefined;
}

/**
 * The ResilientClient's defaults, option by option (see `ResilientClientConfig`).
 * @namespace
 * @property poolSizePerServer Default of `poolSizePerServer`.
 * @property connectionTimeoutMs Default of `connectionTimeoutMs`.
 * @property requestTimeoutMs Default of `requestTimeoutMs`.
 * @property retry Default of `retry` (the failover backoff).
 * @property circuitBreakerFailureThreshold Default of `circuitBreakerFailureThreshold`.
 * @property circuitBreakerRecoveryTimeoutMs Default of `circuitBreakerRecoveryTimeoutMs`.
 * @property circuitBreakerInitialRecoveryTimeoutMs Default of `circuitBreakerInitialRecoveryTimeoutMs`.
 * @property maxConnectionLifetimeMs Default of `maxConnectionLifetimeMs`.
 * @property idleTimeoutMs Default of `idleTimeoutMs`.
 * @property healthCheckEnabled Default of `healthCheckEnabled`.
 * @property healthCheckIntervalMs Default of `healthCheckIntervalMs`.
 * @property healthEmitIntervalMs Default of `healthEmitIntervalMs`.
 * @property retryNonIdempotent Default of `retryNonIdempotent`.
 */
export const RESILIENT_DEFAULTS = Object.freeze({
  poolSizePerServer: 10,
  connectionTimeoutMs: CONNECTION_SETTING_DEFAULTS.connectionTimeoutMs,
  requestTimeoutMs: CONNECTION_SETTING_DEFAULTS.requestTimeoutMs,
  retry: RETRY_DEFAULTS.ResilientClient,
  circuitBreakerFailureThreshold: 5,
  circuitBreakerRecoveryTimeoutMs: 30_000,
  circuitBreakerInitialRecoveryTimeoutMs: 1_000,
  maxConnectionLifetimeMs: 300_000,
  idleTimeoutMs: 60_000,
  healthCheckEnabled: true,
  healthCheckIntervalMs: 30_000,
  healthEmitIntervalMs: 1_000,
  retryNonIdempotent: false,
});

const RESILIENT_OWN_KEYS = [
  'poolSizePerServer',
  'circuitBreakerFailureThreshold',
  'circuitBreakerRecoveryTimeoutMs',
  'circuitBreakerInitialRecoveryTimeoutMs',
  'maxConnectionLifetimeMs',
  'idleTimeoutMs',
  'healthCheckEnabled',
  'healthCheckIntervalMs',
  'healthEmitIntervalMs',
  'retryNonIdempotent',
  'connection',
  'random',
  'connectionFactory',
] as const satisfies readonly (keyof ResilientClientConfig)[];

/** Settings a pooled connection takes that are set once, at top level (shared, or the client's own). */
const TOP_LEVEL_IN_CONNECTION: readonly string[] = [...CONNECTION_SETTING_KEYS, 'scheduler'];


/** The advanced per-connection knobs; a shared setting here is refused, pointing to the top level. */
function resolveConnectionKnobs(value: ResilientConnectionOptions | undefined): ResilientConnectionOptions {
  const knobs = optionsObject<ResilientConnectionOptions>('ResilientClient connection', value);
  for (const key of Object.keys(knobs)) {
    if (TOP_LEVEL_IN_CONNECTION.includes(key)) {
      throw new ConfigError(
        `connection.${key}`,
        `'${key}' is a shared setting: set it at top level — new ResilientClient({ bootstrapServers, ${key}, … }) — not inside 'connection' ` +
          `(which takes only ${RESILIENT_CONNECTION_KEYS.join(', ')})`,
      );
    }
  }
  rejectUnknownKeys('ResilientClient connection', knobs, RESILIENT_CONNECTION_KEYS);
  return connectionKnobsOf(knobs, RESILIENT_CONNECTION_KEYS);
}

function booleanOption(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(option, `expected true or false, got ${describeValue(value)}`);
  return value;
}

/** Apply defaults and validate. Throws ConfigError naming the first bad option. */
export function resolveResilientConfig(input: ResilientClientConfig): ResolvedResilientClientConfig {
  const o = optionsObject<ResilientClientConfig>('ResilientClient', input);
  const shared = resolveConnectionSettings('ResilientClient', o, { ownKeys: ['scheduler', ...RESILIENT_OWN_KEYS], retry: RESILIENT_DEFAULTS.retry });
  const { bootstrapServers } = shared;
  const servers = bootstrapServers.map((s, i) => parseAddress(s, `bootstrapServers[${i}]`));
  const seen = new Set<string>();
  servers.forEach((s, i) => {
    const key = `${s.host.toLowerCase()}:${s.port}`;
    if (seen.has(key)) throw new ConfigError(`bootstrapServers[${i}]`, `duplicate address ${bootstrapServers[i]}`);
    seen.add(key);
  });
  const knobs = resolveConnectionKnobs(o.connection);
  const scheduler = checkScheduler(o.scheduler) ?? asyncScheduler;
  const connection: ConnectionOptions = { ...connectionOptionsOf(shared), ...knobs, scheduler };

  if (o.random !== undefined && typeof o.random !== 'function') throw new ConfigError('random', 'expected a function returning [0, 1)');
  if (o.connectionFactory !== undefined && typeof o.connectionFactory !== 'function') {
    throw new ConfigError('connectionFactory', 'expected a function (address, options) => Observable of a connection');
  }

  const d = RESILIENT_DEFAULTS;
  return {
    ...shared,
    servers,
    poolSizePerServer: integerIn('poolSizePerServer', o.poolSizePerServer ?? d.poolSizePerServer, 1, 10_000),
    circuitBreakerFailureThreshold: integerIn('circuitBreakerFailureThreshold', o.circuitBreakerFailureThreshold ?? d.circuitBreakerFailureThreshold, 1),
    circuitBreakerRecoveryTimeoutMs: durationMs('circuitBreakerRecoveryTimeoutMs', o.circuitBreakerRecoveryTimeoutMs ?? d.circuitBreakerRecoveryTimeoutMs, 0),
    circuitBreakerInitialRecoveryTimeoutMs: durationMs(
      'circuitBreakerInitialRecoveryTimeoutMs',
      o.circuitBreakerInitialRecoveryTimeoutMs ?? d.circuitBreakerInitialRecoveryTimeoutMs,
      0,
    ),
    maxConnectionLifetimeMs: durationMs('maxConnectionLifetimeMs', o.maxConnectionLifetimeMs ?? d.maxConnectionLifetimeMs, 1),
    idleTimeoutMs: durationMs('idleTimeoutMs', o.idleTimeoutMs ?? d.idleTimeoutMs, 0),
    healthCheckEnabled: booleanOption('healthCheckEnabled', o.healthCheckEnabled ?? d.healthCheckEnabled),
    healthCheckIntervalMs: durationMs('healthCheckIntervalMs', o.healthCheckIntervalMs ?? d.healthCheckIntervalMs, 1),
    healthEmitIntervalMs: durationMs('healthEmitIntervalMs', o.healthEmitIntervalMs ?? d.healthEmitIntervalMs, 0),
    retryNonIdempotent: booleanOption('retryNonIdempotent', o.retryNonIdempotent ?? d.retryNonIdempotent),
    connection,
    scheduler,
    random: o.random ?? Math.random,
    connectionFactory: o.connectionFactory,
  };
}
