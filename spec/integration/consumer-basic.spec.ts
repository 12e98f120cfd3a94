/**
 * Consumer against the real rivvend 0.0.22 broker: reading a large multi-partition topic in order,
 * commits (auto, close, commitOffsets operator), seeking, pause/resume, compression, isolation.
 */
import { bufferCount, filter, firstValueFrom, lastValueFrom, map, scan, take, takeWhile, toArray } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import { ConsumerPresets } from '../../src/consumer/consumer-config';
import type { ConsumerRecord } from '../../src/consumer/consumer-record';
import { commitOffsets } from '../../src/operators/at-least-once';
import { compressValue } from '../../src/protocol/compression';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';
import { until } from '../support/wait';

let client: Client;

beforeAll(async () => {
  client = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'consumer-basic-spec' }));
});
afterAll(async () => {
  await client.close();
});

/**
 * `perPartition` records into every partition (values `p<partition>-<i>`). rivvend appends at
 * roughly a record per millisecond per connection, so each partition gets its own connection and
 * requests of at most 2,000 records (well inside the request timeout).
 */
async function produce(topic: string, partitions: number, perPartition: number, start = 0): Promise<void> {
  await Promise.all(
    Array.from({ length: partitions }, async (_, p) => {
      const producer = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'consumer-spec-producer' }));
      try {
        for (let i = 0; i < perPartition; i += 2_000) {
          const n = Math.min(2_000, perPartition - i);
          const records = Array.from({ length: n }, (_, k) => ({ key: `k${start + i + k}`, value: `p${p}-${start + i + k}` }));
          await firstValueFrom(producer.publishBatch$(topic, records, { partition: p }));
        }
      } finally {
        await producer.close();
      }
    }),
  );
}

function base(topic: string, extra: Partial<Parameters<typeof Consumer.create>[0]> = {}) {
  return { bootstrapServers: [testBroker().address], groupId: unique('g'), topics: [topic], heartbeatIntervalMs: 500, sessionTimeoutMs: 6_000, ...extra };
}

describe('Consumer (real broker)', () => {
  it('reads 50,000 records from 6 partitions, in order per partition, and commits them on close', async () => {
    const topic = unique('fifty-k');
    await firstValueFrom(client.createTopic$(topic, 6));
    await produce(topic, 6, 50_000 / 6 + 1); // 8,334 per partition: 50,004 records
    const total = 8_334 * 6;
    const consumer = Consumer.create(base(topic, { maxPollRecords: 1_000, enableAutoCommit: false }));
    const next = new Map<number, number>();
    let seen = 0;
    let outOfOrder = 0;
    await lastValueFrom(
      consumer.records$.pipe(
        map((record) => {
          const expected = next.get(record.partition) ?? 0;
          if (record.offset !== BigInt(expected) || record.value.toString() !== `p${record.partition}-${expected}`) outOfOrder++;
          next.set(record.partition, expected + 1);
          record.ack();
          return ++seen;
        }),
        takeWhile((n) => n < total),
      ),
    );
    expect(outOfOrder).toBe(0);
    expect(seen).toBe(total);
    expect([...next.values()]).toEqual(Array(6).fill(8_334));
    expect(consumer.position(topic, 0)).toBe(8_334n);
    const groupId = consumer.groupId;
    await consumer.close();
    for (let p = 0; p < 6; p++) expect(await firstValueFrom(client.getOffset$(groupId, topic, p))).toBe(8_334n);
  });

  it('resumes from committed offsets: a second consumer of the group gets only unacknowledged records', async () => {
    const topic = unique('resume');
    await firstValueFrom(client.createTopic$(topic, 2));
    await produce(topic, 2, 100);
    const config = base(topic, { enableAutoCommit: false });
    const first = Consumer.create(config);
    // Acknowledge the first 30 records of each partition, commit in batches of 20 with the operator.
    const committed = await lastValueFrom(
      first.records$.pipe(
        filter((r) => r.offset < 30n),
        take(60),
        commitOffsets({ maxBatchSize: 20, maxIntervalMs: 10_000 }),
        toArray(),
      ),
    );
    expect(committed.map((c) => c.records.length)).toEqual([20, 20, 20]);
    await first.close();
    expect(await firstValueFrom(client.getOffset$(config.groupId, topic, 0))).toBe(30n);
    expect(await firstValueFrom(client.getOffset$(config.groupId, topic, 1))).toBe(30n);

    const second = Consumer.create(config);
    const firstSeen = await firstValueFrom(second.records$.pipe(bufferCount(140)));
    expect(Math.min(...firstSeen.map((r) => Number(r.offset)))).toBe(30);
    await second.close();
  });

  it('auto-commits acknowledged offsets on its interval', async () => {
    const topic = unique('auto');
    await firstValueFrom(client.createTopic$(topic, 1));
    await produce(topic, 1, 50);
    const consumer = Consumer.create(base(topic, { autoCommitIntervalMs: 200 }));
    const subscription = consumer.records$.pipe(filter((r) => r.offset < 20n)).subscribe((r) => r.ack());
    // Wait (by polling the broker) until the interval committed offset 20 — without close().
    let offset: bigint | undefined;
    for (let i = 0; i < 100 && offset !== 20n; i++) {
      offset = await firstValueFrom(client.getOffset$(consumer.groupId, topic, 0));
      if (offset !== 20n) await new Promise((r) => setTimeout(r, 50));
    }
    expect(offset).toBe(20n);
    subscription.unsubscribe();
    await consumer.close();
  });

  it('assigns statically, seeks by offset, to the beginning, the end and a timestamp, and reports position', async () => {
    const topic = unique('seek');
    await firstValueFrom(client.createTopic$(topic, 2));
    await produce(topic, 2, 100);
    const before = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    const marker = BigInt(Date.now());
    await produce(topic, 2, 10, 100); // offsets 100..109, produced after `marker`
    expect(before).toBeLessThan(Number(marker));

    const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: unique('g'), assign: { [topic]: [1] }, enableAutoCommit: false });
    const seen: ConsumerRecord[] = [];
    const assigned = firstValueFrom(consumer.assignments$.pipe(filter((a) => a.length > 0)));
    consumer.seek(topic, 1, 42n); // before assignment: applied when the partition is assigned
    const subscription = consumer.records$.subscribe((r) => {
      seen.push(r);
      r.ack();
    });
    expect(await assigned).toEqual([{ topic, partition: 1 }]);
    await until(() => seen.length >= 110 - 42, 4_000, '68 records from offset 42 seen');
    expect(seen[0]!.offset).toBe(42n);
    expect(seen.every((r) => r.partition === 1)).toBe(true);
    expect(consumer.position(topic, 1)).toBe(110n);
    expect(consumer.position(topic, 0)).toBeUndefined();

    seen.length = 0;
    await lastValueFrom(consumer.seekToTimestamp$(marker), { defaultValue: undefined });
    await until(() => seen.length >= 10, 4_000, '10 records seen');
    expect(seen[0]!.offset).toBe(100n);
    expect(seen[0]!.value.toString()).toBe('p1-100');

    seen.length = 0;
    await lastValueFrom(consumer.seekToBeginning$(), { defaultValue: undefined });
    await until(() => seen.length >= 110, 4_000, '110 records seen');
    expect(seen.map((r) => Number(r.offset))).toEqual(Array.from({ length: 110 }, (_, i) => i));

    seen.length = 0;
    await lastValueFrom(consumer.seekToEnd$(), { defaultValue: undefined });
    expect(consumer.position(topic, 1)).toBe(110n);
    await firstValueFrom(client.publish$(topic, { value: 'late', partition: 1 }));
    await until(() => seen.length >= 1, 4_000, 'a record seen');
    expect(seen.map((r) => r.value.toString())).toEqual(['late']);
    subscription.unsubscribe();
    await consumer.close();
  });

  it('pauses and resumes a partition', async () => {
    const topic = unique('pause');
    await firstValueFrom(client.createTopic$(topic, 2));
    const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: unique('g'), assign: { [topic]: [0, 1] }, enableAutoCommit: false });
    consumer.pause(topic, 0);
    const seen: ConsumerRecord[] = [];
    const subscription = consumer.records$.subscribe((r) => seen.push(r));
    await firstValueFrom(consumer.assignments$.pipe(filter((a) => a.length === 2)));
    await produce(topic, 2, 5);
    for (let i = 0; i < 300 && seen.length < 5; i++) await new Promise((r) => setTimeout(r, 10));
    // Give partition 0 the time it would need, then check it stayed silent.
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.map((r) => r.partition)).toEqual([1, 1, 1, 1, 1]);
    expect(consumer.paused()).toEqual([{ topic, partition: 0 }]);
    consumer.resume(topic, 0);
    for (let i = 0; i < 300 && seen.length < 10; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen.filter((r) => r.partition === 0).map((r) => r.value.toString())).toEqual(['p0-0', 'p0-1', 'p0-2', 'p0-3', 'p0-4']);
    subscription.unsubscribe();
    await consumer.close();
  });

  it('decompresses values transparently and passes plain values through', async () => {
    const topic = unique('compressed');
    await firstValueFrom(client.createTopic$(topic, 1));
    const text = 'rivven '.repeat(200);
    const lz4 = await compressValue(Buffer.from(text), { algorithm: 'lz4', minSize: 0 });
    const zstd = await compressValue(Buffer.from(text), { algorithm: 'zstd', minSize: 0 });
    expect(lz4.length).toBeLessThan(text.length);
    await firstValueFrom(client.publishBatch$(topic, [{ value: lz4 }, { value: 'plain value' }, { value: zstd }], { partition: 0 }));
    const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: unique('g'), assign: { [topic]: [0] }, enableAutoCommit: false });
    const values = await firstValueFrom(consumer.records$.pipe(take(3), map((r) => r.value.toString()), toArray()));
    expect(values).toEqual([text, 'plain value', text]);
    await consumer.close();
  });

  it('read_committed hides an aborted transaction; read_uncommitted shows it', async () => {
    const topic = unique('isolation');
    await firstValueFrom(client.createTopic$(topic, 1));
    const producer = await firstValueFrom(client.initProducerId$());
    const txn = unique('txn');
    await firstValueFrom(client.beginTransaction$(txn, producer), { defaultValue: undefined });
    await firstValueFrom(client.addPartitionsToTxn$(txn, producer, [[topic, 0]]));
    for (let i = 0; i < 3; i++) await firstValueFrom(client.transactionalPublish$(txn, topic, { value: `aborted-${i}`, partition: 0 }, producer, i));
    await firstValueFrom(client.abortTransaction$(txn, producer), { defaultValue: undefined });
    await firstValueFrom(client.publishBatch$(topic, [{ value: 'after-1' }, { value: 'after-2' }], { partition: 0 }));

    const read = async (extra: object, count: number) => {
      const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: unique('g'), assign: { [topic]: [0] }, enableAutoCommit: false, ...extra });
      const values = await firstValueFrom(consumer.records$.pipe(take(count), map((r) => r.value.toString()), toArray()));
      await consumer.close();
      return values;
    };
    expect(await read(ConsumerPresets.readCommitted, 2)).toEqual(['after-1', 'after-2']);
    expect(await read({ isolationLevel: 'read_uncommitted' }, 5)).toEqual(['aborted-0', 'aborted-1', 'aborted-2', 'after-1', 'after-2']);
  });

  it('read_committed steps over an aborted transaction far larger than maxPollRecords after acknowledged records (no credit is lost to hidden records)', async () => {
    const topic = unique('isolation-big');
    await firstValueFrom(client.createTopic$(topic, 1));
    await firstValueFrom(client.publishBatch$(topic, [{ value: 'before-1' }, { value: 'before-2' }], { partition: 0 }));
    const producer = await firstValueFrom(client.initProducerId$());
    const txn = unique('txn');
    await firstValueFrom(client.beginTransaction$(txn, producer), { defaultValue: undefined });
    await firstValueFrom(client.addPartitionsToTxn$(txn, producer, [[topic, 0]]));
    for (let i = 0; i < 30; i++) await firstValueFrom(client.transactionalPublish$(txn, topic, { value: `aborted-${i}`, partition: 0 }, producer, i));
    await firstValueFrom(client.abortTransaction$(txn, producer), { defaultValue: undefined });
    await firstValueFrom(client.publishBatch$(topic, [{ value: 'after-1' }, { value: 'after-2' }], { partition: 0 }));

    // maxPollRecords 10: the 30 hidden records are 3× the credit. Acknowledging what was emitted must
    // be enough to go on; hidden records never count as unacknowledged.
    const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: unique('g'), assign: { [topic]: [0] }, enableAutoCommit: false, maxPollRecords: 10, ...ConsumerPresets.readCommitted });
    const values = await firstValueFrom(
      consumer.records$.pipe(
        map((r) => {
          r.ack();
          return r.value.toString();
        }),
        take(4),
        toArray(),
      ),
    );
    expect(values).toEqual(['before-1', 'before-2', 'after-1', 'after-2']);
    await consumer.close();
  });

  it('loses nothing while records are appended concurrently (an empty fetch followed by new records is not mistaken for hidden records)', async () => {
    const topic = unique('live-tail');
    await firstValueFrom(client.createTopic$(topic, 1));
    // No long-poll: every fetch at the end of the log comes back empty, so the check for hidden
    // records runs constantly while the writers below append.
    const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: unique('g'), assign: { [topic]: [0] }, enableAutoCommit: false, fetchMaxWaitMs: 0 });
    const total = 600;
    const seen: string[] = [];
    const done = new Promise<void>((resolve) => {
      const subscription = consumer.records$.subscribe((r) => {
        seen.push(r.value.toString());
        r.ack();
        if (seen.length === total) {
          subscription.unsubscribe();
          resolve();
        }
      });
    });
    await firstValueFrom(consumer.assignments$.pipe(filter((a) => a.length === 1)));
    const writers = await Promise.all(Array.from({ length: 3 }, () => firstValueFrom(Client.connect$(testBroker().address))));
    await Promise.all(
      writers.map(async (writer, w) => {
        for (let i = 0; i < total / 3; i += 5) {
          await firstValueFrom(writer.publishBatch$(topic, Array.from({ length: 5 }, (_, k) => ({ value: `w${w}-${i + k}` })), { partition: 0 }));
        }
        await writer.close();
      }),
    );
    // A lost record means `done` never comes: give up after a generous bound and show the count.
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 20_000).unref())]);
    expect(seen.length).toBe(total);
    expect(new Set(seen).size).toBe(total);
    await consumer.close();
  });

  it('batches$ emits arrays as fetched, one partition each, at most maxPollRecords long', async () => {
    const topic = unique('batches');
    await firstValueFrom(client.createTopic$(topic, 2));
    await produce(topic, 2, 300);
    const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: unique('g'), assign: { [topic]: [0, 1] }, maxPollRecords: 100, enableAutoCommit: false });
    const batches = await firstValueFrom(
      consumer.batches$.pipe(
        map((batch) => {
          batch.forEach((r) => r.ack());
          return batch;
        }),
        scan((acc, batch) => [...acc, batch], [] as ConsumerRecord[][]),
        filter((acc) => acc.reduce((n, b) => n + b.length, 0) >= 600),
      ),
    );
    expect(batches.every((b) => b.length > 0 && b.length <= 100 && b.every((r) => r.partition === b[0]!.partition))).toBe(true);
    await consumer.close();
  });
});
