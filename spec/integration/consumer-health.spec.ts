/**
 * What a Consumer's health$ says when nothing is there to consume or nobody answers (issue 17
 * items 7 and 8), against the real broker: a subscription whose topics do not exist, a broker
 * address with nothing listening, a dead first bootstrap server; record counts, last error and the
 * assigned partitions as a list.
 */
import { filter, firstValueFrom, timeout } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import type { ConsumerRecord } from '../../src/consumer/consumer-record';
import { freePort } from '../support/broker-process';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

let client: Client;

beforeAll(async () => {
  client = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'consumer-health-spec' }));
});
afterAll(async () => {
  await client.close();
});

describe('Consumer health$', () => {
  it('a topics subscription that matches no existing topic says so, and the warning clears once the topic exists', async () => {
    const topic = unique('missing');
    const consumer = Consumer.create({
      bootstrapServers: [testBroker().address],
      groupId: unique('g'),
      topics: [topic],
      heartbeatIntervalMs: 300,
      sessionTimeoutMs: 3_000,
      metadataRefreshIntervalMs: 500,
    });
    const subscription = consumer.records$.subscribe((record) => record.ack());
    try {
      const warned = await firstValueFrom(consumer.health$.pipe(filter((h) => h.warning !== undefined), timeout(10_000)));
      expect(warned.warning).toMatch(/none of the subscribed topics exists/);
      expect(warned.warning).toContain(topic);
      expect(warned).toMatchObject({ partitions: [], assignedPartitions: 0 });

      await firstValueFrom(client.createTopic$(topic, 1));
      const assigned = await firstValueFrom(consumer.health$.pipe(filter((h) => h.assignedPartitions === 1 && h.warning === undefined), timeout(15_000)));
      expect(assigned.partitions).toEqual([{ topic, partition: 0 }]);
    } finally {
      subscription.unsubscribe();
      await consumer.close();
    }
  });

  it('nothing listening at the address: a warning that no broker answers and the last error, within a few seconds', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    for (const mode of [{ topics: ['t'] }, { assign: { t: [0] } }]) {
      const consumer = Consumer.create({ bootstrapServers: [dead], groupId: unique('g'), ...mode });
      const subscription = consumer.records$.subscribe({ error: () => undefined });
      try {
        const started = Date.now();
        const warned = await firstValueFrom(consumer.health$.pipe(filter((h) => h.warning !== undefined), timeout(5_000)));
        expect(warned.warning).toMatch(/no broker answers/);
        expect(warned.warning).toContain(dead);
        // Every server of the list was tried: the error names each with what went wrong there.
        expect(warned.lastError).toMatchObject({ code: 'ALL_SERVERS_UNAVAILABLE' });
        expect(warned.lastError?.message).toContain(dead);
        expect(Date.now() - started).toBeLessThan(5_000);
      } finally {
        subscription.unsubscribe();
        await consumer.close();
      }
    }
  });

  it('a dead first bootstrap server: the consumer uses the next one and counts records emitted and acknowledged', async () => {
    const topic = unique('failover');
    await firstValueFrom(client.createTopic$(topic, 2));
    await firstValueFrom(client.publishBatch$(topic, Array.from({ length: 30 }, (_, i) => ({ value: `v${i}` })), { partition: 1 }));
    const dead = `127.0.0.1:${await freePort()}`;
    const consumer = Consumer.create({ bootstrapServers: [dead, testBroker().address], groupId: unique('g'), assign: { [topic]: [0, 1] } });
    const seen: ConsumerRecord[] = [];
    const subscription = consumer.records$.subscribe((record) => {
      seen.push(record);
      if (seen.length <= 20) record.ack();
    });
    try {
      const health = await firstValueFrom(consumer.health$.pipe(filter((h) => h.recordsEmitted >= 30 && h.recordsAcknowledged >= 20), timeout(10_000)));
      expect(health).toMatchObject({
        state: 'stable',
        recordsEmitted: 30,
        recordsAcknowledged: 20,
        assignedPartitions: 2,
        partitions: [
          { topic, partition: 0 },
          { topic, partition: 1 },
        ],
        warning: undefined,
      });
    } finally {
      subscription.unsubscribe();
      await consumer.close();
    }
  });
});
