/**
 * Which requests a ResilientClient may repeat after a failure, and how long a throttled request
 * may wait: the table every call is checked against before it is routed.
 */
import { ConfigError } from '../errors.js';
import type { RequestInput, RequestType } from '../protocol/request-schema.js';
import type { RequestOptions } from '../transport/connection-types.js';

/**
 * How a request may be retried after a failure that may have reached the broker.
 * - `idempotent`: doing it twice has the same effect as once (reads, offset commits, config
 *   sets, idempotent publishes deduplicated by sequence) — retried after any retriable failure.
 * - `once`: doing it twice may do it twice (publish, create/delete, transactions, group
 *   membership) — retried only when it certainly never left the client, unless the caller opts in.
 * - `connection`: the handshake and authentication belong to one connection; the pool does them
 *   itself (from the client's `clientId` and `auth`), so they are refused here.
 */
export type RetryClass = 'idempotent' | 'once' | 'connection';

export const REQUEST_RETRY_CLASS: Readonly<Record<RequestType, RetryClass>> = {
  Authenticate: 'connection',
  SaslAuthenticate: 'connection',
  ScramClientFirst: 'connection',
  ScramClientFinal: 'connection',
  Handshake: 'connection',
  Publish: 'once',
  PublishBatch: 'once',
  Consume: 'idempotent',
  CreateTopic: 'once',
  ListTopics: 'idempotent',
  DeleteTopic: 'once',
  CommitOffset: 'idempotent',
  GetOffset: 'idempotent',
  GetMetadata: 'idempotent',
  GetClusterMetadata: 'idempotent',
  Ping: 'idempotent',
  GetOffsetBounds: 'idempotent',
  ListGroups: 'idempotent',
  DescribeGroup: 'idempotent',
  DeleteGroup: 'once',
  GetOffsetForTimestamp: 'idempotent',
  InitProducerId: 'once',
  IdempotentPublish: 'idempotent',
  IdempotentPublishBatch: 'idempotent',
  BeginTransaction: 'once',
  AddPartitionsToTxn: 'once',
  TransactionalPublish: 'once',
  AddOffsetsToTxn: 'once',
  CommitTransaction: 'once',
  AbortTransaction: 'once',
  DescribeQuotas: 'idempotent',
  AlterQuotas: 'idempotent',
  AlterTopicConfig: 'idempotent',
  CreatePartitions: 'once',
  DeleteRecords: 'idempotent',
  DescribeTopicConfigs: 'idempotent',
  JoinGroup: 'once',
  SyncGroup: 'once',
  Heartbeat: 'idempotent',
  LeaveGroup: 'once',
};

/** Options of one `ResilientClient.execute$` / `request$` call. */
export interface ExecuteOptions extends RequestOptions {
  /**
   * Retry this request after any retriable failure even if it may have reached the broker.
   * Default: true for idempotent request types, else the client's `retryNonIdempotent`.
   */
  idempotent?: boolean;
}

/**
 * The retry class of a request the caller may send, after checking the arguments: an unknown type
 * or a connection-scoped one (handshake, authentication) is a ConfigError.
 */
export function callableRetryClass(request: RequestInput, options: ExecuteOptions): Exclude<RetryClass, 'connection'> {
  if (typeof request !== 'object' || request === null) throw new ConfigError('request', `expected a request object with a \`type\`, got ${String(request)}`);
  if (typeof options !== 'object' || options === null) throw new ConfigError('options', `expected execute options (an object), got ${String(options)}`);
  const retryClass = Object.hasOwn(REQUEST_RETRY_CLASS, request.type) ? REQUEST_RETRY_CLASS[request.type] : undefined;
  if (retryClass === undefined) throw new ConfigError('request.type', `unknown request type '${String(request.type)}'`);
  if (retryClass === 'connection') {
    throw new ConfigError(
      'request.type',
      `${request.type} belongs to one connection; the pool does it for every connection it opens — set \`clientId\` and \`auth\` in the client's options`,
    );
  }
  return retryClass;
}

/** Requests the broker holds (long polls, group joins): the pool keeps them off shared connections. */
export function isHeavy(request: RequestInput): boolean {
  if (request.type === 'Consume') return request.maxWaitMs !== undefined && request.maxWaitMs > 0n;
  return request.type === 'JoinGroup' || request.type === 'SyncGroup';
}

/** Without a request timeout, the longest throttle wait a request sits out (then: ThrottledError). */
export const MAX_THROTTLE_WAIT_WITHOUT_DEADLINE_MS = 300_000;

/** How long a throttle wait may still last: what is left of the deadline (0 = none: a fixed cap). */
export function throttleBudget(deadlineMs: number, elapsedMs: number): number {
  return deadlineMs > 0 ? deadlineMs - elapsedMs : MAX_THROTTLE_WAIT_WITHOUT_DEADLINE_MS;
}
