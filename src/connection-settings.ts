/**
 * The connection settings every component takes under the same names — Producer, Consumer,
 * TransactionalProducer, ResilientClient, PipelinedClient, Client and the `Rivven` root — and the
 * one retry policy. A component's own options add to these, never rename them.
 *
 * Durations end in `Ms` everywhere and are capped at setTimeout's limit (settings-validation.ts).
 */
import type { SchedulerLike } from 'rxjs';
import { ConfigError } from './errors.js';
import type { Logger, LogLevel } from './observability/log.js';
import { describeValue, durationMs, integerIn, optionsObject, rejectUnknownKeys } from './settings-validation.js';
import type { AuthOptions } from './transport/authenticator.js';
import type { SocketFactory } from './transport/socket-factory.js';
import type { TlsOptions } from './transport/tls.js';
import { parseAddress } from './transport/address.js';

/**
 * Exponential backoff with jitter between attempts, and how many attempts in a row are made.
 * delay(n) = min(maxDelayMs, initialDelayMs × multiplier^n), spread over ±jitter of itself.
 */
export interface RetryPolicy {
  /** Attempts in a row, the first included, before the failure is reported (Infinity: no limit). */
  maxAttempts?: number;
  /** Delay before the second attempt, ms. */
  initialDelayMs?: number;
  /** Cap of the exponential delay, ms. */
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

/** The BackoffPolicy (backoff.ts) of a retry policy. */
export function backoffOf(policy: ResolvedRetryPolicy): { initialDelay: number; maxDelay: number; multiplier: number; jitter: number } {
  return { initialDelay: policy.initialDelayMs, maxDelay: policy.maxDelayMs, multiplier: policy.multiplier, jitter: policy.jitter };
}
