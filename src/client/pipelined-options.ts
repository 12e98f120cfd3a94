/**
 * PipelinedClient's configuration: the shared connection settings (resolved in
 * connection-settings.ts) and the Connection's knobs, plus the pipeline's own; its presets, as
 * frozen plain objects to spread.
 */
import { resolveConnectionSettings, type ConnectionSettings, type ResolvedConnectionSettings } from '../connection-settings.js';
import { ConfigError } from '../errors.js';
import { durationMs, integerIn } from '../settings-validation.js';
import { CONNECTION_KNOB_KEYS, connectionKnobsOf, connectionOptionsOf, type ConnectionKnobs } from '../transport/connection-options.js';
import type { ConnectionOptions } from '../transport/connection-types.js';
import { connectArguments } from './client.js';
import { RETRY_DEFAULTS } from './retrier.js';

/**
 * What `PipelinedClient.connect$` takes: the shared settings (`bootstrapServers`, `clientId`,
 * `tls`, `auth`, `retry`, …) and the Connection's knobs — the write batching ones excepted:
 * `batchLingerUs` and `maxBatchSize` are the pipeline's names for them. `requestTimeoutMs`
 * (default 30,000; 0 = none) starts when a request is sent, not while it waits for a slot;
 * `closeTimeoutMs` (default 5,000) is how long `close()` waits for in-flight replies; `retry` paces
 * reconnecting (default: from 100 ms doubling to 5,000 ms, ±25 %, for as long as requests wait).
 */
export interface PipelinedClientConfig extends ConnectionSettings, Omit<ConnectionKnobs, 'writeLingerUs' | 'maxWriteBatch'> {
  /** Most requests awaiting a reply at once; more wait in order. Default 100. */
  maxInFlight?: number;
  /** How long a request may wait for others to share its socket write, µs (0 = same tick only). Default 1000. */
  batchLingerUs?: number;
  /** Write as soon as this many requests are waiting to be written. Default 64. */
  maxBatchSize?: number;
  /** `health$` emits on change, at most once per this many ms (0: every change). Default 1,000. */
  healthIntervalMs?: number;
}

/** What the deprecated `PipelinedClient.connect$(address, options)` takes: the config without the server list. */
export type PipelinedClientConnectionOptions = Omit<PipelinedClientConfig, 'bootstrapServers'>;

/** The resolved configuration (`pipelinedClient.config`): every default filled in. */
export interface ResolvedPipelinedClientConfig extends ResolvedConnectionSettings {
  /** Most requests in flight at once. */
  maxInFlight: number;
  /** How long a request may wait for others to share its socket write, µs. */
  batchLingerUs: number;
  /** Requests written together at most. */
  maxBatchSize: number;
  /** How long `close()` waits for replies still in flight, ms. */
  closeTimeoutMs: number;
  /** Most one `health$` emission per this many ms. */
  healthIntervalMs: number;
}

/** A preset: some of PipelinedClient's own options, spread into the options given to `connect$`. */
export type PipelinedClientPreset = Readonly<Pick<PipelinedClientConfig, 'maxInFlight' | 'batchLingerUs' | 'maxBatchSize' | 'requestTimeoutMs' | 'closeTimeoutMs'>>;

/**
 * rivven-client's `PipelineConfig` presets (its defaults are the defaults here). Spread one and
 * override what you need: `PipelinedClient.connect$({ ...PipelinedClientPresets.lowLatency, bootstrapServers, maxInFlight: 8 })`.
 */
export const PipelinedClientPresets: Readonly<{
  /** Many requests in flight, written in large batches. */
  highThroughput: PipelinedClientPreset;
  /** Few requests in flight, each written at once. */
  lowLatency: PipelinedClientPreset;
}> = Object.freeze({
  /** 1000 in flight, 5000 µs linger, batches of 256, 60 s request timeout, 10 s close. */
  highThroughput: Object.freeze<PipelinedClientPreset>({ maxInFlight: 1000, batchLingerUs: 5000, maxBatchSize: 256, requestTimeoutMs: 60_000, closeTimeoutMs: 10_000 }),
  /** 32 in flight, no linger, one request per write, 10 s request timeout, 3 s close. */
  lowLatency: Object.freeze<PipelinedClientPreset>({ maxInFlight: 32, batchLingerUs: 0, maxBatchSize: 1, requestTimeoutMs: 10_000, closeTimeoutMs: 3_000 }),
});

const DEFAULTS = { maxInFlight: 100, batchLingerUs: 1000, maxBatchSize: 64, closeTimeoutMs: 5_000, healthIntervalMs: 1_000 };

const OWN_KEYS = ['maxInFlight', 'batchLingerUs', 'maxBatchSize', 'healthIntervalMs'] as const satisfies readonly (keyof PipelinedClientConfig)[];

/** The Connection's knobs the pipeline takes under their own names: the write batching ones are its batchLingerUs and maxBatchSize. */
const KNOB_KEYS: readonly string[] = CONNECTION_KNOB_KEYS.filter((key) => key !== 'writeLingerUs' && key !== 'maxWriteBatch');

/**
 * The Connection's batching knobs under the names of Client and ResilientClient's `connection`:
 * the pipeline calls them otherwise, and the closest-name guess would not find its names.
 */
const PIPELINE_NAMES: Readonly<Record<string, string>> = { writeLingerUs: 'batchLingerUs', maxWriteBatch: 'maxBatchSize' };

/**
 * Defaults applied and every option checked (ConfigError naming the first bad one); `connection`
 * is what each Connection is opened with. Takes the arguments of either `connect$` form
 * (`addressForm`: the deprecated one).
 */
export function resolvePipelinedClientConfig(
  first: unknown,
  options?: unknown,
): { config: ResolvedPipelinedClientConfig; connection: ConnectionOptions; addressForm: boolean } {
  const { settings, addressForm } = connectArguments('PipelinedClient', first, options);
  for (const [key, name] of Object.entries(PIPELINE_NAMES)) {
    if (Object.hasOwn(settings, key)) throw new ConfigError(key, `PipelinedClient has no option '${key}'; use '${name}' (the pipeline's name for it)`);
  }
  const shared = resolveConnectionSettings('PipelinedClient', settings, { ownKeys: [...OWN_KEYS, ...KNOB_KEYS], retry: RETRY_DEFAULTS.PipelinedClient });
  const knobs = connectionKnobsOf(settings, KNOB_KEYS);
  const own: Partial<Record<(typeof OWN_KEYS)[number], unknown>> = settings;
  const config: ResolvedPipelinedClientConfig = {
    ...shared,
    maxInFlight: integerIn('maxInFlight', own.maxInFlight ?? DEFAULTS.maxInFlight, 1, 1_000_000),
    batchLingerUs: integerIn('batchLingerUs', own.batchLingerUs ?? DEFAULTS.batchLingerUs, 0, 10_000_000),
    maxBatchSize: integerIn('maxBatchSize', own.maxBatchSize ?? DEFAULTS.maxBatchSize, 1, 1_000_000),
    closeTimeoutMs: knobs.closeTimeoutMs ?? DEFAULTS.closeTimeoutMs,
    healthIntervalMs: durationMs('healthIntervalMs', own.healthIntervalMs ?? DEFAULTS.healthIntervalMs, 0),
  };
  const connection: ConnectionOptions = {
    ...connectionOptionsOf(shared),
    ...knobs,
    closeTimeoutMs: config.closeTimeoutMs,
    writeLingerUs: config.batchLingerUs,
    maxWriteBatch: config.maxBatchSize,
  };
  return { config, connection, addressForm };
}
