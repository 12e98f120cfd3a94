/**
 * The TransactionalProducer's one connection: opened on demand along `bootstrapServers` (failover
 * walks the list) and re-opened after it failed; the first connect is tried again per `retry`.
 */
import { firstValueFrom, timer } from 'rxjs';
import type { Client } from '../client/client.js';
import { backoffDelay } from '../client/backoff.js';
import { singleLane, type LaneHandle } from '../client/server-lanes.js';
import { backoffOf, type ResolvedRetryPolicy } from '../connection-settings.js';
import { AllServersUnavailableError } from '../errors.js';
import type { ResolvedTransactionalConfig } from './transactional-config.js';

/** The producer's one connection: reconnects itself (with failover) after a failure. */
export type TransactionConnection = LaneHandle & { close(): Promise<void> };

export function openTransactionConnection(resolved: ResolvedTransactionalConfig): TransactionConnection {
  return singleLane({ bootstrapServers: resolved.servers, client: resolved.connection, closedMessage: 'the producer is closed' });
}

/** A ready client, trying the whole list again (with backoff) up to `retry.maxAttempts` times. */
export async function firstClient(connection: TransactionConnection, retry: ResolvedRetryPolicy): Promise<Client> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connection.client();
    } catch (error) {
      // Only "no server answered" is worth another pass; a refusal (credentials, TLS) is final.
      if (!(error instanceof AllServersUnavailableError) || attempt >= retry.maxAttempts) throw error;
      await firstValueFrom(timer(backoffDelay(attempt - 1, backoffOf(retry))));
    }
  }
}
