/**
 * Transactions on rivvend 0.0.22, made to keep their promise: a committed transaction's records
 * are what read_committed readers see, an aborted one's are not, and nothing else is touched.
 *
 * The broker's rules this design follows (read from `rivven-core` `transaction.rs` and
 * `idempotent.rs`, `rivvend` `handler/transaction.rs` and `handler/consume.rs`):
 * - An abort records (producer id, lowest offset, highest offset) of the transaction's writes over
 *   *all* its partitions, and read_committed hides every transactional record of that producer id
 *   whose offset falls in the range, on every topic and partition — earlier committed records of
 *   the same id included. An abort with no writes records nothing.
 * - read_committed has no last stable offset: a transaction's records are visible from the moment
 *   they are written until an abort hides them.
 * - Producer ids are handed out from 1 again after a restart, and `InitProducerId(old id)` on a
 *   broker that does not know the id creates it without reserving it: a stored id may be someone
 *   else's, and bumping its epoch fences a stranger.
 * - At most 5 transactions may be open on the whole broker.
 *
 * So: **a transaction's records stay in the client until commit** (an abort before commit writes
 * nothing, so it hides nothing), and **the commit writes them under a producer id of its own**,
 * obtained fresh for that commit (`InitProducerId` without an id) and never used again: if the
 * commit fails part-way and is aborted, the abort range can only hide that transaction's own
 * records. The broker holds the transaction only while its commit runs (begin, partitions, the
 * records pipelined on one connection, offsets, commit), which keeps the window in which its
 * records are visible before the commit (rivvend's missing last stable offset) that short.
 *
 * What follows from it (docs/exactly-once.md, "Transactions", says it to users):
 * - `publish$`/`send$` inside a transaction complete once the records are held; their offsets
 *   exist only when the transaction commits: `commit$()` and `transaction$()` emit them.
 * - There is no zombie fencing: with a new producer id per commit there is no epoch to bump, and
 *   resuming a stored id would fence whoever holds it now. A second instance running the same
 *   work commits its own transactions; in consume-transform-produce the consumer group decides who
 *   owns an input (`transactional()` commits the inputs' offsets in the same transaction).
 * - A broker restart during a commit is seen as a lost connection, `UNKNOWN_PRODUCER_ID` or
 *   `INVALID_TXN_ID`: the commit fails as `TransactionInterruptedError` (retriable), after the
 *   producer tried to abort it. The records of a commit cut off by a restart, and aborted records
 *   after a restart (rivvend's abort index lives in memory), may be visible: rivvend's limits.
 * - The broker keeps an entry per producer id (for its idle timeout, 7 days): one per commit.
 *
 * The producer core is the Producer's: the same partitioner (partitioner.ts) over partition counts
 * from the same metadata cache (topic-metadata.ts), the broker's sequence model
 * (partition-sequences.ts) and the same batch path (batch-sender.ts, in its transactional mode:
 * rivvend has no transactional batch request, so a partition's records go out as pipelined
 * `TransactionalPublish` requests whose replies name each record's offset). What it does not share
 * is the accumulator: a commit's records are all known at once.
 *
 * Connections: one at a time, opened on demand along `bootstrapServers` (failover walks the list)
 * and re-opened after it failed (client/pinned-lanes.ts's `singleLane`); `create$` connects at once.
 */
import { Observable, asyncScheduler, defer, firstValueFrom, from, lastValueFrom, type ObservableInput } from 'rxjs';
import type { Client } from '../client/client.js';
import type { ProducerIdentity } from '../client/client-types.js';
import type { ResolvedRetryPolicy } from '../connection-settings.js';
import { AllServersUnavailableError, ClosedError, ConfigError, ServerError, TransactionInterruptedError, isUnreachable } from '../errors.js';
import { Trace, isTraced, transactionChannel, type TransactionTraceMessage } from '../observability/channels.js';
import { Log, createLog } from '../observability/log.js';
import { BatchSender, type TransactionWrite } from './batch-sender.js';
import { Retrier } from '../client/retrier.js';
import { singleLane, type SingleLane } from '../client/pinned-lanes.js';
import { Idempotence, isFencingCode, isLostProducerState } from './idempotence.js';
import { PartitionSequences } from './partition-sequences.js';
import { TransactionState, type HeldRecord, type OffsetsToCommit, type TransactionalRecord } from './transaction-state.js';
import { CommitPlacement, byPartition } from './commit-placement.js';
import { resolveTransactionalConfig, type TransactionalProducerConfig } from './transactional-config.js';

/** Where a committed transaction's record was stored. */
export interface TransactionalResult {
  /** The record's topic. */
  topic: string;
  /** The partition it was written to. */
  partition: number;
  /** Offset of the record, visible to read_committed readers now that its transaction committed. */
  offset: bigint;
}

/** How often a commit whose answer was lost is asked about (backing off up to 1 s: ~15 s in all). */
const LOST_COMMIT_ATTEMPTS = 18;

/** Answers that mean the broker no longer has the commit's transaction or producer id (a restart, the reaper). */
const LOST_TRANSACTION_CODES = new Set(['INVALID_TXN_ID']);

/**
 * A transactional producer: a transaction's records are held in the client and written, with the
 * consumed offsets given to `sendOffsets$`, when `commit$()` commits it (under a producer id of its
 * own); an abort writes nothing. See docs/exactly-once.md. Create it with
 * `TransactionalProducer.create$`.
 */
export class TransactionalProducer {
  private readonly txn = new TransactionState();
  private readonly placement: CommitPlacement;
  private readonly sender: BatchSender;
  private closed = false;
  private lastIdentity: ProducerIdentity | undefined;
  /** Transactions committed; each one's records went out under a producer id of its own. */
  commits = 0;

  private constructor(
    private readonly connection: SingleLane,
    /** The producer's own options in force. */
    readonly config: Readonly<{
      /** The transactional id. */
      transactionalId: string;
      /** The broker aborts a transaction idle for longer than this, ms. */
      transactionTimeoutMs: number;
      /** Most bytes (keys and values) a transaction may hold in the client until its commit. */
      bufferMemory: number;
    }>,
    retry: ResolvedRetryPolicy,
    private readonly log: Log = Log.silent,
  ) {
    this.placement = new CommitPlacement({
      retry,
      requestMetadata: async (topic) => firstValueFrom((await this.connection.client()).getMetadata$(topic)),
      retriesStopped: () => this.closed,
    });
    // Written once per commit, never retried: a transactional write repeated under the same
    // producer id would be answered like a fresh one, so a failure fails (and aborts) the commit.
    this.sender = new BatchSender({
      retrier: new Retrier({ ...retry, maxAttempts: 1 }, asyncScheduler),
      idempotence: new Idempotence(false, () => Promise.reject(new Error('not idempotent')), () => undefined),
      onRetry: () => undefined,
      log,
    });
  }

  /** The producer id and epoch of the last commit (each commit takes a new id); undefined before the first. */
  get identity(): ProducerIdentity | undefined {
    return this.lastIdentity;
  }

  /** Connect (so a wrong address or credentials fail here, not at the first commit). */
  static create$(config: TransactionalProducerConfig): Observable<TransactionalProducer> {
    return defer(async () => {
      const resolved = resolveTransactionalConfig(config);
      const connection = singleLane({ bootstrapServers: resolved.bootstrapServers, client: resolved.connection, closedMessage: 'the producer is closed' });
      try {
        // Whole rounds over the list, with backoff: only "no server answered" is worth another; a refusal (credentials, TLS) is final.
        await new Retrier(resolved.retry).run(() => connection.client(), { retriable: (error) => error instanceof AllServersUnavailableError });
        const log = createLog('transactional-producer', config.logger, config.logLevel, { transactionalId: resolved.transactionalId });
        const settings = { transactionalId: resolved.transactionalId, transactionTimeoutMs: resolved.transactionTimeoutMs, bufferMemory: resolved.bufferMemory };
        return new TransactionalProducer(connection, settings, resolved.retry, log);
      } catch (error) {
        await connection.close();
        throw error;
      }
    });
  }

  /**
   * Run `work` in a transaction: what it publishes is committed when it completes (emitting the
   * records' results, in publish order), and dropped when it fails (the error is re-thrown).
   */
  transaction$(work: (txn: TransactionalProducer) => ObservableInput<unknown>): Observable<TransactionalResult[]> {
    return defer(async () => {
      this.open();
      try {
        await lastValueFrom(from(work(this)), { defaultValue: undefined });
      } catch (error) {
        this.txn.finished();
        throw error;
      }
      return this.commitOpen();
    });
  }

  /** Open a transaction (in the client: nothing reaches the broker before the commit). */
  begin$(): Observable<void> {
    return defer(async () => this.open());
  }

  /** Publish one record in the open transaction; its offset comes with the commit. */
  send$(record: TransactionalRecord): Observable<never> {
    return this.publish$([record]);
  }

  /** Publish records in the open transaction, in this order; their offsets come with the commit. */
  publish$(records: readonly TransactionalRecord[]): Observable<never> {
    return new Observable<never>((subscriber) => {
      try {
        this.requireOpen('publish$');
        // Held in memory until the commit: checked now, bounded by bufferMemory, all or none.
        this.txn.add(records, this.config.bufferMemory);
        subscriber.complete();
      } catch (error) {
        subscriber.error(error);
      }
    });
  }

  /** Commit consumed offsets (the next offset to read, per topic-partition) with the open transaction. */
  sendOffsets$(groupId: string, offsets: OffsetsToCommit): Observable<never> {
    return new Observable<never>((subscriber) => {
      try {
        this.requireOpen('sendOffsets$');
        if (typeof groupId !== 'string' || groupId.length === 0) throw new ConfigError('groupId', 'must be a non-empty string');
        this.txn.addOffsets(groupId, offsets);
        subscriber.complete();
      } catch (error) {
        subscriber.error(error);
      }
    });
  }

  /** Commit the open transaction: its records are written and committed; emits their results in publish order. */
  commit$(): Observable<TransactionalResult[]> {
    return defer(async () => {
      this.requireOpen('commit$');
      return this.commitOpen();
    });
  }

  /** Abort the open transaction: its records never reach the broker. */
  abort$(): Observable<void> {
    return defer(async () => {
      this.txn.finished();
    });
  }

  /** Drop any open transaction (nothing of it was written) and close the connection. */
  async close(): Promise<void> {
    this.closed = true;
    this.txn.finished();
    await this.connection.close();
  }

  /** `await using`: calls `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private open(): void {
    if (this.closed) throw new ClosedError('the transactional producer is closed; create a new one to begin a transaction');
    if (this.txn.open) throw new ConfigError('transaction', 'a transaction is already open; commit or abort it first');
    this.txn.began();
  }

  private requireOpen(operation: string): void {
    if (!this.txn.open) throw new ConfigError('transaction', `${operation}: no open transaction; call begin$() or use transaction$()`);
  }

  private async commitOpen(): Promise<TransactionalResult[]> {
    const records = this.txn.records;
    const offsets = this.txn.offsets;
    try {
      if (records.length === 0 && offsets.every((group) => group.offsets.length === 0)) return [];
      const results = await this.writeAndCommit(records, offsets);
      this.commits++;
      return results;
    } finally {
      this.txn.finished();
    }
  }

  /**
   * The commit, start to end on one connection under a new producer id: begin, add the
   * partitions, publish every record (pipelined: the broker handles a connection's requests in
   * order), add the offsets, commit. Anything failing before the commit is answered aborts it.
   */
  private async writeAndCommit(records: readonly HeldRecord[], groupOffsets: TransactionState['offsets']): Promise<TransactionalResult[]> {
    const { transactionalId, transactionTimeoutMs } = this.config;
    const client = await this.connected();
    const placed = await this.interruptedIfUnreachable(() => this.placement.place(records));
    const identity = await this.interruptedIfUnreachable(() => firstValueFrom(client.initProducerId$()));
    this.lastIdentity = identity;
    const trace = isTraced(transactionChannel)
      ? new Trace<TransactionTraceMessage>(transactionChannel, { transactionalId, producerId: identity.producerId, producerEpoch: identity.producerEpoch })
      : undefined;
    let begun = false;
    /** When the commit request was sent: its answer lost, the transaction may have committed. */
    let committing: number | undefined;
    let results: TransactionalResult[] | undefined;
    try {
      await firstValueFrom(client.beginTransaction$(transactionalId, identity, transactionTimeoutMs), { defaultValue: undefined });
      begun = true;
      const batches = byPartition(placed);
      if (batches.size > 0) await firstValueFrom(client.addPartitionsToTxn$(transactionalId, identity, [...batches.values()].map((b) => [b.topic, b.partition] as const)));
      // A fresh producer id: every partition number's sequences start at 0 (partition-sequences.ts).
      // Each batch takes its sequences and queues its requests in one step, so a partition number's
      // sequences reach the connection in order whatever the topic.
      const write: TransactionWrite = { transactionalId, identity, sequences: new PartitionSequences() };
      const offsets = new Array<bigint>(placed.length);
      const outcomes = await Promise.all(
        [...batches.values()].map(async (batch) => {
          const outcome = await this.sender.send({
            topic: batch.topic,
            partition: batch.partition,
            records: batch.indexes.map((i) => placed[i]!),
            lane: this.connection,
            abandoned: () => false,
            transaction: write,
          });
          if (outcome?.acknowledged) batch.indexes.forEach((index, k) => (offsets[index] = outcome.offsets[k]!));
          return outcome;
        }),
      );
      const failed = outcomes.find((outcome) => outcome === undefined || !outcome.acknowledged);
      if (failed !== undefined) throw failed.acknowledged === false ? failed.error : new Error('a batch of the commit was abandoned');
      for (const group of groupOffsets) {
        if (group.offsets.length > 0) await firstValueFrom(client.addOffsetsToTxn$(transactionalId, identity, group.groupId, group.offsets), { defaultValue: undefined });
      }
      results = placed.map((record, i) => ({ topic: record.topic, partition: record.partition, offset: offsets[i]! }));
      committing = Date.now();
      await firstValueFrom(client.commitTransaction$(transactionalId, identity), { defaultValue: undefined });
      if (trace !== undefined) {
        trace.message.outcome = 'commit';
        trace.finish();
      }
      return results;
    } catch (error) {
      if (committing !== undefined && results !== undefined && isUnreachable(error)) {
        // Never abort a commit whose answer was lost: rivvend lets an abort overtake a commit half
        // done (markers and offsets written), which would hide outputs whose inputs are committed.
        const ended = await this.settleLostCommit(identity, committing);
        if (ended === 'committed') {
          if (trace !== undefined) {
            trace.message.outcome = 'commit';
            trace.finish();
          }
          return results;
        }
        trace?.fail(error);
        this.connection.reset();
        throw new TransactionInterruptedError(
          ended === 'lost'
            ? `the connection to the broker failed during the commit (${(error as Error).message}), and the broker restarted meanwhile: nothing of it was committed`
            : `the connection to the broker failed during the commit (${(error as Error).message}), and how it ended could not be learned: it may have committed (a consumer group's committed offsets say)`,
          { cause: error, mayHaveCommitted: ended === 'unknown' },
        );
      }
      if (begun) await this.abortOnBroker(identity);
      if (trace !== undefined) {
        trace.message.outcome = 'abort';
        trace.fail(error);
      }
      throw this.explain(error, identity);
    }
  }

  /**
   * The commit request was sent and its answer lost with the connection: ask again until the broker
   * says how it ended. A commit sent again commits a transaction the first one never reached, and
   * is refused (`INVALID_TXN_STATE`) while the first is still under way; `INVALID_TXN_ID` means the
   * transaction is gone — committed, unless the broker restarted (it hands out ids from 1 again, so a
   * fresh id not above ours says so) or its reaper timed it out (possible only past the timeout).
   */
  private async settleLostCommit(identity: ProducerIdentity, commitSentAt: number): Promise<'committed' | 'lost' | 'unknown'> {
    const { transactionalId, transactionTimeoutMs } = this.config;
    for (let attempt = 0; attempt < LOST_COMMIT_ATTEMPTS && !this.closed; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 1_000)));
      try {
        const client = await this.connection.client();
        try {
          await firstValueFrom(client.commitTransaction$(transactionalId, identity), { defaultValue: undefined });
          return 'committed';
        } catch (error) {
          if (!(error instanceof ServerError)) throw error;
          if (error.serverCode === 'INVALID_TXN_STATE') continue;
          if (error.serverCode !== 'INVALID_TXN_ID') return 'unknown';
          if (Date.now() - commitSentAt >= transactionTimeoutMs) return 'unknown';
          const fresh = await firstValueFrom(client.initProducerId$());
          return fresh.producerId > identity.producerId ? 'committed' : 'lost';
        }
      } catch (error) {
        if (!isUnreachable(error)) return 'unknown';
        this.connection.reset();
      }
    }
    return 'unknown';
  }

  /**
   * Abort the failed commit's transaction (its records were written under a producer id that owns
   * nothing else, so the abort hides exactly them). On a new connection if the old one broke; if
   * the broker cannot be reached, its reaper aborts it after transactionTimeoutMs.
   */
  private async abortOnBroker(identity: ProducerIdentity): Promise<void> {
    try {
      const client = await this.connection.client();
      await firstValueFrom(client.abortTransaction$(this.config.transactionalId, identity), { defaultValue: undefined });
    } catch (error) {
      if (isUnreachable(error)) this.connection.reset();
      this.log.warn("could not abort a failed commit's transaction: the broker aborts it after transactionTimeoutMs; its records may be visible to read_committed readers until then", {
        producerId: identity.producerId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /** The error a failed commit reports: what the client saw, named for what it is. */
  private explain(error: unknown, identity: ProducerIdentity): unknown {
    if (isUnreachable(error)) {
      this.connection.reset();
      return new TransactionInterruptedError(`the connection to the broker failed during the commit (${(error as Error).message}); nothing of it was committed`, { cause: error });
    }
    if (error instanceof ServerError && error.serverCode !== undefined) {
      if (isLostProducerState(error) || LOST_TRANSACTION_CODES.has(error.serverCode)) {
        return new TransactionInterruptedError(`the broker no longer knows producer id ${identity.producerId} or its transaction (${error.serverMessage}): it restarted, or its reaper timed the transaction out; nothing of it was committed`, { cause: error });
      }
      if (isFencingCode(error.serverCode)) {
        return new TransactionInterruptedError(`producer id ${identity.producerId} was taken over by another producer during the commit (${error.serverMessage}; rivvend hands ids out again after a restart); nothing of it was committed`, { cause: error });
      }
    }
    return error;
  }

  /** A connection, walking the server list; unreachable brokers fail the commit as interrupted. */
  private async connected(): Promise<Client> {
    return this.interruptedIfUnreachable(() => this.connection.client());
  }

  /** Before the commit's transaction begins: a broker out of reach fails it as interrupted, with nothing written. */
  private async interruptedIfUnreachable<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (isUnreachable(error)) {
        this.connection.reset();
        throw new TransactionInterruptedError(`the broker could not be reached (${(error as Error).message}); nothing of it was committed`, { cause: error });
      }
      throw error;
    }
  }
}
