/**
 * Transactions: `BeginTransaction`, `AddPartitionsToTxn` (each partition once), `TransactionalPublish`,
 * `AddOffsetsToTxn`, `CommitTransaction` / `AbortTransaction`, with the epoch from `InitProducerId`.
 * `transaction$(work)` runs `work` inside a transaction: commit when it completes, abort (and
 * re-throw, typed) when it fails. A fenced producer (a newer epoch exists) refuses everything after.
 *
 * rivvend 0.0.22 specifics this class works with (see the README's "Transactions" limits):
 * - The broker keeps no transactional id → producer id mapping: a restarted instance resumes (and
 *   fences) its predecessor only if it passes the predecessor's `producerId` as `previousProducerId`.
 * - Bumping the epoch does not abort the predecessor's open transaction; beginning one then fails
 *   with `PRODUCER_FENCED: expected epoch <old>, got <new>`. `begin$()` recognises that answer,
 *   aborts the stale transaction with the old epoch (which the broker allows) and begins again;
 *   `create$` does this once up front when resuming, so a late commit of the predecessor cannot land.
 * - A transaction idle past its timeout and then touched is marked Dead and never aborted (its
 *   records stay visible to read_committed): abort instead of continuing close to the timeout.
 * - Idempotence sequences are tracked per (producer id, partition number), whatever the topic.
 * - Producer ids and open transactions live in the broker's memory: after a restart every request
 *   of the producer is `UNKNOWN_PRODUCER_ID` / `INVALID_TXN_ID`. The producer then re-initialises
 *   its id (passing its own, so the id stays the same), and the transaction that was open fails with
 *   a `TransactionInterruptedError` (retriable): run it again.
 *
 * Connections: one at a time, opened on demand along `bootstrapServers` (failover walks the list)
 * and re-opened after it failed (transaction-connection.ts); a transaction whose connection broke
 * fails typed and retriable. The open transaction's bookkeeping is in transaction-state.ts.
 */
import { Observable, defer, firstValueFrom, ignoreElements, lastValueFrom, map, toArray, catchError } from 'rxjs';
import type { Client } from '../client/client.js';
import type { Bytes, ProducerIdentity } from '../client/client-types.js';
import { ConfigError, ProducerFencedError, ServerError, TimeoutError, TransactionInterruptedError, isUnreachable } from '../errors.js';
import { isLostProducerState } from './idempotence.js';
import { Trace, isTraced, transactionChannel, type TransactionTraceMessage } from '../observability/channels.js';
import { Log, createLog } from '../observability/log.js';
import { isFencingCode, staleEpochOf } from './fencing-replies.js';
import { PartitionSequences } from './partition-sequences.js';
import { firstClient, openTransactionConnection, type TransactionConnection } from './transaction-connection.js';
import { TransactionState } from './transaction-state.js';
import { resolveTransactionalConfig, type TransactionalProducerConfig } from './transactional-config.js';
import { TransactionalPartitioner } from './transactional-partitioner.js';

export type { TransactionalProducerConfig } from './transactional-config.js';

export interface TransactionalRecord {
  topic: string;
  value: Bytes;
  key?: Bytes;
  partition?: number;
}

export interface TransactionalResult {
  topic: string;
  partition: number;
  /** Offset of the record; visible to read_committed consumers once the transaction commits. */
  offset: bigint;
}

export class TransactionalProducer {
  /** How many transactions left open by an earlier epoch of this producer id `begin$()` aborted. */
  staleTransactionsAborted = 0;
  private fenced: ProducerFencedError | undefined;
  /** The broker lost this producer's id (a restart) and re-initialising it has not succeeded yet. */
  private needsReinit = false;
  /** Errors this class raised itself (not a sign of a broken connection). */
  private readonly ownErrors = new WeakSet<Error>();
  private readonly txn = new TransactionState();
  private readonly sequences = new PartitionSequences();
  private readonly partitioner = new TransactionalPartitioner();
  private currentIdentity: ProducerIdentity;
  /** Times the producer id was re-initialised because the broker had lost it (a restart). */
  producerIdResets = 0;

  private constructor(
    private readonly connection: TransactionConnection,
    identity: ProducerIdentity,
    readonly config: Readonly<{ transactionalId: string; transactionTimeoutMs: number }>,
    private readonly log: Log = Log.silent,
  ) {
    this.currentIdentity = identity;
  }

  /** The producer id and epoch in use (the id stays the same across re-initialisations). */
  get identity(): ProducerIdentity {
    return this.currentIdentity;
  }

  /** Connect and obtain a producer id and epoch. */
  static create$(config: TransactionalProducerConfig): Observable<TransactionalProducer> {
    return defer(async () => {
      const resolved = resolveTransactionalConfig(config);
      const connection = openTransactionConnection(resolved);
      try {
        const client = await firstClient(connection, resolved.retry);
        const identity = await firstValueFrom(client.initProducerId$(resolved.previousProducerId));
        const log = createLog('transactional-producer', config.logger, config.logLevel, { transactionalId: resolved.transactionalId });
        const producer = new TransactionalProducer(
          connection,
          identity,
          { transactionalId: resolved.transactionalId, transactionTimeoutMs: resolved.transactionTimeoutMs },
          log,
        );
        if (resolved.previousProducerId !== undefined) {
          // Settle the predecessor's open transaction (abort it) before anyone reads the group's
          // committed offsets: afterwards it can neither commit late nor stay visible.
          await lastValueFrom(producer.begin$(), { defaultValue: undefined });
          await lastValueFrom(producer.abort$(), { defaultValue: undefined });
        }
        return producer;
      } catch (error) {
        await connection.close();
        throw error;
      }
    });
  }

  /** Run `work` in a transaction: commit on completion, abort on error (the error is re-thrown). */
  transaction$<T>(work: (txn: TransactionalProducer) => Observable<T>): Observable<T[]> {
    return defer(async () => {
      await lastValueFrom(this.begin$(), { defaultValue: undefined });
      try {
        const results = await lastValueFrom(work(this).pipe(toArray()));
        await lastValueFrom(this.commit$(), { defaultValue: undefined });
        return results;
      } catch (error) {
        if (this.txn.open) {
          // If the abort cannot be sent now, the next begin$() sends it first: beginning again with
          // the same id and epoch would otherwise resume this transaction, writes and all.
          const identity = this.txn.identity;
          await lastValueFrom(this.abort$(), { defaultValue: undefined }).catch(() => (this.txn.abortPending ??= identity));
        }
        throw error;
      }
    });
  }

  begin$(): Observable<void> {
    return this.guard$(async () => {
      const client = await this.connection.client();
      if (this.txn.abortPending !== undefined) {
        await firstValueFrom(client.abortTransaction$(this.config.transactionalId, this.txn.abortPending), { defaultValue: undefined }).catch((error: unknown) => {
          // Gone already (reaped, aborted, or lost in a broker restart): nothing left to abort.
          if (!(error instanceof ServerError && (error.serverCode === 'INVALID_TXN_ID' || isLostProducerState(error)))) throw error;
        });
        this.txn.abortPending = undefined;
        this.txn.finished();
      }
      if (this.needsReinit) await this.reinitialise(client);
      if (this.txn.open) throw this.own(new ConfigError('transaction', 'a transaction is already open; commit or abort it first'));
      let sentAt = Date.now();
      const trace = isTraced(transactionChannel)
        ? new Trace<TransactionTraceMessage>(transactionChannel, {
            transactionalId: this.config.transactionalId,
            producerId: this.identity.producerId,
            producerEpoch: this.identity.producerEpoch,
          })
        : undefined;
      try {
        await this.beginOnBroker(client);
      } catch (error) {
        const staleEpoch = staleEpochOf(error, this.identity.producerEpoch);
        if (staleEpoch === undefined) {
          trace?.fail(error);
          throw error;
        }
        // A predecessor (same producer id, older epoch) died or was fenced with a transaction open.
        // Abort it now rather than wait for the broker's transaction timeout; then begin ours.
        await firstValueFrom(client.abortTransaction$(this.config.transactionalId, { producerId: this.identity.producerId, producerEpoch: staleEpoch }), {
          defaultValue: undefined,
        });
        this.staleTransactionsAborted++;
        sentAt = Date.now();
        try {
          await this.beginOnBroker(client);
        } catch (again) {
          trace?.fail(again);
          throw again;
        }
      }
      this.txn.began(client, this.identity, sentAt, trace);
    });
  }

  private async beginOnBroker(client: Client): Promise<void> {
    await firstValueFrom(client.beginTransaction$(this.config.transactionalId, this.identity, this.config.transactionTimeoutMs), {
      defaultValue: undefined,
    });
  }

  /**
   * The connection for a request of the open transaction. If it is not the one the transaction
   * began on, the broker may have restarted meanwhile (and forgotten the transaction): the
   * transaction is interrupted rather than continued on a guess.
   */
  private async transactionConnection(): Promise<Client> {
    const client = await this.connection.client();
    if (this.txn.movedFrom(client)) {
      this.txn.interrupt();
      throw this.own(new TransactionInterruptedError('the connection to the broker was re-established during the transaction (the broker may have restarted)'));
    }
    return client;
  }

  /**
   * Obtain our producer id again (passing it, so it stays the same; the broker restarts its epoch
   * at 0 when it has forgotten it) with fresh sequences.
   */
  private async reinitialise(client: Client): Promise<void> {
    const identity = await firstValueFrom(client.initProducerId$(this.identity.producerId));
    this.currentIdentity = identity;
    this.sequences.clear();
    this.needsReinit = false;
    this.producerIdResets++;
    this.log.warn('producer id re-initialised: the broker had lost it (a restart)', {
      producerId: identity.producerId,
      producerEpoch: identity.producerEpoch,
      resets: this.producerIdResets,
    });
  }

  /** The broker forgot this producer (a restart): give up the open transaction and re-initialise. */
  private async recoverLostState(): Promise<void> {
    const stale = this.txn.open ? this.txn.identity : undefined;
    this.txn.stop(new TransactionInterruptedError('the broker no longer knows this producer (it restarted)'));
    this.needsReinit = true;
    this.sequences.clear();
    try {
      const client = await this.connection.client();
      if (stale !== undefined) {
        // Begun on the restarted broker before the loss showed: abort it with the epoch it began with.
        await firstValueFrom(client.abortTransaction$(this.config.transactionalId, stale), { defaultValue: undefined }).catch(() => (this.txn.abortPending ??= stale));
      }
      await this.reinitialise(client);
    } catch {
      // Unreachable again: begin$() re-initialises first.
    }
  }

  private own<E extends Error>(error: E): E {
    this.ownErrors.add(error);
    return error;
  }

  /** Publish one record inside the open transaction. */
  send$(record: TransactionalRecord): Observable<TransactionalResult> {
    return this.publish$([record]).pipe(map((results) => results[0]!));
  }

  /**
   * Publish records inside the open transaction, pipelined on the connection (the broker handles a
   * connection's requests in order, so sequences stay in order); emits their results in input order.
   * New partitions are added to the transaction first, in one request.
   */
  publish$(records: readonly TransactionalRecord[]): Observable<TransactionalResult[]> {
    return this.guard$(async () => {
      if (!this.txn.open) throw this.own(new ConfigError('transaction', 'no open transaction: call begin$() or use transaction$()'));
      const client = await this.transactionConnection();
      const partitions = await Promise.all(records.map((record) => this.partitioner.partitionFor(record, client)));
      await this.abortIfNearTimeout(client);
      const added = this.txn.partitionsToAdd(records, partitions);
      const sentAt = Date.now();
      if (added.size > 0) {
        await firstValueFrom(client.addPartitionsToTxn$(this.config.transactionalId, this.identity, [...added.values()]));
        this.txn.partitionsAdded(added.keys());
      }
      const sequences = this.sequences.take(partitions);
      const settled = await Promise.allSettled(
        records.map((record, i) =>
          firstValueFrom(
            client.transactionalPublish$(
              this.config.transactionalId,
              record.topic,
              { value: record.value, key: record.key, partition: partitions[i]! },
              this.identity,
              sequences[i]!,
            ),
          ),
        ),
      );
      if (settled.some((s) => s.status === 'fulfilled')) this.txn.touched(sentAt);
      const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failure !== undefined) {
        this.sequences.resync(partitions, sequences, settled);
        throw failure.reason;
      }
      return settled.map((s, i) => {
        const result = (s as PromiseFulfilledResult<{ partition: number; offset: bigint }>).value;
        return { topic: records[i]!.topic, partition: result.partition, offset: result.offset };
      });
    });
  }

  /** Commit consumed offsets (the next offset to read, per topic-partition) with the transaction. */
  sendOffsets$(groupId: string, offsets: readonly (readonly [topic: string, partition: number, nextOffset: bigint])[]): Observable<void> {
    return this.guard$(async () => {
      if (!this.txn.open) throw this.own(new ConfigError('transaction', 'no open transaction'));
      const client = await this.transactionConnection();
      await this.abortIfNearTimeout(client);
      const sentAt = Date.now();
      await firstValueFrom(client.addOffsetsToTxn$(this.config.transactionalId, this.identity, groupId, offsets), { defaultValue: undefined });
      this.txn.touched(sentAt);
    });
  }

  commit$(): Observable<void> {
    return this.guard$(async () => {
      const client = await this.transactionConnection();
      if (this.txn.open) await this.abortIfNearTimeout(client);
      await this.end('commit', client.commitTransaction$(this.config.transactionalId, this.identity));
    });
  }

  abort$(): Observable<void> {
    return this.guard$(async () => {
      const client = await this.transactionConnection();
      await this.end('abort', client.abortTransaction$(this.config.transactionalId, this.identity));
    });
  }

  /** Send the commit or abort; once the broker took it, no transaction is open. */
  private async end(outcome: 'commit' | 'abort', request$: Observable<void>): Promise<void> {
    try {
      await firstValueFrom(request$, { defaultValue: undefined });
    } catch (error) {
      this.txn.endTrace(outcome, error);
      throw error;
    }
    this.txn.endTrace(outcome);
    this.txn.finished();
  }

  /**
   * rivvend marks a transaction Dead when a publish, AddOffsets or commit arrives after its timeout
   * (idle time since its last request) and the reaper has not run yet — and a Dead transaction is
   * never aborted, so its records stay visible to read_committed readers. An abort is still
   * accepted then, so: close to the timeout, abort instead of sending (counted from when our last
   * request was *sent*, which is never later than the broker's clock saw it).
   */
  private async abortIfNearTimeout(client: Client): Promise<void> {
    const idle = this.txn.idleMs();
    const limit = this.config.transactionTimeoutMs - Math.max(100, this.config.transactionTimeoutMs / 10);
    if (idle <= limit) return;
    await firstValueFrom(client.abortTransaction$(this.config.transactionalId, this.identity), { defaultValue: undefined }).catch(() => undefined);
    this.txn.stop(new TimeoutError(`the transaction was idle ${idle} ms, close to its timeout: aborted`));
    throw this.own(new TimeoutError(
      `the transaction was idle ${idle} ms, too close to its ${this.config.transactionTimeoutMs} ms timeout (transactionTimeoutMs) to continue safely; ` +
        'it was aborted — raise transactionTimeoutMs or keep transactions shorter',
    ));
  }

  isFenced(): boolean {
    return this.fenced !== undefined;
  }

  async close(): Promise<void> {
    if (this.txn.open && !this.fenced) await lastValueFrom(this.abort$().pipe(ignoreElements(), catchError(() => [])), { defaultValue: undefined });
    await this.connection.close();
  }

  /**
   * Our open transaction vanished (`INVALID_TXN_ID`) although it cannot have timed out: only a
   * successor that bumped our epoch aborts it (see create$), so we are fenced. (A broker restart,
   * the other way a transaction vanishes, also drops this producer's connection; requests of the
   * transaction on a new connection are refused as interrupted before they are sent.)
   */
  private abortedByOther(serverCode: string): boolean {
    return serverCode === 'INVALID_TXN_ID' && this.txn.open && this.txn.idleMs() < this.config.transactionTimeoutMs;
  }

  /** Run an operation unless fenced; turn fencing replies into ProducerFencedError and remember it. */
  private guard$<T>(operation: () => Promise<T>): Observable<T> {
    return defer(async () => {
      if (this.fenced) throw this.fenced;
      try {
        return await operation();
      } catch (error) {
        if (error instanceof ServerError && error.serverCode !== undefined && (isFencingCode(error.serverCode) || this.abortedByOther(error.serverCode))) {
          this.fenced = new ProducerFencedError(error.serverMessage, { cause: error });
          this.txn.stop(this.fenced);
          this.log.error('fenced: a newer instance of this transactional id took over; this producer refuses everything from now on (close it)', {
            producerId: this.identity.producerId,
            producerEpoch: this.identity.producerEpoch,
            errorCode: error.serverCode,
          });
          throw this.fenced;
        }
        if (error instanceof TransactionInterruptedError || (error instanceof Error && this.ownErrors.has(error))) throw error;
        if (isUnreachable(error)) {
          // Connect again (along the list) next time; the open transaction's fate is unknown.
          this.connection.reset();
          if (!this.txn.open) throw error;
          this.txn.interrupt();
          throw new TransactionInterruptedError(`the connection to the broker failed (${error.message})`, { cause: error });
        }
        if (isLostProducerState(error)) {
          const wasOpen = this.txn.open;
          await this.recoverLostState();
          if (wasOpen) throw new TransactionInterruptedError(`the broker no longer knows this producer (${(error as ServerError).serverMessage}); it restarted`, { cause: error });
        }
        throw error;
      }
    });
  }
}
