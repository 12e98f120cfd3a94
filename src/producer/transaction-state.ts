/**
 * The open transaction's bookkeeping: whether one is open, the identity and connection it began
 * with, the partitions already added to it, when its last request was sent (the broker's idle
 * clock), its trace, and an abort still owed to the broker. No I/O: TransactionalProducer sends
 * the requests and records their effect here.
 */
import type { Client } from '../client/client.js';
import type { ProducerIdentity } from '../client/client-types.js';
import { TransactionInterruptedError } from '../errors.js';
import type { Trace, TransactionTraceMessage } from '../observability/channels.js';

export class TransactionState {
  /** An abort (of the transaction of this identity) failed to reach the broker; begin$() retries it first. */
  abortPending: ProducerIdentity | undefined;
  private isOpen = false;
  /** The identity the open (or last) transaction began with. */
  private beganWith: ProducerIdentity | undefined;
  /** The connection the open transaction began on: on another one, the broker may have restarted since. */
  private beganOn: Client | undefined;
  /** When the last request that refreshed the broker's activity clock of the open transaction was sent. */
  private lastTouchSentAt = 0;
  private readonly partitionsInTxn = new Set<string>();
  /** `rivven-rx:transaction` of the open transaction (only while someone listens). */
  private trace: Trace<TransactionTraceMessage> | undefined;

  get open(): boolean {
    return this.isOpen;
  }

  /** The identity the open (or last) transaction began with. */
  get identity(): ProducerIdentity | undefined {
    return this.beganWith;
  }

  /** The broker began a transaction (its begin sent at `sentAt`) on `client` with `identity`. */
  began(client: Client, identity: ProducerIdentity, sentAt: number, trace: Trace<TransactionTraceMessage> | undefined): void {
    this.trace = trace;
    this.isOpen = true;
    this.beganOn = client;
    this.beganWith = identity;
    this.lastTouchSentAt = sentAt;
    this.partitionsInTxn.clear();
  }

  /** A request of the transaction that refreshes the broker's idle clock was sent at `sentAt`. */
  touched(sentAt: number): void {
    this.lastTouchSentAt = sentAt;
  }

  /** Time since the last request that refreshed the broker's idle clock was sent. */
  idleMs(): number {
    return Date.now() - this.lastTouchSentAt;
  }

  /** Whether a transaction is open and `client` is not the connection it began on. */
  movedFrom(client: Client): boolean {
    return this.isOpen && this.beganOn !== undefined && client !== this.beganOn;
  }

  /** The topic-partitions (one each, by key) of these records the transaction does not hold yet. */
  partitionsToAdd(records: readonly { topic: string }[], partitions: readonly number[]): Map<string, readonly [string, number]> {
    const added = new Map<string, readonly [string, number]>();
    records.forEach((record, i) => {
      const key = `${record.topic}\u0000${partitions[i]!}`;
      if (!this.partitionsInTxn.has(key)) added.set(key, [record.topic, partitions[i]!]);
    });
    return added;
  }

  /** The broker added these topic-partitions (keys of `partitionsToAdd`) to the transaction. */
  partitionsAdded(keys: Iterable<string>): void {
    for (const key of keys) this.partitionsInTxn.add(key);
  }

  /** End the open transaction's trace: committed or aborted, or failed with `error`. */
  endTrace(outcome: 'commit' | 'abort', error?: unknown): void {
    const trace = this.trace;
    if (trace === undefined) return;
    this.trace = undefined;
    trace.message.outcome = outcome;
    if (error === undefined) trace.finish();
    else trace.fail(error);
  }

  /** No transaction is open any more (committed, aborted, or given up). */
  finished(): void {
    this.isOpen = false;
    this.beganOn = undefined;
  }

  /** The transaction is given up because of `error`: its trace ends as an abort. */
  stop(error: unknown): void {
    this.endTrace('abort', error);
    this.finished();
  }

  /** The open transaction cannot go on: the next begin$() aborts it first (if the broker still has it). */
  interrupt(): void {
    if (this.isOpen) this.abortPending ??= this.beganWith;
    this.stop(new TransactionInterruptedError('the transaction was interrupted (connection re-established or failed)'));
  }
}
