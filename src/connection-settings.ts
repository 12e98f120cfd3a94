/**
 * The settings every component takes under the same names — Producer, Consumer,
 * TransactionalProducer, ResilientClient, PipelinedClient, Client and the `Rivven` root — the one
 * retry policy, and their resolution: the one place where the shared settings are checked and
 * their defaults filled in (`resolveConnectionSettings`). A component's own options add to these,
 * never rename them; the component checks only its own keys.
 *
 * The config pattern of every component: `XxxConfig` is what the user passes (it extends
 * `ConnectionSettings`; everything optional but `bootstrapServers` and what the component cannot do
 * without), `ResolvedXxxConfig` what it becomes (it extends `ResolvedConnectionSettings`).
 *
 * Durations end in `Ms` everywhere and are capped at setTimeout's limit (settings-validation.ts).
 */
import type { Socket } from 'node:net';
import type { SecureVersion } from 'node:tls';
import type { SchedulerLike } from 'rxjs';
import { parseAddress, type BrokerAddress } from './broker-address.js';
import { ConfigError, type RivvenError } from './errors.js';
import { LOG_LEVELS, type Logger, type LogLevel } from './observability/log.js';
import { describeValue, durationMs, integerIn, oneOf, optionsObject, rejectUnknownKeys } from './settings-validation.js';

/**
 * Exponential backoff with jitter between attempts, and how many attempts in a row are made: the
 * wait before retry n is initialDelayMs × multiplier^n spread over ±jitter of itself, never above
 * maxDelayMs (jitter included). client/retrier.ts applies it, and holds each component's defaults.
 */
export interface RetryPolicy {
  /** Attempts in a row, the first included, before the failure is reported (Infinity: no limit). */
  maxAttempts?: number;
  /** Delay before the second attempt, ms. */
  initialDelayMs?: number;
  /** Longest wait between attempts, jitter included, ms. */
  maxDelayMs?: number;
  /** Growth of the delay per attempt, ≥ 1. Default 2. */
  multiplier?: number;
  /** Spread of each delay as a fraction of it, 0..1 (0.25 = ±25 %). Default 0.25. */
  jitter?: number;
}

/** A retry policy with every field set (the `retry` given, merged over a component's defaults). */
export type ResolvedRetryPolicy = Required<RetryPolicy>;

export const RETRY_POLICY_KEYS = ['maxAttempts', 'initialDelayMs', 'maxDelayMs', 'multiplier', 'jitter'] as const;

/** The settings shared by every component (and held once by `new Rivven(...)`). */
export interface ConnectionSettings {
  /** Brokers, in order of preference: `'host:port'` or a list of them. Failover walks the list. */
  bootstrapServers: string | readonly string[];
  /** Sent in the Handshake, shown in broker logs. */
  clientId?: string;
  /** Connect with TLS (and mTLS with a client certificate). */
  tls?: TlsOptions;
  /** Authenticate every connection: SCRAM-SHA-256 (recommended) or PLAIN (TLS only). */
  auth?: AuthOptions;
  /** Where sockets come from (TCP, or TLS when `tls` is set); custom factories for proxies and tests. */
  socketFactory?: SocketFactory;
  /** Time allowed to open a connection (TCP, TLS, handshake, authentication). */
  connectionTimeoutMs?: number;
  /** Default time to wait for a reply. */
  requestTimeoutMs?: number;
  /** Backoff and attempts when a connection or request fails. */
  retry?: RetryPolicy;
  /** Log sink (pino, console, …; null: silent) and level. Default: warnings and errors to stderr. */
  logger?: Logger | null;
  /** The least severe level logged. Default `warn`. */
  logLevel?: LogLevel;
}

/** PEM text, or a path to a PEM file. */
export type PemSource =
  | string
  | Buffer
  | {
      /** Path of a PEM file (read when the TLS settings are built). */
      path: string;
    };

/**
 * The `tls` setting: TLS and mTLS. Certificate and hostname verification are on unless an option
 * whose name says it is dangerous turns them off. `TlsConfig` (transport/sockets.ts) builds and checks one.
 */
export interface TlsOptions {
  /** CA certificate(s) that sign the broker's certificate. Default: the system's trust store. */
  ca?: PemSource | PemSource[];
  /** Client certificate for mTLS. */
  cert?: PemSource;
  /** Client private key for mTLS. */
  key?: PemSource;
  /** Passphrase of an encrypted client key. */
  passphrase?: string;
  /** Name to verify the broker's certificate against (and send as SNI). Default: the host. */
  serverName?: string;
  /** Lowest TLS version to accept. Default TLSv1.2. */
  minVersion?: SecureVersion;
  /**
   * Accept any certificate from any host. Only for throwaway local setups: it makes TLS useless
   * against an active attacker.
   */
  dangerouslyDisableCertificateVerification?: boolean;
}

/**
 * The `auth` setting: SCRAM-SHA-256 (preferred) or PLAIN (only over TLS unless the user says
 * otherwise, loudly). Every connection kind authenticates with it (transport/session.ts).
 */
export type AuthOptions =
  | {
      /** SCRAM-SHA-256: the password never crosses the wire. */
      mechanism: 'scram-sha-256';
      /** The user to authenticate as. */
      username: string;
      /** The user's password (never logged, never in an error). */
      password: string;
    }
  | {
      /** PLAIN: the password is sent as is (TLS only, unless `dangerouslyAllowPlainWithoutTls`). */
      mechanism: 'plain';
      /** The user to authenticate as. */
      username: string;
      /** The user's password (never logged, never in an error). */
      password: string;
      /**
       * PLAIN sends the password as is. Without TLS anyone on the path can read it, so the
       * client refuses unless this is set — and then it also stops asking the broker to insist
       * on TLS (`require_tls`).
       */
      dangerouslyAllowPlainWithoutTls?: boolean;
    };

/**
 * The `socketFactory` setting: how a connection gets its socket. Plain TCP by default, TLS when
 * `tls` is set (transport/sockets.ts); the connection never knows which.
 */
export interface SocketFactory {
  /** A human-readable name for errors and health (`tcp`, `tls`). */
  readonly kind: string;
  /** True when bytes are encrypted on the wire (PLAIN authentication is allowed only then). */
  readonly encrypted?: boolean;
  /** Start connecting; `onReady` fires once bytes can flow (after the TLS handshake, for TLS). */
  open(address: BrokerAddress, onReady: () => void): Socket;
  /** Turn a socket error into a specific typed error (e.g. a TLS certificate problem), if it is one. */
  classifyError?(error: NodeJS.ErrnoException, socket: Socket, address: BrokerAddress): RivvenError | undefined;
}

/** The keys of ConnectionSettings: every component accepts each of them. */
export const CONNECTION_SETTING_KEYS = [
  'bootstrapServers',
  'clientId',
  'tls',
  'auth',
  'socketFactory',
  'connectionTimeoutMs',
  'requestTimeoutMs',
  'retry',
  'logger',
  'logLevel',
] as const;

export type ConnectionSettingKey = (typeof CONNECTION_SETTING_KEYS)[number];

/** Options only tests and custom runtimes set; every component accepts it next to the shared ones. */
export interface SchedulerOption {
  /** Scheduler for timers (tests use virtual time). */
  scheduler?: SchedulerLike;
}

/**
 * The server list of `bootstrapServers`: one `'host:port'` or a non-empty list of them, each
 * checked (so a typo fails at creation, not on the first connect).
 */
export function resolveBootstrapServers(value: unknown, option = 'bootstrapServers'): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigError(option, `expected 'host:port' or a non-empty list of them, got ${describeValue(value)}`);
  }
  list.forEach((server: unknown, i) => {
    if (typeof server !== 'string') throw new ConfigError(`${option}[${i}]`, `expected 'host:port', got ${describeValue(server)}`);
    parseAddress(server, `${option}[${i}]`);
  });
  return [...(list as string[])];
}

/**
 * The `retry` setting merged over a component's defaults, each field checked: an unknown field is
 * refused with the closest name, as everywhere.
 */
export function resolveRetryPolicy(value: RetryPolicy | undefined, defaults: Readonly<ResolvedRetryPolicy>, option = 'retry'): ResolvedRetryPolicy {
  const input = retryInput(value, option);
  const policy: ResolvedRetryPolicy = {
    maxAttempts: input.maxAttempts ?? defaults.maxAttempts,
    initialDelayMs: input.initialDelayMs ?? defaults.initialDelayMs,
    maxDelayMs: input.maxDelayMs ?? defaults.maxDelayMs,
    multiplier: input.multiplier ?? defaults.multiplier,
    jitter: input.jitter ?? defaults.jitter,
  };
  checkRetryFields(policy, option);
  return policy;
}

/** The `retry` setting checked as given, before any component's defaults are merged (the Rivven root's check). */
export function checkRetryPolicy(value: RetryPolicy | undefined, option = 'retry'): void {
  checkRetryFields(retryInput(value, option), option);
}

function retryInput(value: RetryPolicy | undefined, option: string): RetryPolicy {
  const input = optionsObject<RetryPolicy>(option, value);
  rejectUnknownKeys(option, input, RETRY_POLICY_KEYS);
  return input;
}

/** Each field that is set, in range; maxDelayMs ≥ initialDelayMs when both are. */
function checkRetryFields(policy: RetryPolicy, option: string): void {
  const { maxAttempts, initialDelayMs, maxDelayMs, multiplier, jitter } = policy;
  if (maxAttempts !== undefined && maxAttempts !== Number.POSITIVE_INFINITY) integerIn(`${option}.maxAttempts`, maxAttempts, 1);
  if (initialDelayMs !== undefined) durationMs(`${option}.initialDelayMs`, initialDelayMs, 0);
  if (maxDelayMs !== undefined) durationMs(`${option}.maxDelayMs`, maxDelayMs, 0);
  if (initialDelayMs !== undefined && maxDelayMs !== undefined && maxDelayMs < initialDelayMs) {
    throw new ConfigError(`${option}.maxDelayMs`, `must be ≥ initialDelayMs (${initialDelayMs}), got ${maxDelayMs}`);
  }
  if (multiplier !== undefined && (typeof multiplier !== 'number' || !Number.isFinite(multiplier) || multiplier < 1 || multiplier > 100)) {
    throw new ConfigError(`${option}.multiplier`, `expected a number in 1..100, got ${describeValue(multiplier)}`);
  }
  if (jitter !== undefined && (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1))) {
    throw new ConfigError(`${option}.jitter`, `expected a fraction in 0..1, got ${describeValue(jitter)}`);
  }
}

/** The defaults of the shared settings, the same for every component (each names its own `clientId` default). */
export const CONNECTION_SETTING_DEFAULTS = Object.freeze({
  clientId: 'rivven-rx',
  connectionTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
});

/** The shared settings resolved: checked, the server list as a list, the defaults filled in. */
export interface ResolvedConnectionSettings {
  /** The servers, in order of preference. */
  bootstrapServers: string[];
  /** Sent in the Handshake (default `rivven-rx`, or the component's own default). */
  clientId: string;
  /** The `tls` setting, if given. */
  tls: TlsOptions | undefined;
  /** The `auth` setting, if given. */
  auth: AuthOptions | undefined;
  /** The `socketFactory` setting, if given (otherwise TCP, or TLS when `tls` is set). */
  socketFactory: SocketFactory | undefined;
  /** Default 10,000 ms. */
  connectionTimeoutMs: number;
  /** Default 30,000 ms (0: none). */
  requestTimeoutMs: number;
  /** The `retry` given, merged over the component's defaults (RETRY_DEFAULTS in client/retrier.ts). */
  retry: ResolvedRetryPolicy;
  /** The `logger` setting as given (`undefined`: the default stderr sink; `null`: silent). */
  logger: Logger | null | undefined;
  /** The `logLevel` setting as given (`undefined`: `warn`). */
  logLevel: LogLevel | undefined;
}

/** What a component tells the resolver about itself. */
export interface ComponentSettings {
  /** The component's own option names; with the shared ones, every key it accepts (any other is refused). */
  ownKeys: readonly string[];
  /** Its `retry` defaults. */
  retry: Readonly<ResolvedRetryPolicy>;
  /** Its `clientId` when none is given. Default `'rivven-rx'`. */
  clientId?: string;
}

/**
 * The shared settings of a component's options, resolved — the one place where they are checked
 * and their defaults filled in, for every component. Keys that are neither shared nor the
 * component's own are refused with the closest name; the component checks the values of its own.
 */
export function resolveConnectionSettings(component: string, options: object | undefined, { ownKeys, retry, clientId }: ComponentSettings): ResolvedConnectionSettings {
  const o = sharedInput(component, options, ownKeys);
  const bootstrapServers = resolveBootstrapServers(o.bootstrapServers);
  checkConnectionSettingValues(o);
  return {
    bootstrapServers,
    clientId: o.clientId ?? clientId ?? CONNECTION_SETTING_DEFAULTS.clientId,
    tls: o.tls,
    auth: o.auth,
    socketFactory: o.socketFactory,
    connectionTimeoutMs: o.connectionTimeoutMs ?? CONNECTION_SETTING_DEFAULTS.connectionTimeoutMs,
    requestTimeoutMs: o.requestTimeoutMs ?? CONNECTION_SETTING_DEFAULTS.requestTimeoutMs,
    retry: resolveRetryPolicy(o.retry, retry),
    logger: o.logger,
    logLevel: o.logLevel,
  };
}

/**
 * The shared settings checked as `resolveConnectionSettings` checks them, without filling defaults:
 * for the Rivven root, whose components fill in their own.
 */
export function checkConnectionSettings(component: string, options: object | undefined, ownKeys: readonly string[] = []): void {
  const o = sharedInput(component, options, ownKeys);
  resolveBootstrapServers(o.bootstrapServers);
  checkConnectionSettingValues(o);
  checkRetryPolicy(o.retry);
}

function sharedInput(component: string, options: object | undefined, ownKeys: readonly string[]): Partial<ConnectionSettings> {
  const o = optionsObject<Partial<ConnectionSettings>>(component, options as Partial<ConnectionSettings> | undefined);
  rejectUnknownKeys(component, o, [...CONNECTION_SETTING_KEYS, ...ownKeys]);
  return o;
}

/**
 * The value of each shared setting a connection takes (`clientId`, the two timeouts, `tls`,
 * `auth`, `socketFactory`, `logger`, `logLevel`), where set. Also what a Connection's own options
 * check is made of (transport/connection-options.ts).
 */
export function checkConnectionSettingValues(options: object): void {
  const o = options as Readonly<Record<string, unknown>>;
  if (o.clientId !== undefined && (typeof o.clientId !== 'string' || o.clientId.length === 0 || Buffer.byteLength(o.clientId) > 256)) {
    throw new ConfigError('clientId', `expected a non-empty string of at most 256 bytes, got ${describeValue(o.clientId)}`);
  }
  if (o.connectionTimeoutMs !== undefined) durationMs('connectionTimeoutMs', o.connectionTimeoutMs, 0);
  if (o.connectionTimeoutMs === 0) throw new ConfigError('connectionTimeoutMs', 'must be > 0 (a connection attempt needs a deadline)');
  if (o.requestTimeoutMs !== undefined) durationMs('requestTimeoutMs', o.requestTimeoutMs, 0);
  plainObject('auth', o.auth);
  plainObject('tls', o.tls);
  if (o.socketFactory !== undefined) {
    const factory = o.socketFactory as { open?: unknown; kind?: unknown } | null;
    if (typeof factory !== 'object' || factory === null || typeof factory.open !== 'function' || typeof factory.kind !== 'string') {
      throw new ConfigError('socketFactory', `expected { kind: string, open(address, onReady): Socket }, got ${describeValue(o.socketFactory)}`);
    }
  }
  if (o.logger !== undefined && o.logger !== null) {
    const logger = o.logger as Record<string, unknown>;
    const missing = ['debug', 'info', 'warn', 'error'].filter((m) => typeof logger[m] !== 'function');
    if (typeof o.logger !== 'object' || missing.length > 0) {
      throw new ConfigError(
        'logger',
        `expected an object with debug/info/warn/error(fields, message) (pino, console, …) or null, got ${describeValue(o.logger)}` +
          `${missing.length > 0 && typeof o.logger === 'object' ? ` without ${missing.join(', ')}` : ''}`,
      );
    }
  }
  if (o.logLevel !== undefined) oneOf('logLevel', o.logLevel, LOG_LEVELS);
}

/** The `scheduler` option (SchedulerOption): an RxJS SchedulerLike, or undefined. */
export function checkScheduler(value: unknown): SchedulerLike | undefined {
  if (value === undefined) return undefined;
  const scheduler = value as { now?: unknown; schedule?: unknown } | null;
  if (typeof scheduler !== 'object' || scheduler === null || typeof scheduler.now !== 'function' || typeof scheduler.schedule !== 'function') {
    throw new ConfigError('scheduler', `expected an RxJS SchedulerLike, got ${describeValue(value)}`);
  }
  return value as SchedulerLike;
}

function plainObject(option: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(option, `expected an object, got ${describeValue(value)}`);
  }
}
