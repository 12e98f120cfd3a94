/**
 * A Connection's options: the up-front check of what `Connection.connect$` is given (an address
 * that is not `host:port`, an option of the wrong type or a key that does not exist is a
 * `ConfigError`, not retriable, before any timer or socket exists — so a bad call fails once,
 * typed, and leaves nothing behind), their defaults, and the options of a component's connections
 * made from its resolved settings. The shared settings themselves are checked and resolved in one
 * place above this layer (connection-settings.ts); this file adds the Connection's own knobs.
 */
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { ConfigError } from '../errors.js';
import {
  CONNECTION_SETTING_DEFAULTS,
  checkConnectionSettingValues,
  checkScheduler,
  type AuthOptions,
  type ConnectionSettings,
  type SocketFactory,
} from '../connection-settings.js';
import { MAX_TIMER_MS, describeValue, durationMs, rejectUnknownKeys } from '../settings-validation.js';
import { resolveResponseLimits } from '../protocol/decode-limits.js';
import { parseAddress, type BrokerAddress } from '../broker-address.js';
import type { ConnectionOptions } from './connection-types.js';
import { tcpSocketFactory, tlsSocketFactory } from './sockets.js';

/** The Connection's own knobs: options of one connection that are not shared settings. */
export const CONNECTION_KNOB_KEYS = ['closeTimeoutMs', 'reauthenticateAt', 'scheduler', 'writeLingerUs', 'maxWriteBatch', 'quickAck', 'responseLimits'] as const;

export type ConnectionKnobs = Pick<ConnectionOptions, (typeof CONNECTION_KNOB_KEYS)[number]>;

/** Every option a Connection takes: the shared settings a connection uses, and its knobs. */
export const CONNECTION_OPTION_KEYS = [
  'clientId',
  'connectionTimeoutMs',
  'requestTimeoutMs',
  'auth',
  'tls',
  'socketFactory',
  'logger',
  'logLevel',
  ...CONNECTION_KNOB_KEYS,
] as const;

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

/**
 * The knobs among `options` (the keys listed in `keys`, those set), each checked: what a component
 * that takes them (Client, PipelinedClient, ResilientClient's `connection`) adds to its
 * connections' options.
 */
export function connectionKnobsOf(options: object, keys: readonly string[] = CONNECTION_KNOB_KEYS): ConnectionKnobs {
  const o = options as Readonly<Record<string, unknown>>;
  const knobs = Object.fromEntries(keys.filter((key) => o[key] !== undefined).map((key) => [key, o[key]]));
  checkConnectionKnobs(knobs);
  return knobs as ConnectionKnobs;
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

/** Check every connection option's type and range (`Connection.connect$`'s options). */
export function validateConnectionOptions(options: unknown, component = 'Connection'): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError('options', `${component} expects an options object, got ${describeValue(options)}`);
  }
  rejectUnknownKeys(component, options, CONNECTION_OPTION_KEYS);
  checkConnectionSettingValues(options);
  checkConnectionKnobs(options as Readonly<Record<string, unknown>>);
}

/** The knobs' values, where set. */
function checkConnectionKnobs(o: Readonly<Record<string, unknown>>): void {
  if (o.closeTimeoutMs !== undefined) durationMs('closeTimeoutMs', o.closeTimeoutMs, 0);
  checkScheduler(o.scheduler);
  if (o.reauthenticateAt !== undefined) {
    const at = o.reauthenticateAt;
    if (typeof at !== 'number' || !(at > 0 && at < 1)) {
      throw new ConfigError('reauthenticateAt', `expected a fraction of the session lifetime in (0, 1), got ${describeValue(at)}`);
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

const CONNECTION_DEFAULTS = { ...CONNECTION_SETTING_DEFAULTS, closeTimeoutMs: 5_000 } as const;

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
