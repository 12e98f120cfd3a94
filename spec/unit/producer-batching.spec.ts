/**
 * How the producer cuts batches, observed at a spec-only broker that records every PublishBatch:
 * linger, batch size in bytes, per-partition order, and batches growing while one is in flight.
 */
import { firstValueFrom, lastValueFrom, from, toArray } from 'rxjs';
import type { Request } from '../../src/protocol/request-schema';
import { Producer } from '../../src/producer/producer';
import { RivvenTimeoutError } from '../../src/errors';
import { produceTo } from '../../src/operators/at-least-once';
import { FakeBroker, politeHandler, type FakePeer } from '../support/fake-broker';

type Batch = Extract<Request, { type: 'PublishBatch' }>;

/**
 * A broker with one topic of `partitions` partitions that acks batches (optionally holding them) and
 * serves them back to reads (the producer looks its acknowledged records up in the log).
 */
async function batchBroker(partitions: number, hold?: { release: Promise<void> }) {
  const batches: { at: number; batch: Batch }[] = [];
  const logs = new Map<number, Batch['records']>();
  const fake = await FakeBroker.start((request, id, peer: FakePeer) => {
    if (request.type === 'GetMetadata') return { type: 'Metadata', name: request.topic, partitions };
    if (request.type === 'Consume') {
      const log = logs.get(request.partition) ?? [];
      const from = Number(request.offset);
      const messages = log.slice(from, from + request.maxMessages).map((r, i) => ({
        offset: BigInt(from + i),
        partition: request.partition,
        key: r.key === undefined ? undefined : Buffer.from(r.key),
        value: Buffer.from(r.value),
        timestamp: 0n,
        headers: [],
      }));
      return { type: 'Messages', messages };
    }
    if (request.type === 'PublishBatch') {
      batches.push({ at: performance.now(), batch: request });
      const partition = request.partition ?? 0;
      const log = logs.get(partition) ?? [];
      logs.set(partition, log);
      const base = BigInt(log.length);
      log.push(...request.records);
      const reply = { type: 'PublishedBatch' as const, baseOffset: base, partition, recordCount: request.records.length };
      if (hold) {
        void hold.release.then(() => peer.reply(id, reply));
        return undefined;
      }
      return reply;
    }
    return politeHandler(request, id, peer);
  });
  return { fake, batches };
}

describe('producer batching', () => {
  let fake: FakeBroker;
  afterEach(async () => fake.stop());

  it('lingerMs holds a partition’s records back and sends what arrived meanwhile as one batch', async () => {
    const broker = await batchBroker(1);
    fake = broker.fake;
    const producer = Producer.create({ bootstrapServers: [fake.address], lingerMs: 150 });
    const started = performance.now();
    const first = firstValueFrom(producer.send$({ topic: 't', value: 'a' }));
    await new Promise((resolve) => setImmediate(resolve));
    const second = firstValueFrom(producer.send$({ topic: 't', value: 'b' }));
    const results = await Promise.all([first, second]);
    expect(results.map((r) => r.offset)).toEqual([0n, 1n]);
    expect(broker.batches).toHaveLength(1);
    expect(broker.batches[0]!.batch.records.map((r) => r.value.toString())).toEqual(['a', 'b']);
    expect(broker.batches[0]!.at - started).toBeGreaterThanOrEqual(140);
    await producer.close();
  });

  it('lingerMs 0 sends at the end of the tick: records sent together leave together', async () => {
    const broker = await batchBroker(1);
    fake = broker.fake;
    const producer = Producer.create({ bootstrapServers: [fake.address] });
    await firstValueFrom(producer.refreshMetadata$('t'));
    const results = await Promise.all(['a', 'b', 'c'].map((value) => firstValueFrom(producer.send$({ topic: 't', value }))));
    expect(results.map((r) => r.offset)).toEqual([0n, 1n, 2n]);
    expect(broker.batches.map((b) => b.batch.records.length)).toEqual([3]);
    await producer.close();
  });

  it('cuts batches at batchSize bytes and keeps send order within the partition', async () => {
    const broker = await batchBroker(1);
    fake = broker.fake;
    const producer = Producer.create({ bootstrapServers: [fake.address], batchSize: 200, lingerMs: 20 });
    const values = Array.from({ length: 20 }, (_, i) => `v${String(i).padStart(2, '0')}`.padEnd(50, '.'));
    const results = await lastValueFrom(from(values.map((value) => ({ topic: 't', value }))).pipe(produceTo(producer), toArray()));
    expect(results.map((r) => r.offset)).toEqual(values.map((_, i) => BigInt(i)));
    const sent = broker.batches.flatMap((b) => b.batch.records.map((r) => r.value.toString()));
    expect(sent).toEqual(values);
    // 50-byte values + 16 bytes of accounting each: at most 3 fit in 200 bytes.
    for (const b of broker.batches) expect(b.batch.records.length).toBeLessThanOrEqual(3);
    expect(broker.batches.length).toBeGreaterThanOrEqual(7);
    await producer.close();
  });

  it('keeps one batch in flight per partition; what queues meanwhile goes next, as one batch', async () => {
    let release!: () => void;
    const hold = { release: new Promise<void>((resolve) => (release = resolve)) };
    const broker = await batchBroker(1, hold);
    fake = broker.fake;
    const producer = Producer.create({ bootstrapServers: [fake.address] });
    const first = firstValueFrom(producer.send$({ topic: 't', partition: 0, value: 'first' }));
    await fake.whenReceived('PublishBatch');
    const rest = Promise.all(['x', 'y', 'z'].map((value) => firstValueFrom(producer.send$({ topic: 't', partition: 0, value }))));
    await new Promise((resolve) => setImmediate(resolve));
    expect(broker.batches).toHaveLength(1); // the partition's next batch waits for the first
    release();
    await first;
    const results = await rest;
    expect(results.map((r) => r.offset)).toEqual([1n, 2n, 3n]);
    expect(broker.batches.map((b) => b.batch.records.length)).toEqual([1, 3]);
    await producer.close();
  });

  it('deliveryTimeoutMs: records the broker never acknowledges fail with a RivvenTimeoutError, and flush() terminates', async () => {
    let answer!: () => void;
    const hold = { release: new Promise<void>((resolve) => (answer = resolve)) };
    const broker = await batchBroker(2, hold);
    fake = broker.fake;
    const producer = Producer.create({ bootstrapServers: [fake.address], deliveryTimeoutMs: 300, lingerMs: 5 });
    const started = performance.now();
    const outcomes = await Promise.all(
      ['a', 'b', 'c'].map((value, i) =>
        firstValueFrom(producer.send$({ topic: 't', partition: i % 2, value })).then(
          () => 'acked',
          (error: unknown) => error,
        ),
      ),
    );
    const elapsed = performance.now() - started;
    for (const outcome of outcomes) {
      expect(outcome).toBeInstanceOf(RivvenTimeoutError);
      expect((outcome as RivvenTimeoutError).message).toMatch(/deliveryTimeoutMs \(300 ms\)/);
    }
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(broker.batches.length).toBeGreaterThanOrEqual(1);
    await producer.flush();
    expect(producer.health()).toMatchObject({ recordsFailed: 3, pendingRecords: 0, pendingBytes: 0 });
    // The broker answers at last (close() would otherwise wait closeTimeoutMs for it): a late
    // answer does not turn a failure reported to the caller into anything else.
    answer();
    await producer.close();
    expect(producer.health()).toMatchObject({ recordsFailed: 3, recordsAcked: 0, pendingRecords: 0 });
  });

  it('maxBlockMs: a send that finds bufferMemory full waits, then fails typed; the memory it never got stays free', async () => {
    let answer!: () => void;
    const hold = { release: new Promise<void>((resolve) => (answer = resolve)) };
    const broker = await batchBroker(1, hold);
    fake = broker.fake;
    const producer = Producer.create({ bootstrapServers: [fake.address], bufferMemory: 1000, batchSize: 1000, maxBlockMs: 200, deliveryTimeoutMs: 1000 });
    const first = firstValueFrom(producer.send$({ topic: 't', partition: 0, value: Buffer.alloc(900) })).catch((e: unknown) => e);
    await fake.whenReceived('PublishBatch');
    const blocked = firstValueFrom(producer.send$({ topic: 't', partition: 0, value: Buffer.alloc(500) })).catch((e: unknown) => e);
    await new Promise((resolve) => setImmediate(resolve));
    expect(producer.health().waitingForMemory).toBe(1);
    const error = await blocked;
    expect(error).toBeInstanceOf(RivvenTimeoutError);
    expect((error as Error).message).toMatch(/bufferMemory \(1000 bytes\) stayed full for maxBlockMs \(200 ms\)/);
    expect(producer.health()).toMatchObject({ waitingForMemory: 0, pendingBytes: 916 });
    expect(await first).toBeInstanceOf(RivvenTimeoutError);
    expect(producer.health().pendingBytes).toBe(0);
    answer();
    await producer.close();
  });
});
