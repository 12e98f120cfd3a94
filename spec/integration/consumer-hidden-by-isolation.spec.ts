/**
 * A read_committed Consumer names what it steps over (issue 20 §1.4), against the real broker: the
 * records of an aborted transaction are reported as hidden by isolation (hidden$ and health$),
 * never as an 'unreadable' truncation and never silently; the visible records around them are all
 * emitted.
 */
import { filter, firstValueFrom, map, of, take, timeout, toArray } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import { ConsumerPresets } from '../../src/consumer/consumer-config';
import type { HiddenRecordsEvent, TruncationEvent } from '../../src/consumer/consumer-health';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

let client: Client;
beforeAll(async () => {
  client = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'hidden-by-isolation-spec' }));
});
afterAll(async () => {
  await client.close();
});

it('the records of an aborted transaction are reported as hidden-by-isolation, with their offsets and count', async () => {
  const topic = unique('hidden');
  await firstValueFrom(client.createTopic$(topic, 1));
  await firstValueFrom(client.publishBatch$(topic, [{ value: 'before-1' }, { value: 'before-2' }], { partition: 0 }));
  const producer = await firstValueFrom(client.initProducerId$());
  const txn = `txn-${topic}`;
  await firstValueFrom(client.beginTransaction$(txn, producer), { defaultValue: undefined });
  await firstValueFrom(client.addPartitionsToTxn$(txn, producer, [[topic, 0]]));
  const aborted: bigint[] = [];
  for (let i = 0; i < 5; i++) aborted.push((await firstValueFrom(client.transactionalPublish$(txn, topic, { value: `aborted-${i}`, partition: 0 }, producer, i))).offset);
  await firstValueFrom(client.abortTransaction$(txn, producer), { defaultValue: undefined });
  await firstValueFrom(client.publishBatch$(topic, [{ value: 'after-1' }, { value: 'after-2' }], { partition: 0 }));

  const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: `g-${topic}`, assign: { [topic]: [0] }, enableAutoCommit: false, ...ConsumerPresets.readCommitted });
  const hidden: HiddenRecordsEvent[] = [];
  const truncations: TruncationEvent[] = [];
  consumer.hidden$.subscribe((e) => hidden.push(e));
  consumer.truncations$.subscribe((e) => truncations.push(e));
  try {
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
    // The gap check runs right after the emission that stepped over them: wait for its count.
    await firstValueFrom(consumer.health$.pipe(filter((h) => h.hiddenByIsolation >= aborted.length), timeout({ first: 5_000, with: () => of(undefined) })));
    expect(hidden.reduce((n, e) => n + e.records, 0)).toBe(aborted.length);
    expect(hidden.every((e) => e.type === 'hidden-by-isolation' && e.topic === topic && e.partition === 0)).toBe(true);
    expect(hidden[0]!.from).toBe(aborted[0]);
    expect(hidden[hidden.length - 1]!.to).toBe(aborted[aborted.length - 1]! + 1n);
    expect(truncations).toEqual([]);
    expect(consumer.health().hiddenByIsolation).toBe(aborted.length);
    expect(consumer.health().truncations).toBe(0);
  } finally {
    await consumer.close();
  }
});
