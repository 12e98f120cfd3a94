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
 */
import { Observable, defer, firstValueFrom, ignoreElements, lastValueFrom, map, toArray, catchError } from 'rxjs';
import { Client, type ClientOptions } from '../client/client.js';
import type { Bytes, ProducerIdentity } from '../client/client-types.js';
import { ConfigError, ProducerFencedError, ServerError, TimeoutError } from '../errors.js';
import { murmur2Partition } from '../protocol/murmur2.js';

export interface TransactionalProducerConfig {
  bootstrapServer: string;
  /** Names this producer's transactions; keep it the same across restarts of one logical producer. */
  transactionalId: string;
  /** The broker aborts a transaction idle (no request) for longer than this. Default 60,000 ms. */
  transactionTimeoutMs?: number;
  /**
   * Resume (and fence) an earlier producer id: its epoch is bumped, older instances are fenced, and
   * a transaction the predecessor left open is aborted before `create$` emits. Keep the
   * `transactionalId` the same across restarts and store `identity.producerId` to pass here.
   */
  previousProducerId?: bigint;
  client?: ClientOptions;
}

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

const FENCING_CODES = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH']);
/** `begin` answered by the broker when an older epoch of this producer id still has a transaction open. */
const STALE_EPOCH = /PRODUCER_FENCED: expected epoch (\d+), got (\d+)/;

export class TransactionalProducer {
  /** How many transactions left open by an earlier epoch of this producer id `begin$()` aborted. */
  staleTransactionsAborted = 0;
  private fenced: ProducerFencedError | undefined;
  /** When the last request that refreshed the broker's activity clock of the open transaction was sent. */
  private lastTouchSentAt = 0;
  /** An abort of the open transaction failed to reach the broker; begin$() retries it first. */
  private abortPending = false;
  private open = false;
  private readonly partitionsInTxn = new Set<string>();
  /** Next sequence per partition number: the broker keys sequences by (producer id, partition) only. */
  private readonly sequences = new Map<number, number>();
  private readonly partitionCounts = new Map<string, number>();

  private constructor(
    private readonly client: Client,
    readonly identity: ProducerIdentity,
    readonly config: Required<Pick<TransactionalProducerConfig, 'transactionalId' | 'transactionTimeoutMs'>>,
  ) {}

  /** Connect and obtain a producer id and epoch. */
  static create$(config: TransactionalProducerConfig): Observable<TransactionalProducer> {
    return defer(async () => {
      if (!config.transactionalId) throw new ConfigError('transactionalId', 'must be a non-empty string');
      const timeout = config.transactionTimeoutMs ?? 60_000;
      if (!Number.isInteger(timeout) || timeout < 1) throw new ConfigError('transactionTimeoutMs', `must be a positive integer, got ${timeout}`);
      const client = await firstValueFrom(Client.connect$(config.bootstrapServer, { clientId: config.transactionalId, ...config.client }));
      try {
        const identity = await firstValueFrom(client.initProducerId$(config.previousProducerId));
        const producer = new TransactionalProducer(client, identity, { transactionalId: config.transactionalId, transactionTimeoutMs: timeout });
        if (config.previousProducerId !== undefined) {
          // Settle the predecessor's open transaction (abort it) before anyone reads the group's
          // committed offsets: afterwards it can neither commit late nor stay visible.
          await lastValueFrom(producer.begin$(), { defaultValue: undefined });
          await lastValueFrom(producer.abort$(), { defaultValue: undefined });
        }
        return producer;
      } catch (error) {
        await client.close();
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
        if (this.open) {
          // If the abort cannot be sent now, the next begin$() sends it first: beginning again with
          // the same id and epoch would otherwise resume this transaction, writes and all.
          await lastValueFrom(this.abort$(), { defaultValue: undefined }).catch(() => (this.abortPending = true));
        }
        throw error;
      }
    });
  }

  begin$(): Observable<void> {
    return this.guard$(async () => {
      if (this.abortPending) {
        await firstValueFrom(this.client.abortTransaction$(this.config.transactionalId, this.identity), { defaultValue: undefined }).catch((error: unknown) => {
          // Gone already (reaped, or the abort did arrive): nothing left to abort.
          if (!(error instanceof ServerError && error.serverCode === 'INVALID_TXN_ID')) throw error;
        });
        this.abortPending = false;
        this.open = false;
      }
      if (this.open) throw new ConfigError('transaction', 'a transaction is already open; commit or abort it first');
      let sentAt = Date.now();
      try {
        await this.beginOnBroker();
      } catch (error) {
        const staleEpoch = this.staleEpochOf(error);
        if (staleEpoch === undefined) throw error;
        // A predecessor (same producer id, older epoch) died or was fenced with a transaction open.
        // Abort it now rather than wait for the broker's transaction timeout; then begin ours.
        await firstValueFrom(this.client.abortTransaction$(this.config.transactionalId, { producerId: this.identity.producerId, producerEpoch: staleEpoch }), {
          defaultValue: undefined,
        });
        this.staleTransactionsAborted++;
        sentAt = Date.now();
        await this.beginOnBroker();
      }
      this.open = true;
      this.lastTouchSentAt = sentAt;
      this.partitionsInTxn.clear();
    });
  }

  private async beginOnBroker(): Promise<void> {
    await firstValueFrom(this.client.beginTransaction$(this.config.transactionalId, this.identity, this.config.transactionTimeoutMs), {
      defaultValue: undefined,
    });
  }

  /** The older epoch named by a `begin` refusal, when it is older than ours (then we are not the fenced one). */
  private staleEpochOf(error: unknown): number | undefined {
    if (!(error instanceof ServerError)) return undefined;
    const match = STALE_EPOCH.exec(error.serverMessage);
    if (match === null) return undefined;
    const [expected, received] = [Number(match[1]), Number(match[2])];
    return received === this.identity.producerEpoch && expected < received ? expected : undefined;
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
      if (!this.open) throw new ConfigError('transaction', 'no open transaction: call begin$() or use transaction$()');
      const partitions = await Promise.all(records.map((record) => this.partitionFor(record)));
      await this.abortIfNearTimeout();
      const added = new Map<string, readonly [string, number]>();
      records.forEach((record, i) => {
        const key = `${record.topic}\u0000${partitions[i]!}`;
        if (!this.partitionsInTxn.has(key)) added.set(key, [record.topic, partitions[i]!]);
      });
      const sentAt = Date.now();
      if (added.size > 0) {
        await firstValueFrom(this.client.addPartitionsToTxn$(this.config.transactionalId, this.identity, [...added.values()]));
        for (const key of added.keys()) this.partitionsInTxn.add(key);
      }
      const sequences = records.map((_, i) => {
        const sequence = this.sequences.get(partitions[i]!) ?? 0;
        this.sequences.set(partitions[i]!, sequence + 1);
        return sequence;
      });
      const settled = await Promise.allSettled(
        records.map((record, i) =>
          firstValueFrom(
            this.client.transactionalPublish$(
              this.config.transactionalId,
              record.topic,
              { value: record.value, key: record.key, partition: partitions[i]! },
              this.identity,
              sequences[i]!,
            ),
          ),
        ),
      );
      if (settled.some((s) => s.status === 'fulfilled')) this.lastTouchSentAt = sentAt;
      const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failure !== undefined) {
        this.resyncSequences(partitions, sequences, settled);
        throw failure.reason;
      }
      return settled.map((s, i) => {
        const result = (s as PromiseFulfilledResult<{ partition: number; offset: bigint }>).value;
        return { topic: records[i]!.topic, partition: result.partition, offset: result.offset };
      });
    });
  }

  /** After a partly failed pipeline, continue each partition's sequence after its last accepted record. */
  private resyncSequences(partitions: number[], sequences: number[], settled: PromiseSettledResult<unknown>[]): void {
    const next = new Map<number, number>();
    partitions.forEach((partition, i) => {
      if (!next.has(partition)) next.set(partition, sequences[i]!);
      if (settled[i]!.status === 'fulfilled') next.set(partition, Math.max(next.get(partition)!, sequences[i]! + 1));
    });
    for (const [partition, sequence] of next) this.sequences.set(partition, sequence);
  }

  /** Commit consumed offsets (the next offset to read, per topic-partition) with the transaction. */
  sendOffsets$(groupId: string, offsets: readonly (readonly [topic: string, partition: number, nextOffset: bigint])[]): Observable<void> {
    return this.guard$(async () => {
      if (!this.open) throw new ConfigError('transaction', 'no open transaction');
      await this.abortIfNearTimeout();
      const sentAt = Date.now();
      await firstValueFrom(this.client.addOffsetsToTxn$(this.config.transactionalId, this.identity, groupId, offsets), { defaultValue: undefined });
      this.lastTouchSentAt = sentAt;
    });
  }

  commit$(): Observable<void> {
    return this.guard$(async () => {
      if (this.open) await this.abortIfNearTimeout();
      await firstValueFrom(this.client.commitTransaction$(this.config.transactionalId, this.identity), { defaultValue: undefined });
      this.open = false;
    });
  }

  abort$(): Observable<void> {
    return this.guard$(async () => {
      await firstValueFrom(this.client.abortTransaction$(this.config.transactionalId, this.identity), { defaultValue: undefined });
      this.open = false;
    });
  }

  /**
   * rivvend marks a transaction Dead when a publish, AddOffsets or commit arrives after its timeout
   * (idle time since its last request) and the reaper has not run yet — and a Dead transaction is
   * never aborted, so its records stay visible to read_committed readers. An abort is still
   * accepted then, so: close to the timeout, abort instead of sending (counted from when our last
   * request was *sent*, which is never later than the broker's clock saw it).
   */
  private async abortIfNearTimeout(): Promise<void> {
    const idle = Date.now() - this.lastTouchSentAt;
    const limit = this.config.transactionTimeoutMs - Math.max(100, this.config.transactionTimeoutMs / 10);
    if (idle <= limit) return;
    await firstValueFrom(this.client.abortTransaction$(this.config.transactionalId, this.identity), { defaultValue: undefined }).catch(() => undefined);
    this.open = false;
    throw new TimeoutError(
      `the transaction was idle ${idle} ms, too close to its ${this.config.transactionTimeoutMs} ms timeout (transactionTimeoutMs) to continue safely; ` +
        'it was aborted — raise transactionTimeoutMs or keep transactions shorter',
    );
  }

  isFenced(): boolean {
    return this.fenced !== undefined;
  }

  async close(): Promise<void> {
    if (this.open && !this.fenced) await lastValueFrom(this.abort$().pipe(ignoreElements(), catchError(() => [])), { defaultValue: undefined });
    await this.client.close();
  }

  private async partitionFor(record: TransactionalRecord): Promise<number> {
    if (record.partition !== undefined) return record.partition;
    let count = this.partitionCounts.get(record.topic);
    if (count === undefined) {
      count = (await firstValueFrom(this.client.getMetadata$(record.topic))).partitions;
      this.partitionCounts.set(record.topic, count);
    }
    const key = record.key === undefined ? undefined : typeof record.key === 'string' ? Buffer.from(record.key) : record.key;
    return key === undefined ? Math.floor(Math.random() * count) : murmur2Partition(key, count);
  }

  /**
   * Our open transaction vanished (`INVALID_TXN_ID`) although it cannot have timed out: only a
   * successor that bumped our epoch aborts it (see create$), so we are fenced. (A broker restart,
   * the other way a transaction vanishes, also drops this producer's connection, which never
   * reconnects, so it shows as a ConnectionError instead.)
   */
  private abortedByOther(serverCode: string): boolean {
    return serverCode === 'INVALID_TXN_ID' && this.open && Date.now() - this.lastTouchSentAt < this.config.transactionTimeoutMs;
  }

  /** Run an operation unless fenced; turn fencing replies into ProducerFencedError and remember it. */
  private guard$<T>(operation: () => Promise<T>): Observable<T> {
    return defer(async () => {
      if (this.fenced) throw this.fenced;
      try {
        return await operation();
      } catch (error) {
        if (error instanceof ServerError && error.serverCode !== undefined && (FENCING_CODES.has(error.serverCode) || this.abortedByOther(error.serverCode))) {
          this.fenced = new ProducerFencedError(error.serverMessage, { cause: error });
          this.open = false;
          throw this.fenced;
        }
        throw error;
      }
    });
  }
}
