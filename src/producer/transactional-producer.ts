/**
 * Transactions: `BeginTransaction`, `AddPartitionsToTxn` (each partition once), `TransactionalPublish`,
 * `AddOffsetsToTxn`, `CommitTransaction` / `AbortTransaction`, with the epoch from `InitProducerId`.
 * `transaction$(work)` runs `work` inside a transaction: commit when it completes, abort (and
 * re-throw, typed) when it fails. A fenced producer (a newer epoch exists) refuses everything after.
 */
import { Observable, defer, firstValueFrom, ignoreElements, lastValueFrom, toArray, catchError } from 'rxjs';
import { Client, type ClientOptions } from '../client/client.js';
import type { Bytes, ProducerIdentity } from '../client/client-types.js';
import { ConfigError, ProducerFencedError, ServerError } from '../errors.js';
import { murmur2Partition } from '../protocol/murmur2.js';

export interface TransactionalProducerConfig {
  bootstrapServer: string;
  /** Names this producer's transactions (broker logs, diagnostics). */
  transactionalId: string;
  /** The broker aborts a transaction open longer than this. Default 60,000 ms. */
  transactionTimeoutMs?: number;
  /** Resume (and fence) an earlier producer id: its epoch is bumped, older instances are fenced. */
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

export class TransactionalProducer {
  private fenced: ProducerFencedError | undefined;
  private open = false;
  private readonly partitionsInTxn = new Set<string>();
  private readonly sequences = new Map<string, number>();
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
        return new TransactionalProducer(client, identity, { transactionalId: config.transactionalId, transactionTimeoutMs: timeout });
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
      let results: T[];
      try {
        results = await lastValueFrom(work(this).pipe(toArray()));
      } catch (error) {
        if (this.open) await lastValueFrom(this.abort$(), { defaultValue: undefined }).catch(() => undefined);
        throw error;
      }
      await lastValueFrom(this.commit$(), { defaultValue: undefined });
      return results;
    });
  }

  begin$(): Observable<void> {
    return this.guard$(async () => {
      if (this.open) throw new ConfigError('transaction', 'a transaction is already open; commit or abort it first');
      await firstValueFrom(this.client.beginTransaction$(this.config.transactionalId, this.identity, this.config.transactionTimeoutMs), {
        defaultValue: undefined,
      });
      this.open = true;
      this.partitionsInTxn.clear();
    });
  }

  /** Publish one record inside the open transaction. */
  send$(record: TransactionalRecord): Observable<TransactionalResult> {
    return this.guard$(async () => {
      if (!this.open) throw new ConfigError('transaction', 'no open transaction: call begin$() or use transaction$()');
      const partition = await this.partitionFor(record);
      const key = `${record.topic}\u0000${partition}`;
      if (!this.partitionsInTxn.has(key)) {
        await firstValueFrom(this.client.addPartitionsToTxn$(this.config.transactionalId, this.identity, [[record.topic, partition]]));
        this.partitionsInTxn.add(key);
      }
      const sequence = this.sequences.get(key) ?? 0;
      const result = await firstValueFrom(
        this.client.transactionalPublish$(this.config.transactionalId, record.topic, { value: record.value, key: record.key, partition }, this.identity, sequence),
      );
      this.sequences.set(key, sequence + 1);
      return { topic: record.topic, partition: result.partition, offset: result.offset };
    });
  }

  /** Commit consumed offsets (the next offset to read, per topic-partition) with the transaction. */
  sendOffsets$(groupId: string, offsets: readonly (readonly [topic: string, partition: number, nextOffset: bigint])[]): Observable<void> {
    return this.guard$(async () => {
      if (!this.open) throw new ConfigError('transaction', 'no open transaction');
      await firstValueFrom(this.client.addOffsetsToTxn$(this.config.transactionalId, this.identity, groupId, offsets), { defaultValue: undefined });
    });
  }

  commit$(): Observable<void> {
    return this.guard$(async () => {
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

  /** Run an operation unless fenced; turn fencing replies into ProducerFencedError and remember it. */
  private guard$<T>(operation: () => Promise<T>): Observable<T> {
    return defer(async () => {
      if (this.fenced) throw this.fenced;
      try {
        return await operation();
      } catch (error) {
        if (error instanceof ServerError && error.serverCode !== undefined && FENCING_CODES.has(error.serverCode)) {
          this.fenced = new ProducerFencedError(error.serverMessage, { cause: error });
          this.open = false;
          throw this.fenced;
        }
        throw error;
      }
    });
  }
}
