/**
 * A slow subscriber must not make the consumer buffer without bound: with a backlog far larger than
 * the bound, records fetched but not yet processed stay ≤ partitions × maxPollRecords.
 *
 * Backlog size: rivvend 0.0.22 appends roughly a record per millisecond per connection on the CI
 * machine, so a 1 M record backlog would take minutes just to produce. 30,000 records (50 times the
 * bound) make the point: an unbounded fetch loop would pull the whole backlog within a second
 * (a Consume of 100 records takes ~1 ms), while the subscriber processes ~1 record per ms.
 */
import { concatMap, delay, firstValueFrom, of, tap } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import { testBroker } from '../support/test-broker';

const PARTITIONS = 6;
const PER_PARTITION = 5_000;
const MAX_POLL_RECORDS = 100;
const VALUE = 'x'.repeat(100);

let client: Client;
beforeAll(async () => {
  client = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'consumer-backpressure-spec' }));
});
afterAll(async () => {
  await client.close();
});

async function produce(topic: string): Promise<void> {
  await Promise.all(
    Array.from({ length: PARTITIONS }, async (_, p) => {
      const producer = await firstValueFrom(Client.connect$(testBroker().address));
      try {
        for (let i = 0; i < PER_PARTITION; i += 2_500) {
          await firstValueFrom(producer.publishBatch$(topic, Array.from({ length: 2_500 }, () => ({ value: VALUE })), { partition: p }));
        }
      } finally {
        await producer.close();
      }
    }),
  );
}

it('keeps at most partitions × maxPollRecords records fetched ahead of a slow subscriber', async () => {
  const topic = `backpressure-${process.pid}-${Date.now()}`;
  await firstValueFrom(client.createTopic$(topic, PARTITIONS));
  await produce(topic);
  const consumer = Consumer.create({
    bootstrapServers: [testBroker().address],
    groupId: `g-${topic}`,
    assign: { [topic]: Array.from({ length: PARTITIONS }, (_, p) => p) },
    maxPollRecords: MAX_POLL_RECORDS,
    enableAutoCommit: false,
  });
  const bound = PARTITIONS * MAX_POLL_RECORDS;
  let emitted = 0;
  let processed = 0;
  let maxAhead = 0;
  let maxFetchedAhead = 0;
  const fetchedSoFar = () => {
    let sum = 0;
    for (let p = 0; p < PARTITIONS; p++) sum += Number(consumer.position(topic, p) ?? 0n);
    return sum;
  };
  await new Promise<void>((resolve, reject) => {
    const subscription = consumer.records$
      .pipe(
        tap(() => {
          emitted++;
          maxAhead = Math.max(maxAhead, emitted - processed);
          maxFetchedAhead = Math.max(maxFetchedAhead, fetchedSoFar() - processed);
        }),
        concatMap((record) => of(record).pipe(delay(1))),
      )
      .subscribe({
        next: (record) => {
          record.ack();
          processed++;
          if (processed === 3_000) {
            subscription.unsubscribe();
            resolve();
          }
        },
        error: reject,
      });
  });
  // The subscriber is far behind the backlog, yet the consumer never got more than the bound ahead.
  expect(PARTITIONS * PER_PARTITION).toBeGreaterThan(40 * bound);
  expect(maxAhead).toBeLessThanOrEqual(bound);
  expect(maxFetchedAhead).toBeLessThanOrEqual(bound);
  // And it did run ahead (prefetching is on): the bound is what held it back.
  expect(maxAhead).toBeGreaterThan(MAX_POLL_RECORDS);
  expect(fetchedSoFar()).toBeLessThanOrEqual(processed + bound);
  await consumer.close();
}, 90_000);
