/**
 * `node:diagnostics_channel` channels: what APMs and OpenTelemetry bridges subscribe to. Publishing
 * happens only when someone listens (`hasSubscribers`), so an unobserved client pays one boolean
 * check per operation and allocates nothing.
 *
 * Tracing channels (start → end, then asyncStart/asyncEnd or error, as Node's TracingChannel
 * defines): `rivven-rx:request`, `rivven-rx:produce`, `rivven-rx:fetch`, `rivven-rx:commit`,
 * `rivven-rx:transaction`. Plain channels: `rivven-rx:connection`, `rivven-rx:rebalance`.
 * The message of each is a type below; the same object travels through a trace's events, with
 * `result` or `error` filled in at the end.
 */
import diagnostics from 'node:diagnostics_channel';

/** The message of `rivven-rx:request`: one request to a broker, from sending it to its reply. */
export interface RequestTraceMessage {
  /** The request's variant (`Publish`, `Consume`, `JoinGroup`, …). */
  requestType: string;
  /** The broker's `host:port`. */
  broker: string;
  /** The request's correlation id on its connection. */
  correlationId: number;
  /** Size of the request frame, in bytes. */
  bytesOut: number;
  /** Size of the reply's payload, in bytes (set when it arrives). */
  bytesIn?: number;
  /** The reply's variant (set when it arrives). */
  responseType?: string;
  /** Why the request failed (set on failure). */
  error?: unknown;
}

/** The message of `rivven-rx:produce`: one producer batch, over all its attempts. */
export interface ProduceTraceMessage {
  /** The batch's topic. */
  topic: string;
  /** The batch's partition. */
  partition: number;
  /** Records in the batch. */
  recordCount: number;
  /** Key and value bytes of the batch's records, as sent (after compression). */
  bytes: number;
  /** The broker's `host:port`, when known. */
  broker?: string;
  /** The offset of the batch's first record (set when acknowledged). */
  baseOffset?: bigint;
  /** Why the batch failed (set on failure). */
  error?: unknown;
}

/** The message of `rivven-rx:fetch`: one fetch of a consumer's partition. */
export interface FetchTraceMessage {
  /** The partition's topic. */
  topic: string;
  /** The partition fetched. */
  partition: number;
  /** The offset the fetch starts from. */
  offset: bigint;
  /** The most records asked for. */
  maxMessages: number;
  /** The consumer's group id. */
  groupId: string;
  /** Records the broker returned (set when the answer arrives). */
  recordCount?: number;
  /** Why the fetch failed (set on failure). */
  error?: unknown;
}

/** The message of `rivven-rx:commit`: one commit of a consumer group's offsets. */
export interface CommitTraceMessage {
  /** The group committing. */
  groupId: string;
  /** The offsets committed: for each partition, the next offset the group reads. */
  offsets: {
    /** The topic. */
    topic: string;
    /** The partition. */
    partition: number;
    /** The offset committed. */
    offset: bigint;
  }[];
  /** Why the commit failed (set on failure). */
  error?: unknown;
}

/** The message of `rivven-rx:transaction`: one transaction, from begin to commit or abort. */
export interface TransactionTraceMessage {
  /** The producer's transactional id. */
  transactionalId: string;
  /** The producer id the broker allocated. */
  producerId: bigint;
  /** The producer's epoch. */
  producerEpoch: number;
  /** How the transaction ended (set at the end). */
  outcome?: 'commit' | 'abort';
  /** Why the transaction failed (set on failure). */
  error?: unknown;
}

/** The message of `rivven-rx:connection`: a connection opened, closed or failed. */
export interface ConnectionEventMessage {
  /** What happened. */
  event: 'open' | 'close' | 'fail';
  /** The broker's `host:port`. */
  broker: string;
  /** The client id of the connection. */
  clientId: string;
  /** Why it failed (`fail` only). */
  error?: unknown;
}

/** The message of `rivven-rx:rebalance`: partitions assigned to or revoked from a group member. */
export interface RebalanceEventMessage {
  /** What happened. */
  event: 'revoked' | 'assigned';
  /** The member's group. */
  groupId: string;
  /** The member's id. */
  memberId: string;
  /** The group generation it happened in. */
  generationId: number;
  /** The partitions assigned or revoked. */
  partitions: {
    /** The topic. */
    topic: string;
    /** The partition. */
    partition: number;
  }[];
  /** Why the partitions were revoked (`revoked` only). */
  reason?: string;
}

/**
 * The names of rivven-rx's `node:diagnostics_channel` channels, to subscribe to (tracing channels:
 * request, produce, fetch, commit, transaction; plain channels: connection, rebalance).
 */
export const CHANNEL_NAMES = {
  /** Tracing channel: every request to a broker. */
  request: 'rivven-rx:request',
  /** Tracing channel: every producer batch. */
  produce: 'rivven-rx:produce',
  /** Tracing channel: every consumer fetch. */
  fetch: 'rivven-rx:fetch',
  /** Tracing channel: every consumer offset commit. */
  commit: 'rivven-rx:commit',
  /** Tracing channel: every transaction. */
  transaction: 'rivven-rx:transaction',
  /** Channel: connections opened, closed and failed. */
  connection: 'rivven-rx:connection',
  /** Channel: partitions assigned and revoked. */
  rebalance: 'rivven-rx:rebalance',
} as const;

type TracingChannel<M extends object> = diagnostics.TracingChannel<M, M>;

function tracing<M extends object>(name: string): TracingChannel<M> {
  return diagnostics.tracingChannel<M, M>(name);
}

export const requestChannel = tracing<RequestTraceMessage>(CHANNEL_NAMES.request);
export const produceChannel = tracing<ProduceTraceMessage>(CHANNEL_NAMES.produce);
export const fetchChannel = tracing<FetchTraceMessage>(CHANNEL_NAMES.fetch);
export const commitChannel = tracing<CommitTraceMessage>(CHANNEL_NAMES.commit);
export const transactionChannel = tracing<TransactionTraceMessage>(CHANNEL_NAMES.transaction);
export const connectionChannel = diagnostics.channel(CHANNEL_NAMES.connection);
export const rebalanceChannel = diagnostics.channel(CHANNEL_NAMES.rebalance);

/** Whether anyone listens on the tracing channel: hot paths test this before building a message (no closure, no allocation). */
export function isTraced(channel: TracingChannel<object> | TracingChannel<never>): boolean {
  const c = channel as TracingChannel<object>;
  return c.start.hasSubscribers || c.end.hasSubscribers || c.asyncStart.hasSubscribers || c.asyncEnd.hasSubscribers || c.error.hasSubscribers;
}

/**
 * A trace in progress: `finish(update)` ends it successfully, `fail(error)` with an error. Callers make
 * one only when `isTraced(channel)` says someone listens.
 */
export class Trace<M extends object> {
  private done = false;

  constructor(
    private readonly channel: TracingChannel<M>,
    readonly message: M,
  ) {
    channel.start.publish(message);
    channel.end.publish(message);
  }

  finish(update?: Partial<M>): void {
    if (this.done) return;
    this.done = true;
    if (update !== undefined) Object.assign(this.message, update);
    this.channel.asyncStart.publish(this.message);
    this.channel.asyncEnd.publish(this.message);
  }

  fail(error: unknown): void {
    if (this.done) return;
    this.done = true;
    (this.message as { error?: unknown }).error = error;
    this.channel.error.publish(this.message);
    this.channel.asyncStart.publish(this.message);
    this.channel.asyncEnd.publish(this.message);
  }
}

export function publishConnectionEvent(build: () => ConnectionEventMessage): void {
  if (connectionChannel.hasSubscribers) connectionChannel.publish(build());
}

export function publishRebalanceEvent(build: () => RebalanceEventMessage): void {
  if (rebalanceChannel.hasSubscribers) rebalanceChannel.publish(build());
}
