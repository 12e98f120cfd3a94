/**
 * Producer configuration: the shared connection settings (connection-settings.ts) under the names
 * every component uses, plus the producer's own options — rivven-client 0.0.22's `ProducerConfig`
 * in camelCase, durations ending in `Ms` — and its presets. Validated once, at creation, by the one
 * validator (settings-validation.ts), with errors naming the option.
 */
import {
  CONNECTION_SETTING_KEYS,
  resolveBootstrapServers,
  resolveRetryPolicy,
  type ConnectionSettings,
  type ResolvedRetryPolicy,
  type SchedulerOption,
} from '../connection-settings.js';
import { ConfigError } from '../errors.js';
import type { CompressionAlgorithm } from '../protocol/value-framing.js';
import { durationMs, integerIn, oneOf, optionsObject, rejectUnknownKeys } from '../settings-validation.js';
import { connectionOptionsOf, validateConnectionOptions } from '../transport/connection-options.js';
import { RETRY_DEFAULTS } from '../client/retrier.js';

/** The producer's own options, beside the shared connection settings. */
export interface ProducerTuning {
  /** Upper bound of one batch, in bytes of keys and values. Default 16,384. */
  batchSize: number;
  /** How long a partition's batch may wait for more records. Default 0 (send at the end of the tick). */
  lingerMs: number;
  /** Bytes of records waiting or in flight before `send$` waits for room. Default 32 MiB. */
  bufferMemory: number;
  /** How long `send$` waits for buffer room before failing. Default 60,000 ms. */
  maxBlockMs: number;
  /** Batches in flight across all partitions (one per partition, always). Default 5. */
  maxInFlightRequests: number;
  /**
   * Connections to the broker. Each partition always uses the same one (its order is kept);
   * different partitions' batches travel in parallel. rivvend serves one connection's requests in
   * order and makes each record durable before the next, so this is what lets writes to several
   * partitions overlap. Default 4. (The Rust client uses one.)
   */
  connections: number;
  /** Idempotent batches with per-partition sequence numbers. Default false. */
  enableIdempotence: boolean;
  /**
   * Time from `send$` to acknowledgement (or failure). Default 120,000 ms. As in Kafka since
   * KIP-91 this, not a number of attempts, bounds delivery: a batch is tried again until its
   * records are acknowledged or reach it (`retry.maxAttempts` only gives up sooner if set).
   */
  deliveryTimeoutMs: number;
  /** Partition counts are refreshed after this long. Default 300,000 ms. */
  metadataMaxAgeMs: number;
  /** Per-value compression in Rivven's framing. Default 'none'. */
  compressionType: CompressionAlgorithm;
}

/**
 * What `Producer.create` takes: `bootstrapServers`, the other shared settings (`clientId`, `tls`,
 * `auth`, `socketFactory`, `connectionTimeoutMs`, `requestTimeoutMs`, `retry`, `logger`,
 * `logLevel`), `scheduler`, and any of the producer's own options.
 *
 * `retry` paces the repeated attempts of a batch and of a metadata request: delays from
 * `initialDelayMs` (default 100) growing by `multiplier` (default 2) up to `maxDelayMs` (default
 * 1,000 — jitter included, so a broker that is back is noticed within a second), ±`jitter`
 * (default 0.2); `maxAttempts` (first included) defaults to no limit, `deliveryTimeoutMs` bounding
 * delivery instead.
 */
export interface ProducerConfigInput extends ConnectionSettings, SchedulerOption, Partial<ProducerTuning> {}

/** The resolved configuration (`producer.config`): every default filled in. */
export interface ProducerConfig extends ProducerTuning, SchedulerOption, Pick<ConnectionSettings, 'tls' | 'auth' | 'socketFactory' | 'logger' | 'logLevel'> {
  bootstrapServers: string[];
  clientId: string;
  /** Time allowed to connect. Default 10,000 ms. */
  connectionTimeoutMs: number;
  /** Per-request timeout. Default 30,000 ms. */
  requestTimeoutMs: number;
  retry: ResolvedRetryPolicy;
}

/** The producer's retry defaults: attempts without limit (deliveryTimeoutMs bounds them, KIP-91). */
export const DEFAULT_PRODUCER_RETRY: Readonly<ResolvedRetryPolicy> = RETRY_DEFAULTS.Producer;

export const DEFAULT_PRODUCER_CONFIG: Readonly<Omit<ProducerConfig, 'bootstrapServers'>> = Object.freeze({
  batchSize: 16_384,
  lingerMs: 0,
  bufferMemory: 32 * 1024 * 1024,
  maxBlockMs: 60_000,
  maxInFlightRequests: 5,
  connections: 4,
  enableIdempotence: false,
  requestTimeoutMs: 30_000,
  deliveryTimeoutMs: 120_000,
  retry: DEFAULT_PRODUCER_RETRY,
  metadataMaxAgeMs: 300_000,
  compressionType: 'none',
  connectionTimeoutMs: 10_000,
  clientId: 'rivven-rx-producer',
});

/** A preset: some of the producer's own options, spread into the options given to `Producer.create`. */
export type ProducerPreset = Readonly<Partial<ProducerTuning>>;

/**
 * The Rust client's presets, as plain frozen option objects. Spread one and override what you need:
 * `Producer.create({ ...ProducerPresets.highThroughput, bootstrapServers, lingerMs: 5 })`.
 */
export const ProducerPresets: Readonly<{ highThroughput: ProducerPreset; lowLatency: ProducerPreset; exactlyOnce: ProducerPreset }> = Object.freeze({
  /** Larger batches, a 10 ms linger, LZ4, 10 batches in flight over 8 connections. */
  highThroughput: Object.freeze<ProducerPreset>({ batchSize: 65_536, lingerMs: 10, maxInFlightRequests: 10, connections: 8, compressionType: 'lz4' }),
  /** One record per batch, sent at once, one request in flight. */
  lowLatency: Object.freeze<ProducerPreset>({ batchSize: 1, lingerMs: 0, maxInFlightRequests: 1, compressionType: 'none' }),
  /**
   * Idempotence on, 5 batches in flight. Attempts are unlimited by default (deliveryTimeoutMs
   * bounds them), which exactly-once delivery needs: keep `retry.maxAttempts` unset.
   */
  exactlyOnce: Object.freeze<ProducerPreset>({ enableIdempotence: true, maxInFlightRequests: 5 }),
});

/** The producer's own option names. */
const PRODUCER_TUNING_KEYS: readonly (keyof ProducerTuning)[] = [
  'batchSize',
  'lingerMs',
  'bufferMemory',
  'maxBlockMs',
  'maxInFlightRequests',
  'connections',
  'enableIdempotence',
  'deliveryTimeoutMs',
  'metadataMaxAgeMs',
  'compressionType',
];

/** Every option a Producer takes: anything else is a typo, refused with the closest name. */
export const PRODUCER_OPTION_KEYS: readonly string[] = [...CONNECTION_SETTING_KEYS, 'scheduler', ...PRODUCER_TUNING_KEYS];

const COMPRESSION_TYPES: readonly CompressionAlgorithm[] = ['none', 'lz4', 'snappy', 'zstd'];

/**
 * `acks` was accepted and then ignored: rivvend 0.0.22 acknowledges a write once it is durable,
 * whatever is asked. An option without effect is refused rather than kept as a false promise.
 */
const ACKS_REMOVED =
  'this option was removed: rivvend 0.0.22 acknowledges every write after its durable write whatever acks asks, so acks had no effect; remove it';

/**
 * Options that became fields of `retry`: no name is close enough for a guess, so the message says
 * where each went.
 */
const FORMER_NAMES: Readonly<Record<string, string>> = {
  retries: "retry: { maxAttempts }, which counts the first attempt too (retries: n is maxAttempts: n + 1; unset, attempts are bounded by deliveryTimeoutMs only)",
  retryBackoffMs: 'retry: { initialDelayMs }',
  retryBackoffMaxMs: 'retry: { maxDelayMs }',
};

export function resolveProducerConfig(input: ProducerConfigInput): ProducerConfig {
  const options = optionsObject<ProducerConfigInput>('Producer', input);
  if (Object.prototype.hasOwnProperty.call(options, 'acks')) throw new ConfigError('acks', ACKS_REMOVED);
  rejectUnknownKeys('Producer', options, PRODUCER_OPTION_KEYS, FORMER_NAMES);
  const given = dropUndefined(options);
  const config: ProducerConfig = {
    ...DEFAULT_PRODUCER_CONFIG,
    ...given,
    bootstrapServers: resolveBootstrapServers(options.bootstrapServers),
    retry: resolveRetryPolicy(options.retry, DEFAULT_PRODUCER_RETRY),
  };
  integerIn('batchSize', config.batchSize, 1);
  durationMs('lingerMs', config.lingerMs, 0);
  integerIn('bufferMemory', config.bufferMemory, 1);
  durationMs('maxBlockMs', config.maxBlockMs, 0);
  integerIn('maxInFlightRequests', config.maxInFlightRequests, 1);
  integerIn('connections', config.connections, 1, 64);
  if (typeof config.enableIdempotence !== 'boolean') {
    throw new ConfigError('enableIdempotence', `expected true or false, got ${String(config.enableIdempotence)}`);
  }
  durationMs('requestTimeoutMs', config.requestTimeoutMs, 1);
  durationMs('deliveryTimeoutMs', config.deliveryTimeoutMs, 1);
  durationMs('metadataMaxAgeMs', config.metadataMaxAgeMs, 0);
  durationMs('connectionTimeoutMs', config.connectionTimeoutMs, 1);
  oneOf('compressionType', config.compressionType, COMPRESSION_TYPES);
  if (config.batchSize > config.bufferMemory) {
    throw new ConfigError('batchSize', `(${config.batchSize}) cannot exceed bufferMemory (${config.bufferMemory})`);
  }
  // clientId, tls, auth, socketFactory, logger, logLevel and scheduler are checked as every
  // connection checks them, here rather than at the first connect.
  validateConnectionOptions({ ...connectionOptionsOf(config), ...(config.scheduler === undefined ? {} : { scheduler: config.scheduler }) }, 'Producer');
  return config;
}


function dropUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
