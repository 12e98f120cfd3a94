/**
 * The TransactionalProducer's configuration: the shared connection settings (resolved in
 * connection-settings.ts) plus the transaction's own, checked once at `create$` (unknown keys
 * refused with the closest name) before any socket exists.
 */
import { resolveConnectionSettings, type ConnectionSettings, type ResolvedConnectionSettings } from '../connection-settings.js';
import { MAX_TIMER_MS, describeValue, integerIn, optionsObject } from '../settings-validation.js';
import { ConfigError } from '../errors.js';
import { connectionOptionsOf } from '../transport/connection-options.js';
import type { ConnectionOptions } from '../transport/connection-types.js';
import { RETRY_DEFAULTS } from '../client/retrier.js';

/**
 * What `TransactionalProducer.create$` takes: the shared connection settings (connection-settings.ts)
 * plus the transaction's own options. `clientId` defaults to the `transactionalId`. `retry` paces
 * the attempts to reach a broker in `create$` (each attempt walks the whole `bootstrapServers`
 * list); by default one attempt is made. Requests of a transaction are never repeated behind the
 * caller's back: a failed transaction fails typed (retriable ones as `TransactionInterruptedError`)
 * for the caller to run again.
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

/** The resolved configuration: every default filled in, and what each connection is opened with. */
export interface ResolvedTransactionalProducerConfig extends ResolvedConnectionSettings {
  transactionalId: string;
  transactionTimeoutMs: number;
  bufferMemory: number;
  /** The connection options made of the shared settings. */
  connection: ConnectionOptions;
}

const OWN_KEYS: readonly string[] = ['transactionalId', 'transactionTimeoutMs', 'bufferMemory'];

/**
 * `previousProducerId` was removed in this release (CHANGELOG, Unreleased 0.3.0: TransactionalProducer):
 * code written against the version before it would otherwise be told only that the option does not
 * exist, not why there is nothing to put in its place.
 */
const PREVIOUS_PRODUCER_ID_REMOVED =
  'TransactionalProducer has no option previousProducerId any more: each commit writes under a producer id of its own, so there is ' +
  "no id to resume, and resuming a stored id would fence whichever producer rivvend gave it to after a restart (see docs/exactly-once.md, " +
  'Transactions); remove it';

/** Check every option, refusing unknown keys with the closest name (before any socket exists). */
export function resolveTransactionalConfig(input: TransactionalProducerConfig): ResolvedTransactionalProducerConfig {
  const config = optionsObject<TransactionalProducerConfig>('TransactionalProducer', input);
  if (Object.prototype.hasOwnProperty.call(config, 'previousProducerId')) throw new ConfigError('previousProducerId', PREVIOUS_PRODUCER_ID_REMOVED);
  const shared = resolveConnectionSettings('TransactionalProducer', config, { ownKeys: OWN_KEYS, retry: RETRY_DEFAULTS.TransactionalProducer });
  if (typeof config.transactionalId !== 'string' || config.transactionalId.length === 0) {
    throw new ConfigError('transactionalId', `must be a non-empty string, got ${describeValue(config.transactionalId)}`);
  }
  // The clientId defaults to the transactionalId.
  const settings = { ...shared, clientId: config.clientId ?? config.transactionalId };
  const transactionTimeoutMs = integerIn('transactionTimeoutMs', config.transactionTimeoutMs ?? 60_000, 1, MAX_TIMER_MS);
  const bufferMemory = integerIn('bufferMemory', config.bufferMemory ?? 32 * 1024 * 1024, 1);
  return { ...settings, transactionalId: config.transactionalId, transactionTimeoutMs, bufferMemory, connection: connectionOptionsOf(settings) };
}
