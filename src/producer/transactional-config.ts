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
import { RETRY_DEFAULTS } from '../client/retrier.js';

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
  /**
   * The broker aborts a transaction idle (no request) for longer than this. A transaction is on the
   * broker only while its commit runs; this bounds how long the records of a commit cut off by a
   * crash stay visible before the broker's reaper aborts them. Default 60,000 ms.
   */
  transactionTimeoutMs?: number;
  /**
   * Bytes (keys and values) one transaction may hold in the client until its commit; publishing
   * past it fails the publish with a ConfigError (commit smaller transactions, or raise this).
   * Default 33,554,432 (32 MiB, as the Producer's bufferMemory).
   */
  bufferMemory?: number;
}

const CONFIG_KEYS: readonly string[] = [...CONNECTION_SETTING_KEYS, 'transactionalId', 'transactionTimeoutMs', 'bufferMemory'];

/** The nested connection options of earlier versions: their keys are top-level settings now. */
const FORMER_NAMES: Readonly<Record<string, string>> = {
  client: 'the connection settings themselves at the top level (clientId, tls, auth, socketFactory, connectionTimeoutMs, requestTimeoutMs, retry, logger, logLevel)',
  previousProducerId:
    'nothing: each commit writes under a producer id of its own, so there is no id to resume, and resuming a stored id would fence ' +
    "whichever producer rivvend gave it to after a restart (see the README's Transactions section)",
};

/** One pass over the bootstrap list unless `retry` asks for more. */
const DEFAULT_TRANSACTIONAL_RETRY: Readonly<ResolvedRetryPolicy> = RETRY_DEFAULTS.TransactionalProducer;

export interface ResolvedTransactionalConfig {
  servers: string[];
  transactionalId: string;
  transactionTimeoutMs: number;
  bufferMemory: number;
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
  const bufferMemory = integerIn('bufferMemory', config.bufferMemory ?? 32 * 1024 * 1024, 1);
  const retry = resolveRetryPolicy(config.retry, DEFAULT_TRANSACTIONAL_RETRY);
  const connection = connectionOptionsOf({ ...config, clientId: config.clientId ?? config.transactionalId });
  validateConnectionOptions(connection, 'TransactionalProducer');
  return { servers, transactionalId: config.transactionalId, transactionTimeoutMs, bufferMemory, retry, connection };
}
