/**
 * The transactional() operator against the real broker: consume-transform-produce with zero, one
 * or many outputs per input; a transform that throws and a transaction the broker refuses (abort,
 * rewind, typed error, retry → still exactly-once); fencing through the operator; asynchronous
 * transforms attributed by `source`. Downstream checks read `out` with read_committed, through the
 * Consumer and raw.
 */
import { type Observable, concatMap, defer, filter, firstValueFrom, mergeMap, retry, tap, type Subscription } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import { ConsumerPresets } from '../../src/consumer/consumer-config';
import type { ConsumerRecord } from '../../src/consumer/consumer-record';
import { TransactionAbortedError, transactional, type CommittedTransaction, type TransactionalItem } from '../../src/operators/transactional';
import { TransactionalProducer } from '../../src/producer/transactional-producer';
import { startBroker, type BrokerProcess } from '../support/broker-process';
import { duplicates, readTopic } from '../support/eos-read';
import { unique } from '../support/names';
import { seedBacklog } from '../support/seed-backlog';

jest.setTimeout(120_000);

let broker: BrokerProcess;
let admin: Client;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  broker = await startBroker();
  admin = await firstValueFrom(Client.connect$(broker.address));
});
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await admin?.close();
  await broker?.stop();
});

const VALUE_SIZE = 12;
const inputValue = (p: number, i: number) => Buffer.from(`${p}:${i}`.padEnd(VALUE_SIZE, '.'));
const inputName = (r: ConsumerRecord) => r.value.toString().replace(/\.+$/, '');

async function seed(partitions: number, perPartition: number): Promise<string> {
  const topic = unique('eos-in');
  await seedBacklog(broker.address, topic, partitions, partitions * perPartition, VALUE_SIZE, { connections: partitions * 4, value: inputValue });
  return topic;
}

async function outputTopic(): Promise<string> {
  const topic = unique('eos-out');
  await firstValueFrom(admin.createTopic$(topic, 1));
  return topic;
}

function consumerFor(input: string, partitions: number, groupId: string, extra: { isolationLevel?: 'read_committed' } = {}): Consumer {
  const consumer = Consumer.create({
    bootstrapServers: [broker.address],
    groupId,
    assign: { [input]: Array.from({ length: partitions }, (_, p) => p) },
    enableAutoCommit: false,
    maxPollRecords: 200,
    ...extra,
  });
  closers.push(() => consumer.close());
  return consumer;
}

async function producer(transactionalId = unique('txn')): Promise<TransactionalProducer> {
  const p = await firstValueFrom(TransactionalProducer.create$({ bootstrapServers: broker.address, transactionalId, transactionTimeoutMs: 10_000 }));
  closers.push(() => p.close());
  return p;
}

/** Run `chain$` until the committed input offsets reach `perPartition` on every partition. */
function runUntilCommitted(chain$: Observable<CommittedTransaction>, partitions: number, perPartition: number): Promise<CommittedTransaction[]> {
  return new Promise((resolve, reject) => {
    const committed: CommittedTransaction[] = [];
    const reached = new Map<number, bigint>();
    let subscription: Subscription | undefined = undefined;
    let done = false;
    subscription = chain$.subscribe({
      next: (txn) => {
        committed.push(txn);
        for (const o of txn.offsets) reached.set(o.partition, o.offset);
        if (reached.size === partitions && [...reached.values()].every((o) => o === BigInt(perPartition))) {
          done = true;
          subscription?.unsubscribe();
          resolve(committed);
        }
      },
      error: reject,
      complete: () => (done ? undefined : reject(new Error('chain completed before all inputs were committed'))),
    });
    if (done) subscription.unsubscribe();
  });
}

/** Zero, one or two outputs per input, depending on its index. */
function outputsOf(out: string, r: ConsumerRecord): TransactionalItem[] {
  const name = inputName(r);
  const index = Number(name.split(':')[1]);
  return Array.from({ length: index % 3 }, (_, k) => ({ topic: out, partition: 0, value: `${name}#${k}` }));
}

function expectedOutputs(partitions: number, perPartition: number): string[] {
  const all: string[] = [];
  for (let p = 0; p < partitions; p++) for (let i = 0; i < perPartition; i++) for (let k = 0; k < i % 3; k++) all.push(`${p}:${i}#${k}`);
  return all.sort();
}

async function expectExactlyOnce(out: string, expected: string[], groupId: string, input: string, partitions: number, perPartition: number): Promise<void> {
  const seen = (await readTopic(admin, out, 1, 'read_committed')).map((r) => r.value);
  expect(duplicates(seen)).toEqual(new Map());
  expect(seen.slice().sort()).toEqual(expected);
  for (let p = 0; p < partitions; p++) expect(await firstValueFrom(admin.getOffset$(groupId, input, p))).toBe(BigInt(perPartition));
}

describe('transactional() operator', () => {
  it('commits every input exactly once with zero, one or many outputs each; a read_committed Consumer downstream sees exactly that', async () => {
    const [partitions, perPartition] = [2, 600];
    const input = await seed(partitions, perPartition);
    const out = await outputTopic();
    const group = unique('eos-group');
    const consumer = consumerFor(input, partitions, group);
    const txnProducer = await producer();
    const expected = expectedOutputs(partitions, perPartition);

    // A downstream reader of `out`, running concurrently, with read_committed.
    const downstream = Consumer.create({ bootstrapServers: [broker.address], groupId: unique('downstream'), assign: { [out]: [0] }, enableAutoCommit: false, ...ConsumerPresets.readCommitted });
    closers.push(() => downstream.close());
    const downstreamSeen: string[] = [];
    const downstreamDone = new Promise<void>((resolve) => {
      const sub = downstream.records$.subscribe((r) => {
        downstreamSeen.push(r.value.toString());
        r.ack();
        if (downstreamSeen.length === expected.length) {
          sub.unsubscribe();
          resolve();
        }
      });
    });

    const txns = await runUntilCommitted(
      consumer.records$.pipe(
        mergeMap((r) => outputsOf(out, r)),
        transactional(txnProducer, { consumer, maxBatchRecords: 100, maxBatchMs: 50 }),
      ),
      partitions,
      perPartition,
    );
    // A batch closes at the first input boundary after 100 outputs (an input has at most 2).
    expect(txns.length).toBeGreaterThan(5);
    expect(Math.max(...txns.map((t) => t.results.length))).toBeLessThanOrEqual(100 + 2);
    expect(txns.flatMap((t) => t.results).length).toBe(expected.length);
    await expectExactlyOnce(out, expected, group, input, partitions, perPartition);
    await downstreamDone;
    expect(downstreamSeen.slice().sort()).toEqual(expected);
  });

  it('a transform that throws: the error arrives typed, the consumer is rewound, and with retry() the result is still exactly-once', async () => {
    const [partitions, perPartition] = [2, 300];
    const input = await seed(partitions, perPartition);
    const out = await outputTopic();
    const group = unique('eos-group');
    const consumer = consumerFor(input, partitions, group);
    const txnProducer = await producer();
    const failure = new Error('transform failed on 1:150');
    let thrown = false;
    const errors: unknown[] = [];
    const chain$ = defer(() =>
      consumer.records$.pipe(
        mergeMap((r) => {
          if (inputName(r) === '1:150' && !thrown) {
            thrown = true;
            throw failure;
          }
          return outputsOf(out, r);
        }),
        transactional(txnProducer, { consumer, maxBatchRecords: 50, maxBatchMs: 50 }),
      ),
    ).pipe(
      tap({ error: (e: unknown) => errors.push(e) }),
      retry(2),
    );
    await runUntilCommitted(chain$, partitions, perPartition);
    expect(errors).toHaveLength(1);
    const error = errors[0] as TransactionAbortedError;
    expect(error).toBeInstanceOf(TransactionAbortedError);
    expect(error.cause).toBe(failure);
    expect(error.rewound).toBe(true);
    expect(error.retriable).toBe(true);
    await expectExactlyOnce(out, expectedOutputs(partitions, perPartition), group, input, partitions, perPartition);
  });

  it('a transaction with a record the topic cannot take is refused before anything is written, and retry() recovers exactly-once', async () => {
    const [partitions, perPartition] = [1, 400];
    const input = await seed(partitions, perPartition);
    const out = await outputTopic();
    const group = unique('eos-group');
    const consumer = consumerFor(input, partitions, group);
    const txnProducer = await producer();
    let poisoned = false;
    const errors: unknown[] = [];
    const chain$ = defer(() =>
      consumer.records$.pipe(
        mergeMap((r) => {
          const outputs = outputsOf(out, r);
          // Once: an output for a partition `out` does not have: the commit refuses it before writing.
          if (inputName(r) === '0:200' && !poisoned) {
            poisoned = true;
            return [...outputs, { topic: out, partition: 7, value: 'poison' }];
          }
          return outputs;
        }),
        transactional(txnProducer, { consumer, maxBatchRecords: 400, maxBatchMs: 2_000 }),
      ),
    ).pipe(
      tap({ error: (e: unknown) => errors.push(e) }),
      retry(2),
    );
    await runUntilCommitted(chain$, partitions, perPartition);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(TransactionAbortedError);
    expect(String((errors[0] as Error).message)).toMatch(/partition/i);
    const expected = expectedOutputs(partitions, perPartition);
    await expectExactlyOnce(out, expected, group, input, partitions, perPartition);
    // Records stay in the client until commit: the refused transaction wrote nothing at all.
    const uncommitted = (await readTopic(admin, out, 1, 'read_uncommitted')).map((r) => r.value);
    expect(duplicates(uncommitted).size).toBe(0);
  });

  it("asynchronous transforms with offsetsFrom: 'source': arrays stay whole, inputs without output still commit", async () => {
    const [partitions, perPartition] = [2, 200];
    const input = await seed(partitions, perPartition);
    const out = await outputTopic();
    const group = unique('eos-group');
    const consumer = consumerFor(input, partitions, group);
    const txnProducer = await producer();
    await runUntilCommitted(
      consumer.records$.pipe(
        concatMap(async (r): Promise<TransactionalItem[]> => {
          await new Promise((resolve) => setImmediate(resolve));
          const outputs = outputsOf(out, r).map((o) => ({ ...o, source: r }));
          return outputs.length > 0 ? outputs : [{ source: r }];
        }),
        transactional(txnProducer, { consumer, maxBatchRecords: 40, maxBatchMs: 20, offsetsFrom: 'source' }),
        filter((txn) => txn.offsets.length > 0),
      ),
      partitions,
      perPartition,
    );
    await expectExactlyOnce(out, expectedOutputs(partitions, perPartition), group, input, partitions, perPartition);
  });
});
