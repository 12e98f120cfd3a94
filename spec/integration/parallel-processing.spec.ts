/**
 * processConcurrently() against the real broker: a poison record retried, dead-lettered with its
 * metadata (read back from the dead-letter topic) and acknowledged, its partition's commits held
 * while the dead-letter produce fails; a rebalance while records run (the revoke drains, nothing
 * is handed to two owners); the deferred window as the consumer's credit (a slow key holds its
 * partition's commits and fetches, the rest goes on); pause/resume of partition lists in health$.
 * The SIGKILL test is parallel-crash.spec.ts.
 */
import { filter, firstValueFrom, lastValueFrom, mergeMap, take, throwError, timer, type Subscription } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import type { ConsumerRecord } from '../../src/consumer/consumer-record';
import { decodeDeadLetter } from '../../src/operators/dead-letter';
import { processConcurrently } from '../../src/operators/process-concurrently';
import type { ProcessingEvent } from '../../src/operators/processing-options';
import { Producer } from '../../src/producer/producer';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

jest.setTimeout(60_000);

let client: Client;
beforeAll(async () => {
  client = await firstValueFrom(Client.connect$({ bootstrapServers: [testBroker().address], clientId: 'parallel-spec' }));
});
afterAll(async () => {
  await client?.close();
});

async function until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function publish(topic: string, partition: number, records: { key?: string; value: string }[]): Promise<void> {
  for (let i = 0; i < records.length; i += 200) await firstValueFrom(client.publishBatch$(topic, records.slice(i, i + 200), { partition }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('retries a poison record, dead-letters it with its metadata, acknowledges it; commits wait while the dead-letter produce fails', async () => {
  const topic = unique('par-poison');
  const dlq = `${topic}-dlq`;
  await firstValueFrom(client.createTopic$(topic, 1));
  await firstValueFrom(client.createTopic$(dlq, 1));
  await publish(
    topic,
    0,
    Array.from({ length: 20 }, (_, i) => ({ key: `order-${i % 5}`, value: i === 7 ? 'poison' : JSON.stringify({ total: i }) })),
  );
  const groupId = unique('g');
  const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId, topics: [topic], autoCommitIntervalMs: 100 });
  const producer = Producer.create({ bootstrapServers: [testBroker().address] });
  // The dead-letter topic is "away" for the first two sends.
  let away = 2;
  const deadLetterProducer = {
    send$: ((record) => {
      if (away-- > 0) return timer(30).pipe(mergeMap(() => throwError(() => new Error('dead-letter broker away'))));
      return producer.send$(record);
    }) as Producer['send$'],
  };
  const events: ProcessingEvent<ConsumerRecord>[] = [];
  const committedWhileFailing: (bigint | undefined)[] = [];
  const processed: bigint[] = [];
  const subscription = consumer.records$
    .pipe(
      processConcurrently(
        async (record: ConsumerRecord) => {
          const order = JSON.parse(record.value.toString()) as { total: number };
          await sleep(2);
          processed.push(record.offset);
          return order.total;
        },
        {
          concurrency: 8,
          retry: { maxAttempts: 3, initialDelayMs: 20 },
          deadLetter: { producer: deadLetterProducer, topic: dlq, retry: { initialDelayMs: 200, jitter: 0 } },
          onEvent: (event) => {
            events.push(event);
            if (event.type === 'deadLetterFailed') {
              void firstValueFrom(client.getOffset$(groupId, topic, 0)).then((o) => committedWhileFailing.push(o));
            }
          },
        },
      ),
    )
    .subscribe();
  await until(() => events.some((e) => e.type === 'deadLettered'), 20_000, 'the dead letter');
  await until(() => processed.length === 19, 10_000, 'every other record');
  await sleep(300);
  subscription.unsubscribe();
  await consumer.close();
  await producer.close();

  expect(events.map((e) => e.type)).toEqual(['retrying', 'retrying', 'deadLetterFailed', 'deadLetterFailed', 'deadLettered']);
  expect(events.every((e) => e.record.offset === 7n)).toBe(true);
  // While the dead-letter produce failed, the group's commit stayed at or below the poison record.
  expect(committedWhileFailing.length).toBe(2);
  for (const c of committedWhileFailing) expect(c === undefined || c <= 7n).toBe(true);
  // The poison record was acknowledged after it was dead-lettered: everything is committed.
  expect(await firstValueFrom(client.getOffset$(groupId, topic, 0))).toBe(20n);
  expect([...processed].sort((a, b) => Number(a - b))).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i)).filter((o) => o !== 7n));

  // Read the dead-letter topic back.
  const letters = await firstValueFrom(client.consume$(dlq, { partition: 0, offset: 0n, maxMessages: 10 }));
  expect(letters).toHaveLength(1);
  expect(letters[0]!.key?.toString()).toBe('order-2');
  const letter = decodeDeadLetter(letters[0]!.value);
  expect(letter).toMatchObject({ topic, partition: 0, offset: 7n, attempts: 3 });
  expect(letter.key?.toString()).toBe('order-2');
  expect(letter.value.toString()).toBe('poison');
  expect(letter.error.class).toBe('SyntaxError');
  expect(letter.error.message).toMatch(/JSON/);
  expect(letter.timestamp).toBeDefined();
  expect(letter.deadLetteredAt.getTime()).toBeGreaterThanOrEqual(letter.firstFailureAt.getTime());
});

it('a rebalance while records run: the revoke drains the running records, commits, and no record goes to two owners', async () => {
  const topic = unique('par-rebalance');
  const PARTITIONS = 4;
  const PER_PARTITION = 150;
  await firstValueFrom(client.createTopic$(topic, PARTITIONS));
  for (let p = 0; p < PARTITIONS; p++) {
    await publish(topic, p, Array.from({ length: PER_PARTITION }, (_, i) => ({ key: `k${i % 10}`, value: `${p}:${i}` })));
  }
  const groupId = unique('g');
  const options = {
    bootstrapServers: [testBroker().address],
    groupId,
    topics: [topic],
    heartbeatIntervalMs: 300,
    sessionTimeoutMs: 3_000,
    maxPollRecords: 40,
    maxDelayRebalanceMs: 10_000,
  };
  const seen = new Map<string, number>();
  const keyOrder: string[] = [];
  const lastByKey = new Map<string, number>();
  let running = 0;
  let runningAtRevoke = -1;
  const run = (name: string, consumer: Consumer): Subscription => {
    consumer.rebalances$.pipe(filter((e) => e.type === 'revoked' && e.reason === 'rebalance')).subscribe(() => {
      if (runningAtRevoke < 0) runningAtRevoke = running;
    });
    return consumer.records$
      .pipe(
        processConcurrently(
          async (record: ConsumerRecord) => {
            running++;
            await sleep(5 + Math.floor(Math.random() * 15));
            running--;
            const id = `${record.partition}:${record.offset}`;
            seen.set(id, (seen.get(id) ?? 0) + 1);
            // Per key within a partition: offsets increase (per owner and across the hand-over).
            const k = `${record.partition}/${record.key!.toString()}`;
            const previous = lastByKey.get(k);
            if (previous !== undefined && Number(record.offset) <= previous) keyOrder.push(`${name} ${k}: ${record.offset} after ${previous}`);
            lastByKey.set(k, Number(record.offset));
          },
          { ordering: 'key', concurrency: 20 },
        ),
      )
      .subscribe();
  };
  const a = Consumer.create({ ...options, clientId: 'a' });
  const subA = run('a', a);
  await until(() => seen.size >= 100, 20_000, 'a few records processed by the first member');
  const b = Consumer.create({ ...options, clientId: 'b' });
  const subB = run('b', b);
  await until(() => seen.size === PARTITIONS * PER_PARTITION, 40_000, `every record (${seen.size} so far)`);
  await sleep(300);
  subA.unsubscribe();
  subB.unsubscribe();
  const [healthA, healthB] = [a.health(), b.health()];
  await Promise.all([a.close(), b.close()]);

  // Records were running when the revoke came.
  expect(runningAtRevoke).toBeGreaterThan(0);
  expect(healthA.rebalanceDrainTimeouts + healthB.rebalanceDrainTimeouts).toBe(0);
  const twice = [...seen.entries()].filter(([, n]) => n > 1).map(([id]) => id);
  expect(twice).toEqual([]);
  expect(keyOrder).toEqual([]);
  for (let p = 0; p < PARTITIONS; p++) expect(await firstValueFrom(client.getOffset$(groupId, topic, p))).toBe(BigInt(PER_PARTITION));
});

it('the deferred window is the consumer credit: a slow key holds its partition at maxPollRecords past the committable offset, the rest goes on', async () => {
  const topic = unique('par-window');
  await firstValueFrom(client.createTopic$(topic, 2));
  // Partition 0: offset 3 is slow (key 'slow'); partition 1: all fast.
  await publish(topic, 0, Array.from({ length: 300 }, (_, i) => ({ key: i === 3 ? 'slow' : `k${i}`, value: `${i}` })));
  await publish(topic, 1, Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: `${i}` })));
  const maxPollRecords = 30;
  const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: unique('g'), assign: { [topic]: [0, 1] }, maxPollRecords, enableAutoCommit: false });
  let releaseSlow!: () => void;
  const slowDone = new Promise<void>((resolve) => (releaseSlow = resolve));
  const processed = [0, 0];
  const received = [0, 0];
  const subscription = consumer.records$
    .pipe(
      filter((r) => {
        received[r.partition]!++;
        return true;
      }),
      processConcurrently(
        async (record: ConsumerRecord) => {
          if (record.partition === 0 && record.offset === 3n) await slowDone;
          processed[record.partition]!++;
        },
        { ordering: 'key', concurrency: 50 },
      ),
    )
    .subscribe();
  await until(() => processed[1] === 300, 20_000, 'partition 1 processed while partition 0 waits');
  await sleep(500);
  // Partition 0 got at most maxPollRecords records, and stopped there: the slow record holds the credit.
  expect(received[0]).toBe(maxPollRecords);
  expect(processed[0]).toBe(maxPollRecords - 1);
  // Its committable offset stays before the slow record.
  expect(consumer.deliveredOffsets().find((o) => o.partition === 0)?.offset).toBe(BigInt(maxPollRecords));
  const committed = await lastValueFrom(consumer.commit$());
  expect(committed.offsets.find((o) => o.partition === 0)?.offset).toBe(3n);
  // Released: the partition resumes by itself.
  releaseSlow();
  await until(() => processed[0] === 300, 20_000, 'partition 0 after the slow record');
  const after = await lastValueFrom(consumer.commit$());
  expect(after.offsets.find((o) => o.partition === 0)?.offset).toBe(300n);
  subscription.unsubscribe();
  await consumer.close();
});

it('pause() and resume() take partition lists, and health$ lists the paused partitions', async () => {
  const topic = unique('par-pause');
  await firstValueFrom(client.createTopic$(topic, 3));
  const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: unique('g'), assign: { [topic]: [0, 1, 2] }, enableAutoCommit: false });
  consumer.pause([
    { topic, partition: 0 },
    { topic, partition: 2 },
  ]);
  const seen: ConsumerRecord[] = [];
  const subscription = consumer.records$.subscribe((r) => {
    seen.push(r);
    r.ack();
  });
  await firstValueFrom(consumer.assignments$.pipe(filter((a) => a.length === 3)));
  for (let p = 0; p < 3; p++) await publish(topic, p, [{ value: `p${p}` }]);
  await until(() => seen.length >= 1, 10_000, 'partition 1');
  await sleep(300);
  expect(seen.map((r) => r.partition)).toEqual([1]);
  const health = await firstValueFrom(consumer.health$.pipe(filter((h) => h.paused.length === 2), take(1)));
  expect(health.paused).toEqual(expect.arrayContaining([{ topic, partition: 0 }, { topic, partition: 2 }]));
  consumer.resume([{ topic, partition: 0 }]);
  consumer.resume(topic, 2); // the single-partition form still works
  await until(() => seen.length === 3, 10_000, 'the resumed partitions');
  expect(consumer.health().paused).toEqual([]);
  expect(() => consumer.pause([{ topic, partition: -1 }])).toThrow(/partitions/);
  subscription.unsubscribe();
  await consumer.close();
});

it('close() while handlers run: the revoke drains them, commits them, and the operator completes', async () => {
  const topic = unique('par-close');
  await firstValueFrom(client.createTopic$(topic, 1));
  await publish(topic, 0, Array.from({ length: 50 }, (_, i) => ({ key: `k${i % 5}`, value: `${i}` })));
  const groupId = unique('g');
  const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId, topics: [topic], maxPollRecords: 20, maxDelayRebalanceMs: 10_000 });
  let started = 0;
  let finished = 0;
  let completed = false;
  consumer.records$
    .pipe(
      processConcurrently(
        async (record: ConsumerRecord) => {
          started++;
          // The first five are quick: the consumer drains a revoke only once something was ever
          // acknowledged (group-revoke.ts: a subscriber that never acknowledges is not waited for).
          await sleep(record.offset < 5n ? 10 : 300);
          finished++;
        },
        { ordering: 'unordered', concurrency: 10 },
      ),
    )
    .subscribe({ complete: () => (completed = true) });
  await until(() => finished >= 5 && started - finished >= 5, 10_000, 'records running after the first acknowledgements');
  const closing = Date.now();
  await consumer.close();
  const closeMs = Date.now() - closing;
  await until(() => completed, 5_000, 'the operator to complete');
  // Everything emitted (the credit: 20 records) was processed and committed before the member left.
  const committed = await firstValueFrom(client.getOffset$(groupId, topic, 0));
  expect(finished).toBe(20);
  expect(committed).toBe(BigInt(finished));
  expect(closeMs).toBeLessThan(10_000);
});
