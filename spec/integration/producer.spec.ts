/**
 * The Producer against the real broker: batching, partitioning, ordering, compression,
 * idempotence under a lost reply, flush when the broker dies, backpressure.
 */
import { count, firstValueFrom, from, lastValueFrom, mergeMap, range, tap, toArray } from 'rxjs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Client } from '../../src/client/client';
import { ConfigError, RivvenError } from '../../src/errors';
import { produceTo } from '../../src/operators/at-least-once';
import { tryDecompressValue } from '../../src/protocol/compression';
import { murmur2Partition } from '../../src/protocol/murmur2';
import { Producer } from '../../src/producer/producer';
import type { ProducerRecord, ProducerResult } from '../../src/producer/producer-record';
import { ProducerPresets } from '../../src/producer/producer-config';
import { freePort, startBroker, type BrokerProcess } from '../support/broker-process';
import { FaultProxy } from '../support/fault-proxy';
import { unique } from '../support/names';

let admin: Client;
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

/** A callable garbage collector, so retained memory can be measured rather than guessed. */
function forceGc(): () => void {
  setFlagsFromString('--expose_gc');
  return runInNewContext('gc') as () => void;
}

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

describe('Producer at volume', () => {
  it('sends 100,000 keyed records over 6 partitions (half LZ4, half plain): each acked once, on its murmur2 partition, in order, byte-identical', async () => {
    // rivvend 0.0.22 makes each record durable before the next on a connection (~1.5 ms); the
    // preset's 8 connections put each of the 6 partitions on its own, so they are written in
    // parallel. Two producers, one compressing and one not, run side by side, each on its own
    // 6-partition topic: rivvend appends a batch record by record, so two connections writing the
    // same partition at once would interleave and no batch's offsets would be contiguous.
    const topics = { none: unique('keyed-none'), lz4: unique('keyed-lz4') };
    for (const topic of Object.values(topics)) await firstValueFrom(admin.createTopic$(topic, 6));
    const topicOf = (i: number) => (i < perProducer ? topics.none : topics.lz4);
    const perProducer = 50_000;
    const valueOf = (i: number) => `value-${i}-${'x'.repeat(40 + (i % 50))}`;
    const keyOf = (i: number) => `key-${i % 997}`;
    const run = async (compressionType: 'none' | 'lz4', first: number) => {
      const producer = Producer.create({ ...ProducerPresets.highThroughput, bootstrapServers: [testBroker().address], compressionType, lingerMs: 5 });
      const records: ProducerRecord<number>[] = Array.from({ length: perProducer }, (_, n) => ({
        topic: topics[compressionType],
        key: keyOf(first + n),
        value: valueOf(first + n),
        correlation: first + n,
      }));
      const results = await lastValueFrom(from(records).pipe(produceTo<number>(producer), toArray()));
      await producer.close();
      const stats = producer.health();
      expect(stats.recordsAcked).toBe(perProducer);
      expect(stats.averageBatchSize).toBeGreaterThan(10);
      if (compressionType === 'lz4') expect(stats.compressionRatio).toBeLessThan(1);
      else expect(stats.compressionRatio).toBe(1);
      return results;
    };
    const results = (await Promise.all([run('none', 0), run('lz4', perProducer)])).flat();
    const count = 2 * perProducer;

    expect(results).toHaveLength(count);
    const byCorrelation = new Map<number, ProducerResult<number>>();
    for (const r of results) byCorrelation.set(r.correlation!, r);
    expect(byCorrelation.size).toBe(count);
    const offsetToIndex = new Map<string, number>();
    for (let i = 0; i < count; i++) {
      const result = byCorrelation.get(i)!;
      expect(result.partition).toBe(murmur2Partition(Buffer.from(keyOf(i)), 6));
      expect(result.topic).toBe(topicOf(i));
      offsetToIndex.set(`${result.topic}:${result.partition}:${result.offset}`, i);
    }
    // Each producer's send order within a partition is offset order.
    for (const first of [0, perProducer]) {
      const last = new Map<number, bigint>();
      for (let i = first; i < first + perProducer; i++) {
        const { partition, offset } = byCorrelation.get(i)!;
        const previous = last.get(partition);
        if (previous !== undefined) expect(offset).toBeGreaterThan(previous);
        last.set(partition, offset);
      }
    }
    // Read back: every stored record is exactly one sent record, byte for byte (LZ4 ones decompressed).
    let consumed = 0;
    for (const topic of Object.values(topics)) for (let partition = 0; partition < 6; partition++) {
      for (const record of await readPartition(topic, partition)) {
        const i = offsetToIndex.get(`${topic}:${partition}:${record.offset}`);
        expect(i).toBeDefined();
        expect(record.key).toBe(keyOf(i!));
        expect(record.value.toString()).toBe(valueOf(i!));
        consumed++;
      }
    }
    expect(consumed).toBe(count);
  }, 300_000);
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
    expect(producer.health().recordsFailed).toBe(1);
    await producer.close();
  });

  it('rejects invalid configuration naming the option', () => {
    expect(() => Producer.create({ bootstrapServers: [] })).toThrow(/bootstrapServers/);
    expect(() => Producer.create({ bootstrapServers: ['a:1'], batchSize: 0 })).toThrow(ConfigError);
    expect(() => Producer.create({ bootstrapServers: ['a:1'], compressionType: 'gzip' as never })).toThrow(/compressionType/);
    expect(() => Producer.create({ bootstrapServers: ['a:1'], retry: { initialDelayMs: 500, maxDelayMs: 100 } })).toThrow(/retry\.maxDelayMs/);
    expect(() => Producer.create({ bootstrapServers: ['a:1'], connections: 0 })).toThrow(/connections/);
    expect(() => Producer.create({ bootstrapServers: ['a:1'], connections: 65 })).toThrow(/connections.*an integer in 1\.\.64/);
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

  it('spreads partitions over `connections` connections, each partition pinned to one', async () => {
    const topic = unique('lanes');
    await firstValueFrom(admin.createTopic$(topic, 6));
    for (const connections of [1, 3]) {
      const proxy = await FaultProxy.start(testBroker().address);
      const producer = Producer.create({ bootstrapServers: [proxy.address], connections });
      try {
        const records = Array.from({ length: 60 }, (_, i) => ({ topic, partition: i % 6, value: `v${i}` }));
        const results = await lastValueFrom(from(records).pipe(produceTo(producer), toArray()));
        expect(results).toHaveLength(60);
        expect(proxy.stats().connectionsOpen).toBe(connections);
        // Request latency is measured over the connections in use.
        const { requestLatencyP50Ms, requestLatencyP99Ms } = producer.health();
        expect(requestLatencyP50Ms).toBeGreaterThan(0);
        expect(requestLatencyP99Ms).toBeGreaterThanOrEqual(requestLatencyP50Ms!);
      } finally {
        await producer.close();
        await proxy.close();
      }
    }
    // Order within each partition held across the connections: offsets follow send order.
    for (let partition = 0; partition < 6; partition++) {
      const stored = await readPartition(topic, partition);
      const expected = Array.from({ length: 10 }, (_, n) => `v${partition + 6 * n}`);
      expect(stored.map((r) => r.value.toString())).toEqual([...expected, ...expected]);
    }
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
    const producer = Producer.create({ ...ProducerPresets.exactlyOnce, bootstrapServers: [proxy.address], retry: { initialDelayMs: 200 } });
    try {
      await firstValueFrom(producer.send$({ topic, partition: 0, value: 'warm-up' }));
      expect(producer.isIdempotent()).toBe(true);
      // Nothing else in flight (the quickAck Ping after the warm-up's reply, say): the next reply to
      // come back is the batch's. Otherwise another reply may trip the fault first, and the batch
      // then goes once, on a new connection, with nothing to retry.
      await proxy.until((s) => s.outstanding === 0);
      const before = proxy.stats();
      // The next reply from the broker is dropped and the connection closed.
      await proxy.closeAfter(0, 'to-client');
      const sent = lastValueFrom(
        from(['a', 'b', 'c'].map((value) => ({ topic, partition: 0, value }))).pipe(produceTo(producer), toArray()),
      );
      // The partition's connection (its lane) is cut; the metadata lane may stay open.
      await proxy.until((s) => s.framesToBroker > before.framesToBroker && s.connectionsOpen < before.connectionsOpen);
      await proxy.restore();
      const results = await sent;
      expect(results.map((r) => r.offset)).toEqual([1n, 2n, 3n]);
      expect(producer.health().retries).toBeGreaterThanOrEqual(1);
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
    const producer = Producer.create({ bootstrapServers: [broker.address], retry: { maxAttempts: 2, initialDelayMs: 50, maxDelayMs: 50 }, lingerMs: 50 });
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

  it('backpressure: 200 MB through a 1 MiB budget and a slowed broker: pending bytes ≤ 1 MiB, heap bounded, every record acked', async () => {
    const topic = unique('pressure');
    await firstValueFrom(admin.createTopic$(topic, 2));
    const proxy = await FaultProxy.start(testBroker().address);
    await proxy.latency(5);
    const budget = 1024 * 1024;
    const producer = Producer.create({ bootstrapServers: [proxy.address], bufferMemory: budget, batchSize: 64 * 1024, lingerMs: 2 });
    const valueSize = 250 * 1000;
    const total = 800; // 800 × 250 kB = 200 MB, each value a fresh buffer made when its send starts
    // The sender keeps up to 16 sends open (its own window, 4 MB of values); the producer admits
    // only what fits in 1 MiB and makes the rest wait, so nothing piles up inside it.
    const window = 16;
    let maxPending = 0;
    let acked = 0;
    const heapSamples: number[] = [];
    const gc = forceGc();
    const retained = () => {
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const baseline = retained();
    const sub = producer.health$.subscribe((h) => (maxPending = Math.max(maxPending, h.pendingBytes)));
    try {
      const sentCount = await lastValueFrom(
        range(0, total).pipe(
          mergeMap((i) => producer.send$({ topic, key: `k${i % 10}`, value: Buffer.alloc(valueSize, i % 251) }), window),
          tap(() => {
            if (++acked % 100 === 0) heapSamples.push(retained() - baseline);
          }),
          count(),
        ),
      );
      expect(sentCount).toBe(total);
      // The budget is a hard cap on what waits or flies: never more than 1 MiB pending.
      expect(maxPending).toBeLessThanOrEqual(budget);
      expect(maxPending).toBeGreaterThan(budget / 2);
      // Retained memory (after a forced GC) stays within the sender's window (4 MB) + the budget
      // (1 MiB) + copies of the requests in flight in socket and in-process proxy buffers (a few
      // MB) + Buffer memory whose release V8 finishes after the GC returns (it frees backing stores
      // off the main thread, so `arrayBuffers` can lag by tens of MB): below 64 MB, against 200 MB
      // sent (measured 5–27 MB). And no upward trend: the last sample is within 16 MB of the first.
      // A producer that kept acknowledged records (200 MB by the end) or queued without bound
      // would break both.
      expect(heapSamples).toHaveLength(total / 100);
      expect(Math.max(...heapSamples)).toBeLessThan(64 * 1024 * 1024);
      expect(heapSamples[heapSamples.length - 1]! - heapSamples[0]!).toBeLessThan(16 * 1024 * 1024);
      const stats = producer.health();
      expect(stats.recordsAcked).toBe(total);
      expect(stats.recordsFailed).toBe(0);
    } finally {
      sub.unsubscribe();
      await producer.close();
      await proxy.close();
    }
  }, 180_000);
});
