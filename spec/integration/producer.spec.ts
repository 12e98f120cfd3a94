/**
 * The Producer against the real broker: batching, partitioning, ordering, compression,
 * idempotence under a lost reply, flush when the broker dies, backpressure.
 */
import { firstValueFrom, from, lastValueFrom, toArray } from 'rxjs';
import { Client } from '../../src/client/client';
import { ConfigError, RivvenError } from '../../src/errors';
import { produceTo } from '../../src/operators/produce-to';
import { tryDecompressValue } from '../../src/protocol/compression';
import { murmur2Partition } from '../../src/protocol/murmur2';
import { Producer, type ProducerRecord, type ProducerResult } from '../../src/producer/producer';
import { ProducerPresets } from '../../src/producer/producer-config';
import { freePort, startBroker, type BrokerProcess } from '../support/broker-process';
import { FaultProxy } from '../support/fault-proxy';

let admin: Client;
let seq = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${Date.now()}-${seq++}`;
/**
 * This suite pushes tens of thousands of records, and rivvend fsyncs each one: it gets a broker of
 * its own, so a backlog it leaves (say, after a failure) cannot slow the suites that follow.
 */
let broker: BrokerProcess;
const testBroker = () => broker;

beforeAll(async () => {
  broker = await startBroker();
  admin = await firstValueFrom(Client.connect$(broker.address));
});
afterAll(async () => {
  await admin.close();
  await broker.kill();
  await broker.stop();
});

/** Everything in a partition, from offset 0, values decompressed as a consumer would. */
async function readPartition(topic: string, partition: number, client = admin): Promise<{ offset: bigint; key?: string; value: Buffer }[]> {
  const out: { offset: bigint; key?: string; value: Buffer }[] = [];
  let offset = 0n;
  for (;;) {
    const records = await firstValueFrom(client.consume$(topic, { partition, offset, maxMessages: 10_000 }));
    if (records.length === 0) return out;
    for (const r of records) out.push({ offset: r.offset, key: r.key?.toString(), value: await tryDecompressValue(r.value) });
    offset = records[records.length - 1]!.offset + 1n;
  }
}

describe.each(['none', 'lz4'] as const)('Producer with compression %s', (compressionType) => {
  it('sends 10,000 keyed records over 6 partitions: each acked once, on its murmur2 partition, in order, byte-identical', async () => {
    const topic = unique(`keyed-${compressionType}`);
    await firstValueFrom(admin.createTopic$(topic, 6));
    const producer = Producer.create(
      ProducerPresets.highThroughput({ bootstrapServers: [testBroker().address], compressionType, lingerMs: 5 }),
    );
    // rivvend 0.0.22 appends (and fsyncs) a batch record by record: ~1.5 ms each even on tmpfs, on
    // one connection. 10,000 records keep this suite inside the test budget.
    const count = 10_000;
    const records: ProducerRecord<number>[] = Array.from({ length: count }, (_, i) => ({
      topic,
      key: `key-${i % 997}`,
      value: `value-${i}-${"x".repeat(40 + (i % 50))}`,
      correlation: i,
    }));
    const results = await lastValueFrom(from(records).pipe(produceTo<number>(producer), toArray()));
    await producer.close();

    expect(results).toHaveLength(count);
    const byCorrelation = new Map<number, ProducerResult<number>>();
    for (const r of results) byCorrelation.set(r.correlation!, r);
    expect(byCorrelation.size).toBe(count);
    const perPartition = new Map<number, { offset: bigint; i: number }[]>();
    for (let i = 0; i < count; i++) {
      const result = byCorrelation.get(i)!;
      expect(result.partition).toBe(murmur2Partition(Buffer.from(`key-${i % 997}`), 6));
      const list = perPartition.get(result.partition) ?? [];
      list.push({ offset: result.offset, i });
      perPartition.set(result.partition, list);
    }
    let consumed = 0;
    for (const [partition, sent] of perPartition) {
      // Send order within a partition is offset order.
      for (let j = 1; j < sent.length; j++) expect(sent[j]!.offset).toBeGreaterThan(sent[j - 1]!.offset);
      const stored = await readPartition(topic, partition);
      expect(stored).toHaveLength(sent.length);
      stored.forEach((record, j) => {
        const i = sent[j]!.i;
        expect(record.offset).toBe(sent[j]!.offset);
        expect(record.key).toBe(`key-${i % 997}`);
        expect(record.value.toString()).toBe(`value-${i}-${"x".repeat(40 + (i % 50))}`);
      });
      consumed += stored.length;
    }
    expect(consumed).toBe(count);
    const stats = producer.stats();
    expect(stats.recordsAcked).toBe(count);
    expect(stats.averageBatchSize).toBeGreaterThan(10);
    if (compressionType === 'lz4') expect(stats.compressionRatio).toBeLessThan(1);
  }, 120_000);
});

describe('Producer', () => {
  it('spreads keyless records stickily: whole batches per partition, all partitions used', async () => {
    const topic = unique('sticky');
    await firstValueFrom(admin.createTopic$(topic, 3));
    const producer = Producer.create({ bootstrapServers: [testBroker().address], lingerMs: 20, batchSize: 1024 });
    const results = await lastValueFrom(
      from(Array.from({ length: 600 }, (_, i) => ({ topic, value: `v${i}`.padEnd(40, '.') }))).pipe(produceTo(producer), toArray()),
    );
    await producer.close();
    const partitions = new Set(results.map((r) => r.partition));
    expect(partitions.size).toBe(3);
    // Consecutive keyless records mostly share a partition (runs the length of a batch).
    let switches = 0;
    for (let i = 1; i < results.length; i++) if (results[i]!.partition !== results[i - 1]!.partition) switches++;
    expect(switches).toBeLessThan(results.length / 5);
  });

  it('honours an explicit partition and carries correlation values', async () => {
    const topic = unique('explicit');
    await firstValueFrom(admin.createTopic$(topic, 4));
    const producer = Producer.create({ bootstrapServers: [testBroker().address] });
    const result = await firstValueFrom(producer.send$({ topic, partition: 3, key: 'k', value: 'v', correlation: { id: 7 } }));
    await producer.close();
    expect(result).toMatchObject({ topic, partition: 3, offset: 0n, correlation: { id: 7 } });
    expect(typeof result.timestamp).toBe('bigint');
  });

  it('fails a record for a missing topic with a typed error, and flush() still terminates', async () => {
    const producer = Producer.create({ bootstrapServers: [testBroker().address] });
    const failed = firstValueFrom(producer.send$({ topic: unique('missing'), value: 'x' })).catch((e: unknown) => e);
    await producer.flush();
    const error = await failed;
    expect(error).toBeInstanceOf(RivvenError);
    expect(producer.stats().recordsFailed).toBe(1);
    await producer.close();
  });

  it('rejects invalid configuration naming the option', () => {
    expect(() => Producer.create({ bootstrapServers: [] })).toThrow(/bootstrapServers/);
    expect(() => Producer.create({ bootstrapServers: ['a:1'], batchSize: 0 })).toThrow(ConfigError);
    expect(() => Producer.create({ bootstrapServers: ['a:1'], compressionType: 'gzip' as never })).toThrow(/compressionType/);
    expect(() => Producer.create({ bootstrapServers: ['a:1'], retryBackoffMs: 500, retryBackoffMaxMs: 100 })).toThrow(/retryBackoffMaxMs/);
  });

  it('picks up partitions added to a topic after refreshMetadata$', async () => {
    const topic = unique('grow');
    await firstValueFrom(admin.createTopic$(topic, 1));
    const producer = Producer.create({ bootstrapServers: [testBroker().address] });
    const before = await lastValueFrom(from(['a', 'b', 'c'].map((k) => ({ topic, key: k, value: k }))).pipe(produceTo(producer), toArray()));
    expect(new Set(before.map((r) => r.partition))).toEqual(new Set([0]));
    await firstValueFrom(admin.createPartitions$(topic, 4));
    expect(await firstValueFrom(producer.refreshMetadata$(topic))).toBe(4);
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
    const after = await lastValueFrom(from(keys.map((k, i) => ({ topic, key: k, value: k, correlation: i }))).pipe(produceTo<number>(producer), toArray()));
    for (const r of after) expect(r.partition).toBe(murmur2Partition(Buffer.from(keys[r.correlation!]!), 4));
    expect(new Set(after.map((r) => r.partition)).size).toBe(4);
    await producer.close();
  });

  it('fails over along bootstrapServers when the first server is down', async () => {
    const topic = unique('failover');
    await firstValueFrom(admin.createTopic$(topic, 1));
    const deadAddress = `127.0.0.1:${await freePort()}`; // nothing listens there
    const producer = Producer.create({ bootstrapServers: [deadAddress, testBroker().address] });
    const result = await firstValueFrom(producer.send$({ topic, partition: 0, value: 'via the second server' }));
    expect(result.offset).toBe(0n);
    await producer.close();
  });

  it('idempotence: a batch whose reply is lost is retried and stored exactly once', async () => {
    const topic = unique('idem');
    await firstValueFrom(admin.createTopic$(topic, 1));
    const proxy = await FaultProxy.start(testBroker().address);
    const producer = Producer.create(ProducerPresets.exactlyOnce({ bootstrapServers: [proxy.address], retryBackoffMs: 200 }));
    try {
      await firstValueFrom(producer.send$({ topic, partition: 0, value: 'warm-up' }));
      expect(producer.isIdempotent()).toBe(true);
      const before = proxy.stats();
      // The next reply from the broker is dropped and the connection closed.
      await proxy.closeAfter(0, 'to-client');
      const sent = lastValueFrom(
        from(['a', 'b', 'c'].map((value) => ({ topic, partition: 0, value }))).pipe(produceTo(producer), toArray()),
      );
      await proxy.until((s) => s.framesToBroker > before.framesToBroker && s.connectionsOpen === 0);
      await proxy.restore();
      const results = await sent;
      expect(results.map((r) => r.offset)).toEqual([1n, 2n, 3n]);
      expect(producer.stats().retries).toBeGreaterThanOrEqual(1);
      const stored = await readPartition(topic, 0);
      expect(stored.map((r) => r.value.toString())).toEqual(['warm-up', 'a', 'b', 'c']);
    } finally {
      await producer.close();
      await proxy.close();
    }
  });

  it('flush() terminates when the broker dies mid-stream; unacknowledged records fail typed', async () => {
    const broker = await startBroker();
    const client = await firstValueFrom(Client.connect$(broker.address));
    const topic = unique('dies');
    await firstValueFrom(client.createTopic$(topic, 2));
    await client.close();
    const producer = Producer.create({ bootstrapServers: [broker.address], retries: 1, retryBackoffMs: 50, retryBackoffMaxMs: 50, lingerMs: 50 });
    const outcomes: ('ok' | 'error')[] = [];
    const errors: unknown[] = [];
    for (let i = 0; i < 2000; i++) {
      producer.send$({ topic, value: `v${i}` }).subscribe({
        next: () => outcomes.push('ok'),
        error: (e: unknown) => {
          outcomes.push('error');
          errors.push(e);
        },
      });
    }
    await broker.kill();
    await producer.flush();
    expect(outcomes).toHaveLength(2000);
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(e).toBeInstanceOf(RivvenError);
    await producer.close();
    await broker.stop();
  });

  it('backpressure: with a 1 MiB budget and a slow broker, memory stays bounded and every record is acked', async () => {
    const topic = unique('pressure');
    await firstValueFrom(admin.createTopic$(topic, 2));
    const proxy = await FaultProxy.start(testBroker().address);
    await proxy.latency(5);
    const producer = Producer.create({ bootstrapServers: [proxy.address], bufferMemory: 1024 * 1024, batchSize: 64 * 1024, lingerMs: 2 });
    const value = Buffer.alloc(10 * 1024, 7);
    const total = 2000; // 20 MB through a 1 MiB budget
    let maxPending = 0;
    const sub = producer.health$.subscribe((h) => (maxPending = Math.max(maxPending, h.pendingBytes)));
    try {
      const results = await lastValueFrom(
        from(Array.from({ length: total }, (_, i) => ({ topic, key: `k${i % 10}`, value }))).pipe(produceTo(producer), toArray()),
      );
      expect(results).toHaveLength(total);
      // The budget is a hard cap on what waits or flies: never more than 1 MiB pending.
      expect(maxPending).toBeLessThanOrEqual(1024 * 1024);
      expect(maxPending).toBeGreaterThan(512 * 1024);
    } finally {
      sub.unsubscribe();
      await producer.close();
      await proxy.close();
    }
  }, 120_000);
});
