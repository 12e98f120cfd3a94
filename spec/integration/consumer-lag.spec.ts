/**
 * consumer.lag$ and health$.lag against the real broker: a consumer that falls behind sees its lag
 * rise, and sees it fall back to 0 once it catches up.
 */
import { filter, firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import type { ConsumerRecord } from '../../src/consumer/consumer-record';
import { ConfigError } from '../../src/errors';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

let admin: Client;
beforeAll(async () => {
  admin = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'consumer-lag-spec' }));
});
afterAll(async () => {
  await admin.close();
});

it('lag$ rises while the consumer is behind and falls to 0 when it catches up; health carries the total', async () => {
  const topic = unique('lag');
  await firstValueFrom(admin.createTopic$(topic, 1));
  const consumer = Consumer.create({
    bootstrapServers: [testBroker().address],
    groupId: `${topic}-g`,
    assign: { [topic]: [0] },
    enableAutoCommit: false,
    maxPollRecords: 50,
    lagIntervalMs: 100,
  });
  // Slow at first: records are held, not acknowledged, so the consumer can fetch no further.
  let fast = false;
  const held: ConsumerRecord[] = [];
  const sub = consumer.records$.subscribe((record) => (fast ? record.ack() : held.push(record)));
  try {
    const empty = await firstValueFrom(consumer.lag$.pipe(filter((lags) => lags.length === 1)));
    expect(empty).toEqual([{ topic, partition: 0, position: 0n, committed: undefined, logEnd: 0n, lag: 0n }]);

    for (let i = 0; i < 1_000; i += 500) {
      await firstValueFrom(admin.publishBatch$(topic, Array.from({ length: 500 }, (_, k) => ({ value: `v${i + k}` })), { partition: 0 }));
    }
    // Behind: the log end is 1,000, the consumer holds at most maxPollRecords (50) of it.
    const behind = await firstValueFrom(consumer.lag$.pipe(filter((lags) => lags[0]!.logEnd === 1_000n)));
    expect(behind[0]!.position).toBeLessThanOrEqual(50n);
    expect(behind[0]!.lag).toBe(1_000n - behind[0]!.position);
    expect(behind[0]!.lag).toBeGreaterThanOrEqual(950n);
    await firstValueFrom(consumer.health$.pipe(filter((h) => h.lag !== undefined && h.lag >= 950n)));

    // Catch up: acknowledge what is held and everything from now on.
    fast = true;
    for (const record of held.splice(0)) record.ack();
    const caughtUp = await firstValueFrom(consumer.lag$.pipe(filter((lags) => lags[0]!.lag === 0n)));
    expect(caughtUp[0]).toMatchObject({ position: 1_000n, logEnd: 1_000n, lag: 0n });
    await firstValueFrom(consumer.health$.pipe(filter((h) => h.lag === 0n)));

    // Commits show up in `committed`.
    await firstValueFrom(consumer.commit$());
    const afterCommit = await firstValueFrom(consumer.lag$.pipe(filter((lags) => lags[0]!.committed === 1_000n)));
    expect(afterCommit[0]!.lag).toBe(0n);
  } finally {
    sub.unsubscribe();
    await consumer.close();
  }
  // The session ended: the health total is cleared, and lag$ completes on close, replaying the
  // session's last reading (caught up and committed) to a late subscriber.
  expect(consumer.health().lag).toBeUndefined();
  await expect(lastValueFrom(consumer.lag$.pipe(toArray()))).resolves.toEqual([[{ topic, partition: 0, position: 1_000n, committed: 1_000n, logEnd: 1_000n, lag: 0n }]]);
}, 20_000);

it('lagIntervalMs must be a positive integer', () => {
  expect(() => Consumer.create({ bootstrapServers: '127.0.0.1:9092', assign: { t: [0] }, lagIntervalMs: 0 })).toThrow(ConfigError);
  expect(() => Consumer.create({ bootstrapServers: '127.0.0.1:9092', assign: { t: [0] }, lagIntervalMs: 1.5 })).toThrow(/lagIntervalMs/);
});
