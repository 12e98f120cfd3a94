/**
 * Read-back consistency (issue 20 §3, DESIGN §5): producers of every kind write interleaved records
 * to several topics that share partition numbers, with aborted transactions among them; everything
 * is read back read_uncommitted and read_committed and checked against what the client said
 * (spec/support/consistency.ts). Every hard counter must be 0: an acknowledgement names the
 * position that holds exactly that record, a committed transaction is what read_committed readers
 * see, and nothing else is.
 *
 * Each test prints its report table (counters, per-writer figures, first examples).
 */
import { concat, firstValueFrom, lastValueFrom, tap, throwError } from 'rxjs';
import { Client } from '../../src/client/client';
import { Producer } from '../../src/producer/producer';
import type { ProducerConfig } from '../../src/producer/producer-config';
import { TransactionalProducer, type TransactionalResult } from '../../src/producer/transactional-producer';
import type { TransactionalRecord } from '../../src/producer/transaction-state';
import { startBroker, type BrokerProcess } from '../support/broker-process';
import { Ledger, type WrittenRecord } from '../support/ledger';
import { checkConsistency, formatReport, nonZeroHardCounters, type ConsistencyReport } from '../support/consistency';
import { clientLogReader, readLog } from '../support/log-reader';
import { unique } from '../support/names';

/**
 * A broker of its own: rivvend allows 5 open transactions on the whole broker, and a suite that
 * left one open (a "crashed" predecessor) would hold a slot until the broker's reaper runs.
 */
let broker: BrokerProcess;
let admin: Client;
/** Producers to close after each test, whatever happened in it. */
const opened: { close(): Promise<void> }[] = [];
/** Errors the producers reported while a test wrote (a write that fails is no lie, but no test either). */
const writeErrors: string[] = [];

beforeAll(async () => {
  broker = await startBroker();
  admin = await firstValueFrom(Client.connect$({ bootstrapServers: [broker.address] }));
});
afterEach(async () => {
  writeErrors.length = 0;
  await Promise.all(opened.splice(0).map((p) => p.close()));
});
afterAll(async () => {
  await admin?.close();
  await broker?.stop();
});

async function createTopics(prefix: string, count: number, partitions: number): Promise<string[]> {
  const topics = Array.from({ length: count }, (_, i) => unique(`consistency-${prefix}${i}`));
  for (const topic of topics) await firstValueFrom(admin.createTopic$(topic, partitions));
  return topics;
}

function producer(config: Omit<ProducerConfig, 'bootstrapServers'>): Producer {
  const created = Producer.create({ bootstrapServers: [broker.address], ...config });
  opened.push(created);
  return created;
}

async function transactionalProducer(name: string): Promise<TransactionalProducer> {
  const created = await firstValueFrom(TransactionalProducer.create$({ bootstrapServers: [broker.address], transactionalId: unique(`consistency-${name}`) }));
  opened.push(created);
  return created;
}

/** One record to write: its ledger entry and, for explicit routing, its partition. */
interface Write {
  entry: WrittenRecord;
  partition?: number;
}

/** Send one record and write down what the producer answered. */
async function send(to: Producer, { entry, partition }: Write): Promise<void> {
  try {
    const result = await firstValueFrom(to.send$({ topic: entry.topic, key: entry.key, value: entry.value, partition }));
    entry.ack = { partition: result.partition, offset: result.offset };
  } catch (error) {
    entry.ack = 'failed';
    writeErrors.push(`${entry.writer} → ${entry.topic}: ${String(error)}`);
  }
}

const ROUTINGS = ['keyed', 'explicit', 'sticky'] as const;

/**
 * `count` records of `writer`, round-robin over `topics` (so consecutive records go to different
 * topics on the same partition numbers), routed in turn by key, by explicit partition, and keyless
 * (sticky); every fourth value is short (under the 64-byte threshold a compressing producer frames
 * without compressing), the others compressible 160-byte values.
 */
function plan(ledger: Ledger, writer: string, topics: readonly string[], count: number, partitions: number): Write[] {
  return Array.from({ length: count }, (_, i) => {
    const topic = topics[i % topics.length]!;
    const routing = ROUTINGS[Math.floor(i / topics.length) % ROUTINGS.length]!;
    const size = i % 4 === 0 ? 40 : 160;
    const entry = ledger.write({ writer, topic, size, key: routing === 'keyed' ? `key-${i % 7}` : undefined });
    return routing === 'explicit' ? { entry, partition: i % partitions } : { entry };
  });
}

// ---- transactional writing: the one place that knows the transactional API ----------------------

/**
 * Run one transaction writing `writes` and end it as `outcome` says, recording in the ledger what
 * the producer reported: acknowledgements come from what `transaction$` returns on commit (for an
 * abort, from whatever `publish$` reported before it, if anything), and the outcome is 'unknown'
 * when the transaction failed on its own. Kept small so an API change touches only this function
 * and `openTransaction`.
 */
async function runTransaction(txn: TransactionalProducer, writes: readonly Write[], outcome: 'commit' | 'abort'): Promise<void> {
  const records = writes.map(toTransactionalRecord);
  const acknowledge = (results: readonly TransactionalResult[]) =>
    // Results come in the order of the records.
    results.forEach((result, i) => (writes[i]!.entry.ack = { partition: result.partition, offset: result.offset }));
  const deliberate = new Error('deliberate abort');
  try {
    if (outcome === 'commit') {
      const results = await firstValueFrom(txn.transaction$((t) => t.publish$(records)));
      // flat(): one array per publish$ (offsets as published) or one for the whole commit
      // (offsets only at commit) — either API shape.
      acknowledge(results.flat());
    } else {
      await lastValueFrom(txn.transaction$((t) => concat(t.publish$(records).pipe(tap(acknowledge)), throwError(() => deliberate))));
    }
    setOutcome(writes, 'committed');
  } catch (error) {
    if (error === deliberate) {
      setOutcome(writes, 'aborted');
    } else {
      setOutcome(writes, 'unknown');
      writeErrors.push(`transaction ${writes[0]?.entry.transaction?.id} (${outcome}): ${String(error)}`);
    }
  }
}

/** Begin a transaction and write `writes` without ending it; the caller aborts it later. */
async function openTransaction(txn: TransactionalProducer, writes: readonly Write[]): Promise<{ abort(): Promise<void> }> {
  await lastValueFrom(txn.begin$(), { defaultValue: undefined });
  const results = await lastValueFrom(txn.publish$(writes.map(toTransactionalRecord)), { defaultValue: [] as TransactionalResult[] });
  results.forEach((result, i) => (writes[i]!.entry.ack = { partition: result.partition, offset: result.offset }));
  setOutcome(writes, 'open');
  return {
    abort: async () => {
      await lastValueFrom(txn.abort$(), { defaultValue: undefined });
      setOutcome(writes, 'aborted');
    },
  };
}

function toTransactionalRecord({ entry, partition }: Write): TransactionalRecord {
  return { topic: entry.topic, key: entry.key, value: entry.value, partition };
}

function setOutcome(writes: readonly Write[], outcome: 'committed' | 'aborted' | 'open' | 'unknown'): void {
  for (const { entry } of writes) entry.transaction!.outcome = outcome;
}

/**
 * `transactions` transactions of `perTopic` records per topic, interleaved over `topics`; each
 * transaction's records for a topic go to one partition (explicit, or by one key per transaction
 * when `keyed`); every third transaction (the 3rd, 6th, …) is aborted.
 */
async function transactions(
  txn: TransactionalProducer,
  ledger: Ledger,
  writer: string,
  topics: readonly string[],
  options: { transactions: number; perTopic: number; partitions: number; keyed?: boolean },
): Promise<void> {
  for (let t = 0; t < options.transactions; t++) {
    const transactionId = `${writer}/${t}`;
    const writes: Write[] = [];
    for (let n = 0; n < options.perTopic; n++) {
      topics.forEach((topic, topicIndex) => {
        const key = options.keyed ? `txn-${t}` : undefined;
        const entry = ledger.write({ writer, topic, key, size: 60, transactionId });
        writes.push(options.keyed ? { entry } : { entry, partition: (t + topicIndex) % options.partitions });
      });
    }
    await runTransaction(txn, writes, (t + 1) % 3 === 0 ? 'abort' : 'commit');
  }
}

// ---- reading back ------------------------------------------------------------------------------

async function check(ledger: Ledger, title: string): Promise<ConsistencyReport> {
  const logs = await readLog(clientLogReader(admin), ledger.topics());
  const report = checkConsistency(ledger.records, logs);
  console.log(formatReport(report, title));
  return report;
}

/**
 * Every committed record got its acknowledgement (the commit reports where its records are), so
 * the checker could hold each one to its position.
 */
function expectCommittedAcknowledged(ledger: Ledger): void {
  const without = ledger.records.filter((r) => r.transaction?.outcome === 'committed' && typeof r.ack !== 'object');
  expect(without.map((r) => `${r.writer} → ${r.topic}`).slice(0, 5)).toEqual([]);
}

/** Writing went through: nothing the producers reported as failed, no transaction of unknown end. */
function expectWritesSettled(report: ConsistencyReport): void {
  expect([...new Set(writeErrors)].slice(0, 5)).toEqual([]);
  expect({ failed: report.figures.failed, unknownTransactions: report.figures.transactions.unknown }).toEqual({ failed: 0, unknownTransactions: 0 });
}

describe('consistency: what the client reports is what the log holds', () => {
  it('every producer kind at once, interleaved over 3 topics × 3 partitions, aborted transactions among them', async () => {
    const partitions = 3;
    const topics = await createTopics('mixed', 3, partitions);
    const ledger = new Ledger();
    const perProducer = 60;
    const sends: Promise<void>[] = [];
    // Plain and idempotent, each uncompressed and with every codec: 8 producers writing at once.
    for (const enableIdempotence of [false, true]) {
      for (const compressionType of ['none', 'lz4', 'zstd', 'snappy'] as const) {
        const writer = `${enableIdempotence ? 'idempotent' : 'plain'}-${compressionType}`;
        const to = producer({ enableIdempotence, compressionType, lingerMs: 2 });
        for (const write of plan(ledger, writer, topics, perProducer, partitions)) sends.push(send(to, write));
      }
    }
    // Two transactional producers alongside (one routing by partition, one by key).
    const [txnA, txnB] = await Promise.all([transactionalProducer('txn-a'), transactionalProducer('txn-b')]);
    const transactional = Promise.all([
      transactions(txnA, ledger, 'txn-explicit', topics, { transactions: 6, perTopic: 2, partitions }),
      transactions(txnB, ledger, 'txn-keyed', topics, { transactions: 6, perTopic: 2, partitions, keyed: true }),
    ]);
    await Promise.all([...sends, transactional]);

    const report = await check(ledger, 'every producer kind');
    expectWritesSettled(report);
    expectCommittedAcknowledged(ledger);
    expect(nonZeroHardCounters(report)).toEqual({});
    // The compressing producers' values really were stored framed and decoded by the reader.
    for (const codec of ['lz4', 'zstd', 'snappy']) {
      expect(report.writers[`plain-${codec}`]!.storedFramed).toBeGreaterThan(0);
      expect(report.writers[`idempotent-${codec}`]!.storedFramed).toBeGreaterThan(0);
    }
    expect(report.writers['plain-none']!.storedFramed).toBe(0);
  });

  it('plain producers sharing a partition: concurrent batches, each acknowledgement names its own record', async () => {
    // rivvend appends a batch record by record, each after its own WAL write (handler/produce.rs),
    // so another connection's records can land between them, and its reply carries only the base
    // offset: an acknowledgement cannot be base + index unless the batch was written alone.
    const [topic] = await createTopics('shared', 1, 1);
    const ledger = new Ledger();
    const writes = ['plain-1', 'plain-2'].flatMap((writer) => {
      const to = producer({ lingerMs: 5 });
      return Array.from({ length: 100 }, () => send(to, { entry: ledger.write({ writer, topic: topic! }), partition: 0 }));
    });
    await Promise.all(writes);

    const report = await check(ledger, 'plain producers sharing a partition');
    expectWritesSettled(report);
    expect(nonZeroHardCounters(report)).toEqual({});
    expect(report.figures.readUncommitted).toBe(200);
  });

  it('an idempotent producer alternating two one-partition topics, each send awaited, stores all 100 records, each where its acknowledgement says', async () => {
    const [a, b] = await createTopics('idem', 2, 1);
    const ledger = new Ledger();
    const to = producer({ enableIdempotence: true });
    for (let i = 0; i < 50; i++) {
      for (const topic of [a!, b!]) await send(to, { entry: ledger.write({ writer: 'idempotent', topic }) });
    }

    const report = await check(ledger, 'idempotent producer alternating two topics');
    expectWritesSettled(report);
    expect(nonZeroHardCounters(report)).toEqual({});
    expect(report.writers['idempotent']).toMatchObject({ written: 100, acknowledged: 100, stored: 100 });
  });

  it('30 transactions of 12 records over 3 topics × 3 partitions, every third aborted: read_committed sees every committed record and no aborted one', async () => {
    const partitions = 3;
    const topics = await createTopics('txn', 3, partitions);
    const ledger = new Ledger();
    const txn = await transactionalProducer('txn');
    await transactions(txn, ledger, 'transactional', topics, { transactions: 30, perTopic: 4, partitions });

    const report = await check(ledger, 'committed and aborted transactions over 3 topics');
    expectWritesSettled(report);
    expectCommittedAcknowledged(ledger);
    expect(report.figures.transactions).toMatchObject({ committed: 20, aborted: 10 });
    expect(nonZeroHardCounters(report)).toEqual({});
    expect(report.writers['transactional']!.visibleCommitted).toBe(20 * 12);
  });

  it('records of an open transaction are not visible to read_committed readers, nor after its abort', async () => {
    const partitions = 3;
    const topics = await createTopics('open', 3, partitions);
    const ledger = new Ledger();
    // A plain producer writes the same topics before and after, so the transaction's records sit
    // between committed ones.
    const plain = producer({});
    const around = () => Promise.all(plan(ledger, 'plain', topics, 9, partitions).map((write) => send(plain, write)));
    await around();
    const txn = await transactionalProducer('open');
    const writes = topics.flatMap((topic, i) =>
      [0, 1].map(() => ({ entry: ledger.write({ writer: 'open-txn', topic, size: 60, transactionId: 'open' }), partition: i % partitions })),
    );
    const open = await openTransaction(txn, writes);
    await around();

    const whileOpen = await check(ledger, 'a transaction open between committed records');
    await open.abort();
    const afterAbort = await check(ledger, 'the same transaction aborted');
    expectWritesSettled(afterAbort);
    expect(nonZeroHardCounters(whileOpen)).toEqual({});
    expect(nonZeroHardCounters(afterAbort)).toEqual({});
  });
});
