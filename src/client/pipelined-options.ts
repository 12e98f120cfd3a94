/**
 * PipelinedClient's options: the shared connection settings (connection-settings.ts) and the
 * Connection's knobs, plus the pipeline's own; its presets, as frozen plain objects to spread.
 */
import type { ResolvedRetryPolicy } from '../connection-settings.js';
import { durationMs, integerIn } from '../settings-validation.js';
import { connectArguments, resolveConnectionSettings, type ConnectionSettingsWithKnobs } from '../transport/connection-options.js';
import type { ConnectionOptions } from '../transport/connection-types.js';
import { RETRY_DEFAULTS } from './retrier.js';

/**
 * The shared settings (`bootstrapServers`, `clientId`, `tls`, `auth`, `retry`, …) and the
 * Connection's knobs — the write batching ones excepted: `batchLingerUs` and `maxBatchSize` are
 * the pipeline's names for them. `requestTimeoutMs` (default 30,000; 0 = none) starts when a
 * request is sent, not while it waits for a slot; `closeTimeoutMs` (default 5,000) is how long
 * `close()` waits for in-flight replies; `retry` paces reconnecting (default: from 100 ms doubling
 * to 5,000 ms, ±25 %, for as long as requests wait).
 */
export interface PipelinedClientOptions extends Omit<ConnectionSettingsWithKnobs, 'writeLingerUs' | 'maxWriteBatch'> {
  /** Most requests awaiting a reply at once; more wait in order. Default 100. */
  maxInFlight?: number;
  /** How long a request may wait for others to share its socket write, µs (0 = same tick only). Default 1000. */
  batchLingerUs?: number;
  /** Write as soon as this many requests are waiting to be written. Default 64. */
  maxBatchSize?: number;
  /** `health$` emits on change, at most once per this many ms (0: every change). Default 1,000. */
  healthIntervalMs?: number;
}

/** What the deprecated `PipelinedClient.connect$(address, options)` takes: the options without the server list. */
export type PipelinedClientConnectionOptions = Omit<PipelinedClientOptions, 'bootstrapServers'>;

export interface ResolvedPipelinedClientOptions {
  bootstrapServers: readonly string[];
  maxInFlight: number;
  batchLingerUs: number;
  maxBatchSize: number;
  requestTimeoutMs: number;
  closeTimeoutMs: number;
  healthIntervalMs: number;
  retry: ResolvedRetryPolicy;
}

/** A preset: some of PipelinedClient's own options, spread into the options given to `connect$`. */
export type PipelinedClientPreset = Readonly<Pick<PipelinedClientOptions, 'maxInFlight' | 'batchLingerUs' | 'maxBatchSize' | 'requestTimeoutMs' | 'closeTimeoutMs'>>;

/**
 * rivven-client's `PipelineConfig` presets (its defaults are the defaults here). Spread one and
 * override what you need: `PipelinedClient.connect$({ ...PipelinedClientPresets.lowLatency, bootstrapServers, maxInFlight: 8 })`.
 */
export const PipelinedClientPresets: Readonly<{ highThroughput: PipelinedClientPreset; lowLatency: PipelinedClientPreset }> = Object.freeze({
  /** 1000 in flight, 5000 µs linger, batches of 256, 60 s request timeout, 10 s close. */
  highThroughput: Object.freeze<PipelinedClientPreset>({ maxInFlight: 1000, batchLingerUs: 5000, maxBatchSize: 256, requestTimeoutMs: 60_000, closeTimeoutMs: 10_000 }),
  /** 32 in flight, no linger, one request per write, 10 s request timeout, 3 s close. */
  lowLatency: Object.freeze<PipelinedClientPreset>({ maxInFlight: 32, batchLingerUs: 0, maxBatchSize: 1, requestTimeoutMs: 10_000, closeTimeoutMs: 3_000 }),
});

const DEFAULTS = { maxInFlight: 100, batchLingerUs: 1000, maxBatchSize: 64, requestTimeoutMs: 30_000, closeTimeoutMs: 5_000, healthIntervalMs: 1_000 };

/** Reconnecting on demand goes on for as long as requests wait (each bounds its own wait). */
const PIPELINED_RETRY = RETRY_DEFAULTS.PipelinedClient;

const OWN_KEYS = ['maxInFlight', 'batchLingerUs', 'maxBatchSize', 'healthIntervalMs'] as const satisfies readonly (keyof PipelinedClientOptions)[];

/**
 * Names refused with the one to use, where the closest-name guess would not find it: options of
 * earlier versions, and the Connection's batching knobs the pipeline names its own way.
 */
const FORMER_NAMES: Readonly<Record<string, string>> = {
  statsInterval: "'healthIntervalMs'",
  reconnectInitialDelay: "'retry.initialDelayMs'",
  reconnectMaxDelay: "'retry.maxDelayMs'",
  connection: 'the connection options themselves, at the top level',
  writeLingerUs: "'batchLingerUs'",
  maxWriteBatch: "'maxBatchSize'",
};

/**
 * Defaults applied and every option checked (ConfigError naming the first bad one); `connection`
 * is what each Connection is opened with. Takes the arguments of either `connect$` form
 * (`addressForm`: the deprecated one).
 */
export function resolvePipelinedClientOptions(
  first: unknown,
  options?: unknown,
): { config: ResolvedPipelinedClientOptions; connection: ConnectionOptions; addressForm: boolean } {
  const { settings, addressForm } = connectArguments('PipelinedClient', first, options);
  const shared = resolveConnectionSettings(settings, 'PipelinedClient', {
    ownKeys: OWN_KEYS,
    excludedKeys: ['writeLingerUs', 'maxWriteBatch'],
    formerNames: FORMER_NAMES,
    retryDefaults: PIPELINED_RETRY,
  });
  const own: Partial<Record<(typeof OWN_KEYS)[number] | 'requestTimeoutMs' | 'closeTimeoutMs', unknown>> = settings;
  const config: ResolvedPipelinedClientOptions = {
    bootstrapServers: shared.bootstrapServers,
    maxInFlight: integerIn('maxInFlight', own.maxInFlight ?? DEFAULTS.maxInFlight, 1, 1_000_000),
    batchLingerUs: integerIn('batchLingerUs', own.batchLingerUs ?? DEFAULTS.batchLingerUs, 0, 10_000_000),
    maxBatchSize: integerIn('maxBatchSize', own.maxBatchSize ?? DEFAULTS.maxBatchSize, 1, 1_000_000),
    requestTimeoutMs: durationMs('requestTimeoutMs', own.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs, 0),
    closeTimeoutMs: durationMs('closeTimeoutMs', own.closeTimeoutMs ?? DEFAULTS.closeTimeoutMs, 0),
    healthIntervalMs: durationMs('healthIntervalMs', own.healthIntervalMs ?? DEFAULTS.healthIntervalMs, 0),
    retry: shared.retry,
  };
  const connection: ConnectionOptions = {
    ...shared.connection,
    requestTimeoutMs: config.requestTimeoutMs,
    closeTimeoutMs: config.closeTimeoutMs,
    writeLingerUs: config.batchLingerUs,
    maxWriteBatch: config.maxBatchSize,
  };
  return { config, connection, addressForm };
}
