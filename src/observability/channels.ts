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

export interface RequestTraceMessage {
  requestType: string;
  broker: string;
  correlationId: number;
  bytesOut: number;
  bytesIn?: number;
  responseType?: string;
  error?: unknown;
}

export interface ProduceTraceMessage {
  topic: string;
  partition: number;
  recordCount: number;
  bytes: number;
  broker?: string;
  baseOffset?: bigint;
  error?: unknown;
}

export interface FetchTraceMessage {
  topic: string;
  partition: number;
  offset: bigint;
  maxMessages: number;
  groupId: string;
  recordCount?: number;
  error?: unknown;
}

export interface CommitTraceMessage {
  groupId: string;
  offsets: { topic: string; partition: number; offset: bigint }[];
  error?: unknown;
}

export interface TransactionTraceMessage {
  transactionalId: string;
  producerId: bigint;
  producerEpoch: number;
  outcome?: 'commit' | 'abort';
  error?: unknown;
}

export interface ConnectionEventMessage {
  event: 'open' | 'close' | 'fail';
  broker: string;
  clientId: string;
  error?: unknown;
}

export interface RebalanceEventMessage {
  event: 'revoked' | 'assigned';
  groupId: string;
  memberId: string;
  generationId: number;
  partitions: { topic: string; partition: number }[];
  reason?: string;
}

export const CHANNEL_NAMES = {
  request: 'rivven-rx:request',
  produce: 'rivven-rx:produce',
  fetch: 'rivven-rx:fetch',
  commit: 'rivven-rx:commit',
  transaction: 'rivven-rx:transaction',
  connection: 'rivven-rx:connection',
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
