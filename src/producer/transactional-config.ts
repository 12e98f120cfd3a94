/**
 * The TransactionalProducer's options: the shared connection settings plus the transaction's own,
 * checked once at `create$` (unknown keys refused with the closest name) before any socket exists.
 */
import {
  CONNECTION_SETTING_KEYS,
  resolveBootstrapServers,
  resolveRetryPolicy,
  type ConnectionSettings,
  type ResolvedRetryPolicy,
} from '../connection-settings.js';
import { MAX_TIMER_MS, describeValue, integerIn, optionsObject, rejectUnknownKeys } from '../settings-validation.js';
import { ConfigError } from '../errors.js';
import { connectionOptionsOf, validateConnectionOptions } from '../transport/connection-options.js';

/**
 * The shared connection settings (connection-settings.ts) plus the transaction's own options.
 * `clientId` defaults to the `transactionalId`. `retry` paces the attempts to reach a broker in
 * `create$` (each attempt walks the whole `bootstrapServers` list); by default one attempt is made.
 * Requests of a transaction are never repeated behind the caller's back: a failed transaction
 * fails typed (retriable ones as `TransactionInterruptedError`) for the caller to run again.
 */
export interface TransactionalProducerConfig extends ConnectionSettings {
  /** Names this producer's transactions; keep it the same across restarts of one logical producer. */
  transactionalId: string;
  /** The broker aborts a transaction idle (no request) for longer than this. Default 60,000 ms. */
  transactionTimeoutMs?: number;
  /**
   * Resume (and fence) an earlier producer id: its epoch is bumped, older instances are fenced, and
   * a transaction the predecessor left open is aborted before `create$` emits. Keep the
   * `transactionalId` the same across restarts and store `identity.producerId` to pass here.
   */
  previousProducerId?: bigint;
}

const CONFIG_KEYS: readonly string[] = [...CONNECTION_SETTING_KEYS, 'transactionalId', 'transactionTimeoutMs', 'previousProducerId'];

/** The nested connection options of earlier versions: their keys are top-level settings now. */
const FORMER_NAMES: Readonly<Record<string, string>> = {
  client: 'the connection settings themselves at the top level (clientId, tls, auth, socketFactory, connectionTimeoutMs, requestTimeoutMs, retry, logger, logLevel)',
};

/** One pass over the bootstrap list unless `retry` asks for more. */
const DEFAULT_TRANSACTIONAL_RETRY: Readonly<ResolvedRetryPolicy> = Object.freeze({
  maxAttempts: 1,
  initialDelayMs: 100,
  maxDelayMs: 1_000,
  multiplier: 2,
  jitter: 0.25,
});

export interface ResolvedTransactionalConfig {
  servers: string[];
  transactionalId: string;
  transactionTimeoutMs: number;
  previousProducerId: bigint | undefined;
  retry: ResolvedRetryPolicy;
  connection: ReturnType<typeof connectionOptionsOf>;
}

/** Check every option, refusing unknown keys with the closest name (before any socket exists). */
export function resolveTransactionalConfig(input: TransactionalProducerConfig): ResolvedTransactionalConfig {
  const config = optionsObject<TransactionalProducerConfig>('TransactionalProducer', input);
  rejectUnknownKeys('TransactionalProducer', config, CONFIG_KEYS, FORMER_NAMES);
  const servers = resolveBootstrapServers(config.bootstrapServers);
  if (typeof config.transactionalId !== 'string' || config.transactionalId.length === 0) {
    throw new ConfigError('transactionalId', `must be a non-empty string, got ${describeValue(config.transactionalId)}`);
  }
  const transactionTimeoutMs = integerIn('transactionTimeoutMs', config.transactionTimeoutMs ?? 60_000, 1, MAX_TIMER_MS);
  if (config.previousProducerId !== undefined && typeof config.previousProducerId !== 'bigint') {
    throw new ConfigError('previousProducerId', `expected a bigint (identity.producerId of the predecessor), got ${describeValue(config.previousProducerId)}`);
  }
  const retry = resolveRetryPolicy(config.retry, DEFAULT_TRANSACTIONAL_RETRY);
  const connection = connectionOptionsOf({ ...config, clientId: config.clientId ?? config.transactionalId });
  validateConnectionOptions(connection, 'TransactionalProducer');
  return { servers, transactionalId: config.transactionalId, transactionTimeoutMs, previousProducerId: config.previousProducerId, retry, connection };
}
