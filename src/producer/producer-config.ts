/**
 * Producer configuration: the names and defaults of rivven-client 0.0.22's `ProducerConfig`, in
 * camelCase, plus its presets. Validated once, at creation, with errors naming the option.
 */
import { ConfigError } from '../errors.js';
import type { CompressionAlgorithm } from '../protocol/compression.js';
import type { AuthOptions } from '../transport/authenticator.js';
import type { SchedulerLike } from 'rxjs';
import type { TlsOptions } from '../transport/tls.js';
import type { SocketFactory } from '../transport/socket-factory.js';
import type { Logger, LogLevel } from '../observability/log.js';
import { validateLoggerOptions } from '../transport/connection-options.js';
import { MAX_TIMER_MS, rejectUnknownKeys } from '../settings-validation.js';

export interface ProducerConfig {
  /** Brokers to connect to, in order of preference (failover walks the list). Required. */
  bootstrapServers: string[];
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
  /** Per-request timeout. Default 30,000 ms. */
  requestTimeout: number;
  /** Time from `send$` to acknowledgement (or failure). Default 120,000 ms. */
  deliveryTimeout: number;
  /**
   * Most attempts repeated per batch after retriable failures. Default 2,147,483,647 — in effect no
   * limit: as in Kafka since KIP-91, `deliveryTimeout` bounds delivery, and a batch is tried again
   * until its records are acknowledged or time out. Set a small number only to give up sooner
   * than the deadline.
   */
  retries: number;
  /** First retry delay; doubles per attempt up to retryBackoffMaxMs, ±20 % jitter. Default 100 ms. */
  retryBackoffMs: number;
  /** Longest wait between attempts, jitter included (how soon a broker that is back is noticed). Default 1,000 ms. */
  retryBackoffMaxMs: number;
  /** Partition counts are refreshed after this long. Default 300,000 ms. */
  metadataMaxAge: number;
  /** Per-value compression in Rivven's framing. Default 'none'. */
  compressionType: CompressionAlgorithm;
  /** Acknowledgements: 0, 1 or -1 (all). rivvend 0.0.22 acknowledges after its write either way. Default 1. */
  acks: 0 | 1 | -1;
  /** Time allowed to connect. Default 10,000 ms. */
  connectionTimeout: number;
  clientId: string;
  auth?: AuthOptions;
  tls?: TlsOptions;
  /** Where sockets come from (custom transports, proxies, tests), as for `Client`. */
  socketFactory?: SocketFactory;
  /** Log sink and level, as for `Client` (default: warnings to stderr). */
  logger?: Logger | null;
  logLevel?: LogLevel;
  /** Scheduler for linger, backoff and timeouts (tests use virtual time). */
  scheduler?: SchedulerLike;
}

export const DEFAULT_PRODUCER_CONFIG: Omit<ProducerConfig, 'bootstrapServers'> = {
  batchSize: 16_384,
  lingerMs: 0,
  bufferMemory: 32 * 1024 * 1024,
  maxBlockMs: 60_000,
  maxInFlightRequests: 5,
  connections: 4,
  enableIdempotence: false,
  requestTimeout: 30_000,
  deliveryTimeout: 120_000,
  retries: 2_147_483_647,
  retryBackoffMs: 100,
  retryBackoffMaxMs: 1_000,
  metadataMaxAge: 300_000,
  compressionType: 'none',
  acks: 1,
  connectionTimeout: 10_000,
  clientId: 'rivven-rx-producer',
};

export type ProducerConfigInput = Partial<ProducerConfig> & Pick<ProducerConfig, 'bootstrapServers'>;

/** Presets of the Rust client's table; override anything with the second argument. */
export const ProducerPresets = {
  /** Larger batches, a 10 ms linger, LZ4, 10 batches in flight over 8 connections. */
  highThroughput(config: ProducerConfigInput): ProducerConfigInput {
    return { batchSize: 65_536, lingerMs: 10, maxInFlightRequests: 10, connections: 8, compressionType: 'lz4', ...config };
  },
  /** One record per batch, sent at once, one request in flight. */
  lowLatency(config: ProducerConfigInput): ProducerConfigInput {
    return { batchSize: 1, lingerMs: 0, maxInFlightRequests: 1, compressionType: 'none', ...config };
  },
  /** Idempotence on, acks=all, retries without limit (bounded by deliveryTimeout). */
  exactlyOnce(config: ProducerConfigInput): ProducerConfigInput {
    return { enableIdempotence: true, acks: -1, maxInFlightRequests: 5, retries: 0x7fff_ffff, ...config };
  },
};

function positiveInteger(config: ProducerConfig, option: keyof ProducerConfig, min = 1): void {
  const value = config[option];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ConfigError(option, `must be an integer ≥ ${min}, got ${String(value)}`);
  }
}

/** A duration: an integer number of ms, at most setTimeout's limit (a longer one would fire at once). */
function durationOption(config: ProducerConfig, option: keyof ProducerConfig, min = 1): void {
  positiveInteger(config, option, min);
  if ((config[option] as number) > MAX_TIMER_MS) throw new ConfigError(option, `must be at most ${MAX_TIMER_MS} ms (setTimeout's limit), got ${String(config[option])}`);
}

/** Every option a Producer takes: anything else is a typo, refused with the closest name. */
export const PRODUCER_OPTION_KEYS: readonly string[] = [
  'bootstrapServers',
  ...Object.keys(DEFAULT_PRODUCER_CONFIG),
  'auth',
  'tls',
  'socketFactory',
  'logger',
  'logLevel',
  'scheduler',
];

export function resolveProducerConfig(input: ProducerConfigInput): ProducerConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError('config', `Producer expects an options object with at least bootstrapServers, got ${String(input)}`);
  }
  rejectUnknownKeys('Producer', input, PRODUCER_OPTION_KEYS);
  const config: ProducerConfig = { ...DEFAULT_PRODUCER_CONFIG, ...dropUndefined(input) } as ProducerConfig;
  if (!Array.isArray(config.bootstrapServers) || config.bootstrapServers.length === 0) {
    throw new ConfigError('bootstrapServers', 'needs at least one host:port');
  }
  positiveInteger(config, 'batchSize');
  durationOption(config, 'lingerMs', 0);
  positiveInteger(config, 'bufferMemory');
  durationOption(config, 'maxBlockMs', 0);
  positiveInteger(config, 'maxInFlightRequests');
  positiveInteger(config, 'connections');
  if (config.connections > 64) throw new ConfigError('connections', `must be at most 64, got ${config.connections}`);
  durationOption(config, 'requestTimeout');
  durationOption(config, 'deliveryTimeout');
  positiveInteger(config, 'retries', 0);
  durationOption(config, 'retryBackoffMs', 0);
  durationOption(config, 'retryBackoffMaxMs', 0);
  durationOption(config, 'metadataMaxAge', 0);
  durationOption(config, 'connectionTimeout');
  validateLoggerOptions(config.logger, config.logLevel);
  if (config.retryBackoffMaxMs < config.retryBackoffMs) {
    throw new ConfigError('retryBackoffMaxMs', `must be ≥ retryBackoffMs (${config.retryBackoffMs}), got ${config.retryBackoffMaxMs}`);
  }
  if (!['none', 'lz4', 'snappy', 'zstd'].includes(config.compressionType)) {
    throw new ConfigError('compressionType', `expected 'none', 'lz4', 'snappy' or 'zstd', got '${String(config.compressionType)}'`);
  }
  if (![0, 1, -1].includes(config.acks)) throw new ConfigError('acks', `expected 0, 1 or -1, got ${String(config.acks)}`);
  if (config.enableIdempotence && config.acks !== -1 && input.acks !== undefined) {
    throw new ConfigError('acks', 'idempotence needs acks = -1 (all)');
  }
  if (config.batchSize > config.bufferMemory) {
    throw new ConfigError('batchSize', `(${config.batchSize}) cannot exceed bufferMemory (${config.bufferMemory})`);
  }
  return config;
}

function dropUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
