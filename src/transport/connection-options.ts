/**
 * Up-front checks of what `Connection.connect$` is given: an address that is not `host:port`, an
 * option of the wrong type or a key that does not exist is a `ConfigError` (not retriable) before
 * any timer or socket exists — so a bad call fails once, typed, and leaves nothing behind. And
 * the defaults of the options that pass, so what a Connection is given is read in one place.
 */
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { ConfigError } from '../errors.js';
import { resolveBootstrapServers, resolveRetryPolicy, type AuthOptions, type ConnectionSettings, type ResolvedRetryPolicy, type SocketFactory } from '../connection-settings.js';
import { LOG_LEVELS } from '../observability/log.js';
import { MAX_TIMER_MS, describeValue, durationMs, oneOf, optionsObject, rejectUnknownKeys } from '../settings-validation.js';
import { resolveResponseLimits } from '../protocol/decode-limits.js';
import { formatAddress, parseAddress, type BrokerAddress } from '../broker-address.js';
import type { ConnectionOptions } from './connection-types.js';
import { tcpSocketFactory } from './socket-factory.js';
import { tlsSocketFactory } from './tls.js';

export const CONNECTION_OPTION_KEYS = [
  'clientId',
  'connectionTimeoutMs',
  'requestTimeoutMs',
  'closeTimeoutMs',
  'auth',
  'tls',
  'socketFactory',
  'reauthenticateAt',
  'scheduler',
  'writeLingerUs',
  'maxWriteBatch',
  'quickAck',
  'responseLimits',
  'logger',
  'logLevel',
] as const;

/** The Connection's own knobs, next to the shared settings of a component that opens connections itself (Client, PipelinedClient). */
export type ConnectionKnobs = Pick<
  ConnectionOptions,
  'closeTimeoutMs' | 'reauthenticateAt' | 'scheduler' | 'writeLingerUs' | 'maxWriteBatch' | 'quickAck' | 'responseLimits'
>;

/** The shared settings (connection-settings.ts) and the Connection's knobs: what Client and PipelinedClient take. */
export interface ConnectionSettingsWithKnobs extends ConnectionSettings, ConnectionKnobs {}

export interface ResolvedConnectionSettings {
  /** The servers to connect to, in order of preference. */
  bootstrapServers: string[];
  retry: ResolvedRetryPolicy;
  /** What each Connection is opened with (no bootstrapServers, retry or component option). */
  connection: ConnectionOptions;
}

/**
 * Check the settings of a component that opens connections itself: every key (the shared ones,
 * the Connection's knobs except `excludedKeys`, and the component's `ownKeys`), the server list
 * and the retry policy. The component checks the values of its own keys.
 */
export function resolveConnectionSettings(
  options: unknown,
  component: string,
  {
    ownKeys,
    excludedKeys = [],
    formerNames = {},
    retryDefaults,
  }: { ownKeys: readonly string[]; excludedKeys?: readonly string[]; formerNames?: Readonly<Record<string, string>>; retryDefaults: ResolvedRetryPolicy },
): ResolvedConnectionSettings {
  const input = optionsObject<Record<string, unknown>>(component, options as Record<string, unknown> | undefined);
  const knobs = CONNECTION_OPTION_KEYS.filter((key) => !excludedKeys.includes(key));
  rejectUnknownKeys(component, input, [...knobs, 'bootstrapServers', 'retry', ...ownKeys], formerNames);
  const { bootstrapServers, retry, ...rest } = input;
  const connection: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) if (!ownKeys.includes(key)) connection[key] = value;
  validateConnectionOptions(connection, component);
  return {
    bootstrapServers: resolveBootstrapServers(bootstrapServers),
    retry: resolveRetryPolicy(retry as ConnectionSettings['retry'], retryDefaults),
    connection: connection as ConnectionOptions,
  };
}

/**
 * The options of one connection opened with a component's settings: the shared keys a connection
 * takes, mapped one to one (unset ones left out, so the connection's defaults hold). `retry` is not
 * among them: each component paces its own attempts.
 */
export function connectionOptionsOf(settings: Omit<ConnectionSettings, 'bootstrapServers' | 'retry'>): ConnectionOptions {
  const { clientId, connectionTimeoutMs, requestTimeoutMs, auth, tls, socketFactory, logger, logLevel } = settings;
  const all = { clientId, connectionTimeoutMs, requestTimeoutMs, auth, tls, socketFactory, logger, logLevel };
  return Object.fromEntries(Object.entries(all).filter(([, value]) => value !== undefined)) as ConnectionOptions;
}

/** A broker address: `'host:port'` (IPv6 as `'[addr]:port'`) or `{ host, port }`. */
export function validateAddress(address: unknown, option = 'address'): BrokerAddress {
  if (typeof address === 'string') return parseAddress(address, option);
  if (typeof address === 'object' && address !== null && !Array.isArray(address)) {
    const { host, port } = address as { host?: unknown; port?: unknown };
    if (typeof host !== 'string' || host.trim() === '') {
      throw new ConfigError(`${option}.host`, `expected a host name or IP address, got ${describeValue(host)}`);
    }
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ConfigError(`${option}.port`, `expected a port 1-65535, got ${describeValue(port)}`);
    }
    return { host, port };
  }
  const hint = typeof address === 'number' ? ` (for a port on this machine write '127.0.0.1:${address}')` : '';
  throw new ConfigError(option, `expected 'host:port' or { host, port }, got ${describeValue(address)}${hint}`);
}

function nonNegativeMs(option: string, value: unknown): void {
  if (value !== undefined) durationMs(option, value, 0);
}

function plainObject(option: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(option, `expected an object, got ${describeValue(value)}`);
  }
}

/** Refuse keys that `known` does not list, naming the closest known one (the one validator's rule). */
export const rejectUnknownOptionKeys = rejectUnknownKeys;

/**
 * Check every connection option's type and range. `extraKeys` are keys a wrapper (Client,
 * PipelinedClient) accepts and strips before they reach the connection.
 */
export function validateConnectionOptions(options: unknown, component = 'Connection', extraKeys: readonly string[] = []): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError('options', `${component} expects an options object, got ${describeValue(options)}`);
  }
  rejectUnknownOptionKeys(component, options, [...CONNECTION_OPTION_KEYS, ...extraKeys]);
  const o = options as Record<string, unknown>;
  if (o.clientId !== undefined && (typeof o.clientId !== 'string' || o.clientId.length === 0 || Buffer.byteLength(o.clientId) > 256)) {
    throw new ConfigError('clientId', `expected a non-empty string of at most 256 bytes, got ${describeValue(o.clientId)}`);
  }
  nonNegativeMs('connectionTimeoutMs', o.connectionTimeoutMs);
  if (o.connectionTimeoutMs === 0) throw new ConfigError('connectionTimeoutMs', 'must be > 0 (a connection attempt needs a deadline)');
  nonNegativeMs('requestTimeoutMs', o.requestTimeoutMs);
  nonNegativeMs('closeTimeoutMs', o.closeTimeoutMs);
  plainObject('auth', o.auth);
  plainObject('tls', o.tls);
  if (o.socketFactory !== undefined) {
    const factory = o.socketFactory as { open?: unknown; kind?: unknown } | null;
    if (typeof factory !== 'object' || factory === null || typeof factory.open !== 'function' || typeof factory.kind !== 'string') {
      throw new ConfigError('socketFactory', `expected { kind: string, open(address, onReady): Socket }, got ${describeValue(o.socketFactory)}`);
    }
  }
  if (o.reauthenticateAt !== undefined) {
    const at = o.reauthenticateAt;
    if (typeof at !== 'number' || !(at > 0 && at < 1)) {
      throw new ConfigError('reauthenticateAt', `expected a fraction of the session lifetime in (0, 1), got ${describeValue(at)}`);
    }
  }
  if (o.scheduler !== undefined) {
    const scheduler = o.scheduler as { now?: unknown; schedule?: unknown } | null;
    if (typeof scheduler !== 'object' || scheduler === null || typeof scheduler.now !== 'function' || typeof scheduler.schedule !== 'function') {
      throw new ConfigError('scheduler', `expected an RxJS SchedulerLike, got ${describeValue(o.scheduler)}`);
    }
  }
  if (o.writeLingerUs !== undefined) {
    const us = o.writeLingerUs;
    if (typeof us !== 'number' || !Number.isFinite(us) || us < 0 || us > MAX_TIMER_MS) {
      throw new ConfigError('writeLingerUs', `expected microseconds ≥ 0, got ${describeValue(us)}`);
    }
  }
  if (o.maxWriteBatch !== undefined) {
    const n = o.maxWriteBatch;
    if (typeof n !== 'number' || !(n >= 1) || !(Number.isInteger(n) || n === Number.POSITIVE_INFINITY)) {
      throw new ConfigError('maxWriteBatch', `expected an integer ≥ 1, got ${describeValue(n)}`);
    }
  }
  if (o.quickAck !== undefined && typeof o.quickAck !== 'boolean') {
    throw new ConfigError('quickAck', `expected true or false, got ${describeValue(o.quickAck)}`);
  }
  resolveResponseLimits(o.responseLimits as never);
  validateLoggerOptions(o.logger, o.logLevel);
}

/** `logger`: null, or an object with debug/info/warn/error functions; `logLevel`: one of the levels. */
export function validateLoggerOptions(logger: unknown, logLevel: unknown): void {
  if (logger !== undefined && logger !== null) {
    const l = logger as Record<string, unknown>;
    const missing = ['debug', 'info', 'warn', 'error'].filter((m) => typeof l[m] !== 'function');
    if (typeof logger !== 'object' || missing.length > 0) {
      throw new ConfigError('logger', `expected an object with debug/info/warn/error(fields, message) (pino, console, …) or null, got ${describeValue(logger)}${missing.length > 0 && typeof logger === 'object' ? ` without ${missing.join(', ')}` : ''}`);
    }
  }
  if (logLevel !== undefined) oneOf('logLevel', logLevel, LOG_LEVELS);
}

/**
 * The settings of `connect$(options)` or of the deprecated `connect$(address, options?)` (Client,
 * PipelinedClient): the address becomes `bootstrapServers`. Anything but a string or `{ host,
 * port }` first, or a second argument, is read as the address form, so `connect$(9092)` is told
 * how to write an address.
 */
export function connectArguments(component: string, first: unknown, options: unknown): { settings: Record<string, unknown>; addressForm: boolean } {
  const addressForm = options !== undefined || typeof first !== 'object' || first === null || 'host' in first || 'port' in first;
  if (!addressForm) return { settings: first as Record<string, unknown>, addressForm };
  const address = formatAddress(validateAddress(first));
  const rest = optionsObject<Record<string, unknown>>(component, options as Record<string, unknown> | undefined);
  if ('bootstrapServers' in rest) {
    throw new ConfigError('bootstrapServers', `${component}.connect$ was given an address and bootstrapServers; pass only the options object`);
  }
  return { settings: { ...rest, bootstrapServers: address }, addressForm };
}

/**
 * The checks of `request$(request, options)` (a request object with a `type`; `timeoutMs` in
 * 0..2³¹−1): the error, or undefined. Connection.request$ uses it, and so do callers that must
 * refuse a bad request before it waits for a connection (PipelinedClient).
 */
export function requestArgumentsError(request: unknown, options: unknown): ConfigError | undefined {
  if (typeof request !== 'object' || request === null || typeof (request as { type?: unknown }).type !== 'string') {
    return new ConfigError('request', `expected a request object with a \`type\` (e.g. { type: 'Ping' }), got ${describeValue(request)}`);
  }
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) return new ConfigError('options', `expected request options (an object), got ${describeValue(options)}`);
  const timeoutMs = (options as { timeoutMs?: unknown }).timeoutMs;
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || timeoutMs > MAX_TIMER_MS)) {
    return new ConfigError('timeoutMs', `expected milliseconds in 0..${MAX_TIMER_MS} (0 = none), got ${describeValue(timeoutMs)}`);
  }
  return undefined;
}

/** A Connection's options with the defaults filled in (logging and response limits are resolved by their own modules). */
export type ResolvedConnectionOptions = Required<
  Omit<ConnectionOptions, 'scheduler' | 'socketFactory' | 'writeLingerUs' | 'maxWriteBatch' | 'auth' | 'tls' | 'responseLimits' | 'logger' | 'logLevel'>
> & {
  auth: AuthOptions | undefined;
  writeLingerUs: number;
  maxWriteBatch: number;
  scheduler: SchedulerLike;
  socketFactory: SocketFactory;
};

const CONNECTION_DEFAULTS = {
  clientId: 'rivven-rx',
  connectionTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  closeTimeoutMs: 5_000,
} as const;

/** Options already checked by validateConnectionOptions, with every default filled in. */
export function withConnectionDefaults(options: ConnectionOptions): ResolvedConnectionOptions {
  return {
    clientId: options.clientId ?? CONNECTION_DEFAULTS.clientId,
    connectionTimeoutMs: options.connectionTimeoutMs ?? CONNECTION_DEFAULTS.connectionTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs ?? CONNECTION_DEFAULTS.requestTimeoutMs,
    closeTimeoutMs: options.closeTimeoutMs ?? CONNECTION_DEFAULTS.closeTimeoutMs,
    scheduler: options.scheduler ?? asyncScheduler,
    socketFactory: options.socketFactory ?? (options.tls ? tlsSocketFactory(options.tls) : tcpSocketFactory),
    auth: options.auth,
    reauthenticateAt: options.reauthenticateAt ?? 0.8,
    writeLingerUs: options.writeLingerUs ?? 0,
    maxWriteBatch: options.maxWriteBatch ?? Number.POSITIVE_INFINITY,
    quickAck: options.quickAck ?? true,
  };
}
