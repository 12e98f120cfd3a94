/**
 * The idempotent and transactional primitives: producer ids, sequenced publishes, and a
 * transaction's begin, partitions, offsets, commit and abort.
 */
import type { Observable } from 'rxjs';
import { ArgumentCheck } from './operation-input.js';
import { checkProducer, sequencedRecord, checkBatch, checkTransaction } from './operation-checks.js';
import type { Bytes, IdempotentBatchMetadata, IdempotentRecordMetadata, ProducerIdentity, PublishRecord, TransactionalRecordMetadata } from './client-types.js';
import { AdminOperations } from './admin-operations.js';

/** Producer ids, idempotent publishes and transactions. */
export abstract class TransactionOperations extends AdminOperations {
  // ---- idempotent and transactional primitives ------------------------------------------------

  /** A producer id and epoch; pass a previous id to bump its epoch (fencing older instances). */
  initProducerId$(previousProducerId?: bigint): Observable<ProducerIdentity> {
    return this.call$(
      () => {
        new ArgumentCheck('initProducerId$').optionalU64('previousProducerId', previousProducerId, 'a producer id (a bigint)');
        return { type: 'InitProducerId', producerId: previousProducerId };
      },
      'ProducerIdInitialized',
      (r) => ({ producerId: r.producerId, producerEpoch: r.producerEpoch }),
    );
  }

  idempotentPublish$(topic: string, record: PublishRecord, producer: ProducerIdentity, sequence: number): Observable<IdempotentRecordMetadata> {
    return this.call$(
      () => {
        const check = new ArgumentCheck('idempotentPublish$');
        check.name('topic', topic);
        return { type: 'IdempotentPublish', topic, ...sequencedRecord(check, record, producer, sequence) };
      },
      'IdempotentPublished',
      (r) => ({ topic, partition: r.partition, offset: r.offset, duplicate: r.duplicate }),
    );
  }

  idempotentPublishBatch$(
    topic: string,
    records: readonly { key?: Bytes; value: Bytes }[],
    producer: ProducerIdentity,
    baseSequence: number,
    options: { partition?: number; leaderEpoch?: bigint } = {},
  ): Observable<IdempotentBatchMetadata> {
    return this.call$(
      () => {
        const check = checkBatch('idempotentPublishBatch$', topic, records, options);
        const p = checkProducer(check, producer);
        check.sequence('baseSequence', baseSequence);
        return {
          type: 'IdempotentPublishBatch',
          topic,
          partition: options.partition,
          records,
          producerId: p.producerId,
          producerEpoch: p.producerEpoch,
          baseSequence,
          leaderEpoch: options.leaderEpoch,
        };
      },
      'IdempotentPublishedBatch',
      (r) => ({ topic, partition: r.partition, baseOffset: r.baseOffset, recordCount: r.recordCount, duplicate: r.duplicate }),
    );
  }

  beginTransaction$(txnId: string, producer: ProducerIdentity, timeoutMs?: number): Observable<void> {
    return this.call$(
      () => {
        const { check, producerId, producerEpoch } = checkTransaction('beginTransaction$', txnId, producer);
        check.optionalDurationMs('timeoutMs', timeoutMs);
        return { type: 'BeginTransaction', txnId, producerId, producerEpoch, timeoutMs: timeoutMs === undefined ? undefined : BigInt(timeoutMs) };
      },
      'TransactionStarted',
      () => undefined,
    );
  }

  /** Add partitions to the open transaction; emits how many partitions it now spans. */
  addPartitionsToTxn$(txnId: string, producer: ProducerIdentity, partitions: readonly (readonly [topic: string, partition: number])[]): Observable<number> {
    return this.call$(
      () => {
        const { check, producerId, producerEpoch } = checkTransaction('addPartitionsToTxn$', txnId, producer);
        check.array('partitions', partitions).forEach((tp, i) => {
          if (!Array.isArray(tp) || tp.length !== 2) check.fail(`partitions[${i}]`, 'a [topic, partition] pair', tp);
          check.name(`partitions[${i}][0]`, tp[0]);
          check.partition(`partitions[${i}][1]`, tp[1]);
        });
        return { type: 'AddPartitionsToTxn', txnId, producerId, producerEpoch, partitions };
      },
      'PartitionsAddedToTxn',
      (r) => r.partitionCount,
    );
  }

  transactionalPublish$(
    txnId: string,
    topic: string,
    record: PublishRecord,
    producer: ProducerIdentity,
    sequence: number,
  ): Observable<TransactionalRecordMetadata> {
    return this.call$(
      () => {
        const check = new ArgumentCheck('transactionalPublish$');
        check.name('txnId', txnId);
        check.name('topic', topic);
        return { type: 'TransactionalPublish', txnId, topic, ...sequencedRecord(check, record, producer, sequence) };
      },
      'TransactionalPublished',
      (r) => ({ topic, partition: r.partition, offset: r.offset, sequence: r.sequence }),
    );
  }

  /** Commit consumed offsets (topic, partition, next offset) as part of the transaction. */
  addOffsetsToTxn$(
    txnId: string,
    producer: ProducerIdentity,
    groupId: string,
    offsets: readonly (readonly [topic: string, partition: number, offset: bigint])[],
  ): Observable<void> {
    return this.call$(
      () => {
        const { check, producerId, producerEpoch } = checkTransaction('addOffsetsToTxn$', txnId, producer);
        check.name('groupId', groupId);
        check.array('offsets', offsets).forEach((entry, i) => {
          if (!Array.isArray(entry) || entry.length !== 3) check.fail(`offsets[${i}]`, 'a [topic, partition, offset] triple', entry);
          check.name(`offsets[${i}][0]`, entry[0]);
          check.partition(`offsets[${i}][1]`, entry[1]);
          check.i64(`offsets[${i}][2]`, entry[2], 'an offset (a bigint)');
        });
        return { type: 'AddOffsetsToTxn', txnId, producerId, producerEpoch, groupId, offsets };
      },
      'OffsetsAddedToTxn',
      () => undefined,
    );
  }

  commitTransaction$(txnId: string, producer: ProducerIdentity): Observable<void> {
    return this.endTransaction('commitTransaction$', 'CommitTransaction', 'TransactionCommitted', txnId, producer);
  }

  abortTransaction$(txnId: string, producer: ProducerIdentity): Observable<void> {
    return this.endTransaction('abortTransaction$', 'AbortTransaction', 'TransactionAborted', txnId, producer);
  }

  /** Commit or abort: one request shape, two names (the `$` is left off: it is no operation of its own). */
  private endTransaction(
    operation: string,
    type: 'CommitTransaction' | 'AbortTransaction',
    expected: 'TransactionCommitted' | 'TransactionAborted',
    txnId: string,
    producer: ProducerIdentity,
  ): Observable<void> {
    return this.call$(
      () => {
        const { producerId, producerEpoch } = checkTransaction(operation, txnId, producer);
        return { type, txnId, producerId, producerEpoch };
      },
      expected,
      () => undefined,
    );
  }

}
