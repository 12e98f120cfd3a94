/**
 * The connection settings every component takes under the same names — Producer, Consumer,
 * TransactionalProducer, ResilientClient, PipelinedClient, Client and the `Rivven` root — and the
 * one retry policy. A component's own options add to these, never rename them.
 *
 * Durations end in `Ms` everywhere and are capped at setTimeout's limit (settings-validation.ts).
 */
import type { Socket } from 'node:net';
import type { SecureVersion } from 'node:tls';
import type { SchedulerLike } from 'rxjs';
import { parseAddress, type BrokerAddress } from './broker-address.js';
import { ConfigError, type RivvenError } from './errors.js';
import type { Logger, LogLevel } from './observability/log.js';
import { describeValue, durationMs, integerIn, optionsObject, rejectUnknownKeys } from './settings-validation.js';

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
  logLevel?: LogLevel;
}

/** PEM text, or a path to a PEM file. */
export type PemSource = string | Buffer | { path: string };

/**
 * The `tls` setting: TLS and mTLS. Certificate and hostname verification are on unless an option
 * whose name says it is dangerous turns them off. `TlsConfig` (transport/tls.ts) builds and checks one.
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
 * otherwise, loudly). Every connection kind authenticates with it (transport/authenticator.ts).
 */
export type AuthOptions =
  | {
      mechanism: 'scram-sha-256';
      username: string;
      password: string;
    }
  | {
      mechanism: 'plain';
      username: string;
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
 * `tls` is set (transport/socket-factory.ts, transport/tls.ts); the connection never knows which.
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
export function resolveRetryPolicy(value: RetryPolicy | undefined, defaults: ResolvedRetryPolicy, option = 'retry'): ResolvedRetryPolicy {
  const input = optionsObject<RetryPolicy>(option, value);
  rejectUnknownKeys(option, input, RETRY_POLICY_KEYS);
  const policy: ResolvedRetryPolicy = {
    maxAttempts: input.maxAttempts ?? defaults.maxAttempts,
    initialDelayMs: input.initialDelayMs ?? defaults.initialDelayMs,
    maxDelayMs: input.maxDelayMs ?? defaults.maxDelayMs,
    multiplier: input.multiplier ?? defaults.multiplier,
    jitter: input.jitter ?? defaults.jitter,
  };
  if (policy.maxAttempts !== Number.POSITIVE_INFINITY) integerIn(`${option}.maxAttempts`, policy.maxAttempts, 1);
  durationMs(`${option}.initialDelayMs`, policy.initialDelayMs, 0);
  durationMs(`${option}.maxDelayMs`, policy.maxDelayMs, 0);
  if (policy.maxDelayMs < policy.initialDelayMs) {
    throw new ConfigError(`${option}.maxDelayMs`, `must be ≥ initialDelayMs (${policy.initialDelayMs}), got ${policy.maxDelayMs}`);
  }
  if (typeof policy.multiplier !== 'number' || !Number.isFinite(policy.multiplier) || policy.multiplier < 1 || policy.multiplier > 100) {
    throw new ConfigError(`${option}.multiplier`, `expected a number in 1..100, got ${describeValue(policy.multiplier)}`);
  }
  if (typeof policy.jitter !== 'number' || !(policy.jitter >= 0 && policy.jitter <= 1)) {
    throw new ConfigError(`${option}.jitter`, `expected a fraction in 0..1, got ${describeValue(policy.jitter)}`);
  }
  return policy;
}

