/**
 * The TransactionalProducer's one connection: opened on demand along `bootstrapServers` (failover
 * walks the list) and re-opened after it failed; the first connect is tried again per `retry`.
 */
import type { Client } from '../client/client.js';
import { Retrier } from '../client/retrier.js';
import { singleLane, type LaneHandle } from '../client/server-lanes.js';
import type { ResolvedRetryPolicy } from '../connection-settings.js';
import { AllServersUnavailableError } from '../errors.js';
import type { ResolvedTransactionalConfig } from './transactional-config.js';

/** The producer's one connection: reconnects itself (with failover) after a failure. */
export type TransactionConnection = LaneHandle & { close(): Promise<void> };

export function openTransactionConnection(resolved: ResolvedTransactionalConfig): TransactionConnection {
  return singleLane({ bootstrapServers: resolved.servers, client: resolved.connection, closedMessage: 'the producer is closed' });
}

/** A ready client, trying the whole list again (with backoff) up to `retry.maxAttempts` times. */
export async function firstClient(connection: TransactionConnection, retry: ResolvedRetryPolicy): Promise<Client> {
  // Only "no server answered" is worth another pass; a refusal (credentials, TLS) is final.
  return new Retrier(retry).run(() => connection.client(), { retriable: (error) => error instanceof AllServersUnavailableError });
}
