/**
 * The idempotent and transactional primitives over a `BrokerExchange`: producer ids, sequenced
 * publishes, and a transaction's begin, partitions, offsets, commit and abort — with the checks of
 * a producer identity and a transaction. `BrokerOperations` puts them on the clients; the
 * user-facing documentation is there.
 */
import type { Observable } from 'rxjs';
import { ArgumentCheck } from './argument-checks.js';
import { type BrokerExchange, call$ } from './broker-exchange.js';
import type { Bytes, IdempotentBatchMetadata, IdempotentRecordMetadata, ProducerIdentity, PublishRecord, TransactionalRecordMetadata } from './client-types.js';
import { type BatchOptions, checkBatch, checkRecord } from './data-operations.js';

export function initProducerId$(exchange: BrokerExchange, previousProducerId: bigint | undefined): Observable<ProducerIdentity> {
  return call$(
    exchange,
    () => {
      new ArgumentCheck('initProducerId$').optionalU64('previousProducerId', previousProducerId, 'a producer id (a bigint)');
      return { type: 'InitProducerId', producerId: previousProducerId };
    },
    'ProducerIdInitialized',
    (r) => ({ producerId: r.producerId, producerEpoch: r.producerEpoch }),
  );
}

export function idempotentPublish$(exchange: BrokerExchange, topic: string, record: PublishRecord, producer: ProducerIdentity, sequence: number): Observable<IdempotentRecordMetadata> {
  return call$(
    exchange,
    () => {
      const check = new ArgumentCheck('idempotentPublish$');
      check.name('topic', topic);
      return { type: 'IdempotentPublish', topic, ...sequencedRecord(check, record, producer, sequence) };
    },
    'IdempotentPublished',
    (r) => ({ topic, partition: r.partition, offset: r.offset, duplicate: r.duplicate }),
  );
}

export function idempotentPublishBatch$(
  exchange: BrokerExchange,
  topic: string,
  records: readonly { key?: Bytes; value: Bytes }[],
  producer: ProducerIdentity,
  baseSequence: number,
  options: BatchOptions,
): Observable<IdempotentBatchMetadata> {
  return call$(
    exchange,
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

export function beginTransaction$(exchange: BrokerExchange, txnId: string, producer: ProducerIdentity, timeoutMs: number | undefined): Observable<void> {
  return call$(
    exchange,
    () => {
      const { check, producerId, producerEpoch } = checkTransaction('beginTransaction$', txnId, producer);
      check.optionalDurationMs('timeoutMs', timeoutMs);
      return { type: 'BeginTransaction', txnId, producerId, producerEpoch, timeoutMs: timeoutMs === undefined ? undefined : BigInt(timeoutMs) };
    },
    'TransactionStarted',
    () => undefined,
  );
}

export function addPartitionsToTxn$(
  exchange: BrokerExchange,
  txnId: string,
  producer: ProducerIdentity,
  partitions: readonly (readonly [topic: string, partition: number])[],
): Observable<number> {
  return call$(
    exchange,
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

export function transactionalPublish$(
  exchange: BrokerExchange,
  txnId: string,
  topic: string,
  record: PublishRecord,
  producer: ProducerIdentity,
  sequence: number,
): Observable<TransactionalRecordMetadata> {
  return call$(
    exchange,
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

export function addOffsetsToTxn$(
  exchange: BrokerExchange,
  txnId: string,
  producer: ProducerIdentity,
  groupId: string,
  offsets: readonly (readonly [topic: string, partition: number, offset: bigint])[],
): Observable<void> {
  return call$(
    exchange,
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

export function commitTransaction$(exchange: BrokerExchange, txnId: string, producer: ProducerIdentity): Observable<void> {
  return endTransaction$(exchange, 'commitTransaction$', 'CommitTransaction', 'TransactionCommitted', txnId, producer);
}

export function abortTransaction$(exchange: BrokerExchange, txnId: string, producer: ProducerIdentity): Observable<void> {
  return endTransaction$(exchange, 'abortTransaction$', 'AbortTransaction', 'TransactionAborted', txnId, producer);
}

/** Commit or abort: one request shape, two names. */
function endTransaction$(
  exchange: BrokerExchange,
  operation: string,
  type: 'CommitTransaction' | 'AbortTransaction',
  expected: 'TransactionCommitted' | 'TransactionAborted',
  txnId: string,
  producer: ProducerIdentity,
): Observable<void> {
  return call$(
    exchange,
    () => {
      const { producerId, producerEpoch } = checkTransaction(operation, txnId, producer);
      return { type, txnId, producerId, producerEpoch };
    },
    expected,
    () => undefined,
  );
}

// ---- the checks of what these operations take -------------------------------------------------

function checkProducer(check: ArgumentCheck, producer: ProducerIdentity): ProducerIdentity {
  check.object('producer', producer);
  return {
    producerId: check.u64('producer.producerId', producer.producerId, 'a producer id (a bigint from initProducerId$)'),
    producerEpoch: check.u16('producer.producerEpoch', producer.producerEpoch),
  };
}

/** The fields one sequenced record (idempotent or transactional) carries, checked. */
function sequencedRecord(check: ArgumentCheck, record: PublishRecord, producer: ProducerIdentity, sequence: number) {
  checkRecord(check, record);
  const p = checkProducer(check, producer);
  check.sequence('sequence', sequence);
  return {
    partition: record.partition,
    key: record.key,
    value: record.value,
    producerId: p.producerId,
    producerEpoch: p.producerEpoch,
    sequence,
    leaderEpoch: record.leaderEpoch,
  };
}

/** What every transaction request starts with: its id and the producer; the check goes on with the rest. */
function checkTransaction(operation: string, txnId: string, producer: ProducerIdentity): { check: ArgumentCheck } & ProducerIdentity {
  const check = new ArgumentCheck(operation);
  check.name('txnId', txnId);
  return { check, ...checkProducer(check, producer) };
}
