/**
 * Producer configuration: the shared connection settings (connection-settings.ts, resolved there)
 * plus the producer's own options — rivven-client 0.0.22's `ProducerConfig` in camelCase,
 * durations ending in `Ms` — and its presets. Validated once, at creation, with errors naming the
 * option.
 */
import {
  CONNECTION_SETTING_DEFAULTS,
  checkScheduler,
  resolveConnectionSettings,
  type ConnectionSettings,
  type ResolvedConnectionSettings,
  type ResolvedRetryPolicy,
  type SchedulerOption,
} from '../connection-settings.js';
import { ConfigError } from '../errors.js';
import type { CompressionAlgorithm } from '../protocol/value-framing.js';
import { durationMs, integerIn, oneOf, optionsObject } from '../settings-validation.js';
import { RETRY_DEFAULTS } from '../client/retrier.js';
import { MAX_MESSAGE_SIZE } from '../protocol/frame.js';

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
  /**
   * The largest request the producer sends, in bytes on the wire (the frame after its length
   * prefix). Default and maximum 10,485,760: rivvend 0.0.22 refuses larger frames
   * (`MAX_MESSAGE_SIZE`) and closes the connection. A batch is cut so its request fits; a record
   * that cannot fit alone fails with `MessageTooLargeError` — at `send$` when uncompressed, once
   * its value is compressed otherwise.
   */
  maxRequestSize: number;
  /**
   * The Observer side (`producer.next(record)`, `records$.subscribe(producer)`): whether `results$`
   * ends at the first failed record (default true, as Reactor Kafka's sender) or carries every
   * outcome as a value (false).
   */
  stopOnError: boolean;
}

/**
 * What `Producer.create` takes: `bootstrapServers`, the other shared settings (`clientId`, `tls`,
 * `auth`, `socketFactory`, `connectionTimeoutMs`, `requestTimeoutMs`, `retry`, `logger`,
 * `logLevel`), `scheduler`, and any of the producer's own options.
 *
 * `retry` paces the repeated attempts of a batch and of a metadata request: delays from
 * `initialDelayMs` (default 100) growing by `multiplier` (default 2) up to `maxDelayMs` (default
 * 1,000 — jitter included, so a broker that is back is noticed within a second), ±`jitter`
 * (default 0.25); `maxAttempts` (first included) defaults to no limit, `deliveryTimeoutMs` bounding
 * delivery instead.
 */
export interface ProducerConfig extends ConnectionSettings, SchedulerOption, Partial<ProducerTuning> {}

/** The resolved configuration (`producer.config`): every default filled in. */
export interface ResolvedProducerConfig extends ResolvedConnectionSettings, ProducerTuning, SchedulerOption {}

/** The producer's retry defaults: attempts without limit (deliveryTimeoutMs bounds them, KIP-91). */
export const DEFAULT_PRODUCER_RETRY: Readonly<ResolvedRetryPolicy> = RETRY_DEFAULTS.Producer;

/** The producer's defaults: its own options', and the shared settings' as the producer has them. */
export const DEFAULT_PRODUCER_CONFIG: Readonly<ProducerTuning & Pick<ResolvedProducerConfig, 'clientId' | 'connectionTimeoutMs' | 'requestTimeoutMs' | 'retry'>> =
  Object.freeze({
    batchSize: 16_384,
    lingerMs: 0,
    bufferMemory: 32 * 1024 * 1024,
    maxBlockMs: 60_000,
    maxInFlightRequests: 5,
    connections: 4,
    enableIdempotence: false,
    requestTimeoutMs: CONNECTION_SETTING_DEFAULTS.requestTimeoutMs,
    deliveryTimeoutMs: 120_000,
    retry: DEFAULT_PRODUCER_RETRY,
    metadataMaxAgeMs: 300_000,
    compressionType: 'none',
    maxRequestSize: MAX_MESSAGE_SIZE,
    stopOnError: true,
    connectionTimeoutMs: CONNECTION_SETTING_DEFAULTS.connectionTimeoutMs,
    clientId: 'rivven-rx-producer',
  });

/** A preset: some of the producer's own options, spread into the options given to `Producer.create`. */
export type ProducerPreset = Readonly<Partial<ProducerTuning>>;

/**
 * The Rust client's presets, as plain frozen option objects. Spread one and override what you need:
 * `Producer.create({ ...ProducerPresets.highThroughput, bootstrapServers, lingerMs: 5 })`.
 */
export const ProducerPresets: Readonly<{
  /** Large batches with a linger, LZ4, many in flight. */
  highThroughput: ProducerPreset;
  /** Each record sent at once, one request in flight. */
  lowLatency: ProducerPreset;
  /** Idempotence on. */
  exactlyOnce: ProducerPreset;
}> = Object.freeze({
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
  'maxRequestSize',
  'stopOnError',
];

/** The producer's own option names (the shared ones are connection-settings.ts's). */
const PRODUCER_OWN_KEYS: readonly string[] = ['scheduler', ...PRODUCER_TUNING_KEYS];

/** Room for a request's header and one small record: smaller limits could refuse every record. */
const MIN_REQUEST_SIZE = 1024;

const COMPRESSION_TYPES: readonly CompressionAlgorithm[] = ['none', 'lz4', 'snappy', 'zstd'];

/**
 * `acks` is Kafka's producer option every Kafka user brings along, and it has no effect here:
 * rivvend 0.0.22 acknowledges a write once it is durable, whatever is asked. It is refused saying
 * so, rather than with "no option 'acks'", which would leave a reader wondering what durability
 * they get without it. (It is not a name of an earlier version: those get the closest-name guess
 * only, as every unknown key does.)
 */
const ACKS_HAS_NO_EFFECT =
  'rivvend 0.0.22 acknowledges every write after its durable write whatever acks asks, so acks would have no effect; remove it';

export function resolveProducerConfig(input: ProducerConfig): ResolvedProducerConfig {
  const options = optionsObject<ProducerConfig>('Producer', input);
  if (Object.prototype.hasOwnProperty.call(options, 'acks')) throw new ConfigError('acks', ACKS_HAS_NO_EFFECT);
  const shared = resolveConnectionSettings('Producer', options, { ownKeys: PRODUCER_OWN_KEYS, retry: DEFAULT_PRODUCER_RETRY, clientId: DEFAULT_PRODUCER_CONFIG.clientId });
  const tuning = Object.fromEntries(PRODUCER_TUNING_KEYS.filter((key) => options[key] !== undefined).map((key) => [key, options[key]])) as Partial<ProducerTuning>;
  const scheduler = checkScheduler(options.scheduler);
  const config: ResolvedProducerConfig = {
    ...DEFAULT_PRODUCER_CONFIG,
    ...tuning,
    ...shared,
    ...(scheduler === undefined ? {} : { scheduler }),
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
  durationMs('deliveryTimeoutMs', config.deliveryTimeoutMs, 1);
  durationMs('metadataMaxAgeMs', config.metadataMaxAgeMs, 0);
  oneOf('compressionType', config.compressionType, COMPRESSION_TYPES);
  integerIn('maxRequestSize', config.maxRequestSize, MIN_REQUEST_SIZE, MAX_MESSAGE_SIZE);
  if (typeof config.stopOnError !== 'boolean') throw new ConfigError('stopOnError', `expected true or false, got ${String(config.stopOnError)}`);
  if (config.batchSize > config.bufferMemory) {
    throw new ConfigError('batchSize', `(${config.batchSize}) cannot exceed bufferMemory (${config.bufferMemory})`);
  }
  return config;
}
