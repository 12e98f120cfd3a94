/**
 * deliveredOffsets(), rewindToCommitted$() and the "seek takes effect at once" guarantee, against
 * the real broker. The exactly-once transactional() operator relies on all three: after an abort it
 * rewinds, and no record fetched before the rewind may reach the next transaction.
 *
 * A fetch response "in flight" is made deterministic with a gated socket: the consumer's sockets
 * hold back received bytes while the gate is closed, so the test can seek/rewind exactly while a
 * fetch answer is waiting to be read, then let it through.
 */
import { connect, type Socket } from 'node:net';
import { firstValueFrom, lastValueFrom } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import type { ConsumerRecord } from '../../src/consumer/consumer-record';
import type { SocketFactory } from '../../src/connection-settings';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

let client: Client;

beforeAll(async () => {
  client = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'consumer-rewind-spec' }));
});
afterAll(async () => {
  await client.close();
});

async function produce(topic: string, partition: number, count: number): Promise<void> {
  const records = Array.from({ length: count }, (_, i) => ({ value: `p${partition}-${i}` }));
  await firstValueFrom(client.publishBatch$(topic, records, { partition }));
}

/** Sockets whose received bytes can be held back (gate closed) and released later, in order. */
class GatedSockets implements SocketFactory {
  readonly kind = 'tcp';
  private closed = false;
  private readonly held: { socket: Socket; chunk: Buffer }[] = [];
  private onHeld: (() => void) | undefined;

  open(address: { host: string; port: number }, onReady: () => void): Socket {
    const socket = connect({ host: address.host, port: address.port, noDelay: true });
    socket.once('connect', onReady);
    const emit = socket.emit.bind(socket);
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      if (event === 'data' && this.closed) {
        this.held.push({ socket, chunk: args[0] as Buffer });
        const notify = this.onHeld;
        this.onHeld = undefined;
        notify?.();
        return true;
      }
      return emit(event, ...args);
    }) as typeof socket.emit;
    return socket;
  }

  close(): void {
    this.closed = true;
  }

  /** Resolves once some received bytes are being held. */
  somethingHeld(): Promise<void> {
    if (this.held.length > 0) return Promise.resolve();
    return new Promise((resolve) => (this.onHeld = resolve));
  }

  open_(): void {
    this.closed = false;
    for (const { socket, chunk } of this.held.splice(0)) socket.emit('data', chunk);
  }
}

function collector(consumer: Consumer, onRecord: (r: ConsumerRecord) => void = () => undefined) {
  const seen: ConsumerRecord[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const subscription = consumer.records$.subscribe((r) => {
    seen.push(r);
    onRecord(r);
    for (const w of waiters.filter((w) => seen.length >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  const atLeast = (n: number) => (seen.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })));
  return { seen, atLeast, subscription };
}

describe('Consumer delivered offsets and rewinds (real broker)', () => {
  it('deliveredOffsets() tracks the last emitted record per partition, includes the record being handled, and is cleared by seek', async () => {
    const topic = unique('delivered');
    await firstValueFrom(client.createTopic$(topic, 2));
    await produce(topic, 0, 30);
    await produce(topic, 1, 20);
    const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: unique('g'), assign: { [topic]: [0, 1] }, enableAutoCommit: false });
    expect(consumer.deliveredOffsets()).toEqual([]);
    const insideHandler: bigint[] = [];
    const { seen, atLeast, subscription } = collector(consumer, (r) => {
      r.ack();
      const mine = consumer.deliveredOffsets().find((d) => d.partition === r.partition);
      insideHandler.push(mine!.offset - r.offset);
    });
    await atLeast(50);
    expect(insideHandler.every((d) => d === 1n)).toBe(true);
    const byPartition = (list: { partition: number; offset: bigint }[]) => [...list].sort((a, b) => a.partition - b.partition).map((d) => [d.partition, d.offset]);
    expect(byPartition(consumer.deliveredOffsets())).toEqual([
      [0, 30n],
      [1, 20n],
    ]);
    consumer.seek(topic, 1, 5n);
    expect(byPartition(consumer.deliveredOffsets())).toEqual([[0, 30n]]);
    await atLeast(65);
    expect(seen.slice(50).map((r) => [r.partition, Number(r.offset)])).toEqual(Array.from({ length: 15 }, (_, i) => [1, 5 + i]));
    expect(byPartition(consumer.deliveredOffsets())).toEqual([
      [0, 30n],
      [1, 20n],
    ]);
    subscription.unsubscribe();
    await consumer.close();
  });

  it('after seek() returns, a fetch response that was in flight is never emitted', async () => {
    const topic = unique('seek-inflight');
    await firstValueFrom(client.createTopic$(topic, 1));
    await produce(topic, 0, 100);
    const gate = new GatedSockets();
    const consumer = Consumer.create({
      bootstrapServers: [testBroker().address],
      groupId: unique('g'),
      assign: { [topic]: [0] },
      maxPollRecords: 10,
      enableAutoCommit: false,
      socketFactory: gate,
    });
    // Close the gate while handling the last record of the first batch: the next fetch (10..19)
    // goes out when the handler returns, and its answer is held.
    const { seen, atLeast, subscription } = collector(consumer, (r) => {
      r.ack();
      if (r.offset === 9n) gate.close();
    });
    await atLeast(10);
    await gate.somethingHeld();
    expect(seen.map((r) => Number(r.offset))).toEqual(Array.from({ length: 10 }, (_, i) => i));
    consumer.seek(topic, 0, 50n);
    gate.open_();
    await atLeast(30);
    expect(seen.slice(10, 30).map((r) => Number(r.offset))).toEqual(Array.from({ length: 20 }, (_, i) => 50 + i));
    subscription.unsubscribe();
    await consumer.close();
  });

  it('a seek made while a batch is being emitted drops the rest of that batch', async () => {
    const topic = unique('seek-midbatch');
    await firstValueFrom(client.createTopic$(topic, 1));
    await produce(topic, 0, 40);
    const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: unique('g'), assign: { [topic]: [0] }, maxPollRecords: 20, enableAutoCommit: false });
    let seeked = false;
    const { seen, atLeast, subscription } = collector(consumer, (r) => {
      r.ack();
      if (r.offset === 3n && !seeked) {
        seeked = true;
        consumer.seek(topic, 0, 30n);
      }
    });
    await atLeast(14);
    expect(seen.map((r) => Number(r.offset))).toEqual([0, 1, 2, 3, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39]);
    subscription.unsubscribe();
    await consumer.close();
  });

  it('rewindToCommitted$() stops emission at once (also an in-flight fetch), clears deliveredOffsets, and resumes at the committed offsets (autoOffsetReset where none)', async () => {
    const topic = unique('rewind');
    await firstValueFrom(client.createTopic$(topic, 2));
    await produce(topic, 0, 100);
    await produce(topic, 1, 100);
    const groupId = unique('g');
    await firstValueFrom(client.commitOffset$(groupId, topic, 0, 7n));
    const gate = new GatedSockets();
    const consumer = Consumer.create({
      bootstrapServers: [testBroker().address],
      groupId,
      assign: { [topic]: [0, 1] },
      maxPollRecords: 10,
      enableAutoCommit: false,
      socketFactory: gate,
    });
    const { seen, atLeast, subscription } = collector(consumer, (r) => r.ack());
    await atLeast(60);
    expect(consumer.deliveredOffsets().length).toBe(2);
    // Hold the next answers, so that a fetch response is in flight during the rewind.
    gate.close();
    await gate.somethingHeld();
    const before = seen.length;
    const rewound = lastValueFrom(consumer.rewindToCommitted$(), { defaultValue: undefined });
    expect(consumer.deliveredOffsets()).toEqual([]); // synchronously on subscribe
    gate.open_();
    await rewound;
    await atLeast(before + 93 + 100);
    const after = seen.slice(before);
    const offsets = (p: number) => after.filter((r) => r.partition === p).map((r) => Number(r.offset));
    expect(offsets(0)).toEqual(Array.from({ length: 93 }, (_, i) => 7 + i));
    expect(offsets(1)).toEqual(Array.from({ length: 100 }, (_, i) => i)); // no commit: earliest
    subscription.unsubscribe();
    await consumer.close();
  });

  it('acknowledgeDelivered() frees fetch credit and makes the offsets committable; out-of-range entries are ignored', async () => {
    const topic = unique('ack-delivered');
    await firstValueFrom(client.createTopic$(topic, 1));
    await produce(topic, 0, 100);
    const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: unique('g'), assign: { [topic]: [0] }, maxPollRecords: 20, enableAutoCommit: false });
    // Nobody acks records: the consumer stops after maxPollRecords (flow control).
    const { seen, atLeast, subscription } = collector(consumer);
    await atLeast(20);
    expect(consumer.deliveredOffsets()).toEqual([{ topic, partition: 0, offset: 20n }]);
    consumer.acknowledgeDelivered([
      { topic, partition: 0, offset: 21n }, // beyond what was delivered: ignored
      { topic: 'not-owned', partition: 0, offset: 5n },
    ]);
    expect(await lastValueFrom(consumer.commit$())).toEqual({ offsets: [] });
    consumer.acknowledgeDelivered(consumer.deliveredOffsets());
    expect(await lastValueFrom(consumer.commit$())).toEqual({ offsets: [{ topic, partition: 0, offset: 20n }] });
    await atLeast(40); // credit freed: fetching went on
    expect(seen.slice(20, 40).map((r) => Number(r.offset))).toEqual(Array.from({ length: 20 }, (_, i) => 20 + i));
    // Offsets a transaction already committed: acknowledged, but never committed again by the consumer.
    consumer.acknowledgeDelivered(consumer.deliveredOffsets(), { committed: true });
    expect(await lastValueFrom(consumer.commit$())).toEqual({ offsets: [] });
    subscription.unsubscribe();
    await consumer.close();
  });

  it('rewindToCommitted$(partitions) rewinds only those, in a group-managed consumer', async () => {
    const topic = unique('rewind-some');
    await firstValueFrom(client.createTopic$(topic, 2));
    await produce(topic, 0, 20);
    await produce(topic, 1, 20);
    const consumer = Consumer.create({
      bootstrapServers: [testBroker().address],
      groupId: unique('g'),
      topics: [topic],
      enableAutoCommit: false,
      heartbeatIntervalMs: 500,
      sessionTimeoutMs: 6_000,
    });
    const { seen, atLeast, subscription } = collector(consumer, (r) => {
      if (r.partition === 0 && r.offset < 5n) r.ack();
    });
    await atLeast(40);
    await lastValueFrom(consumer.commit$());
    await lastValueFrom(consumer.rewindToCommitted$([{ topic, partition: 0 }]), { defaultValue: undefined });
    expect(consumer.deliveredOffsets().map((d) => [d.partition, d.offset])).toEqual([[1, 20n]]);
    await atLeast(55);
    expect(seen.slice(40).map((r) => [r.partition, Number(r.offset)])).toEqual(Array.from({ length: 15 }, (_, i) => [0, 5 + i]));
    subscription.unsubscribe();
    await consumer.close();
  });
});
