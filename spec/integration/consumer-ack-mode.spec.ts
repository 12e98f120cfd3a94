/**
 * A subscriber that never acknowledges (issue 13 §4), against the real broker:
 * - `ackMode: 'onEmit'`: `records$.subscribe(console.log)`-style readers get every record, and
 *   what they were handed is committed;
 * - `ackMode: 'manual'` (default): the credit-based flow control still holds (at most
 *   maxPollRecords emitted unacknowledged), and a stall past maxPollIntervalMs shows in health$
 *   (which partitions, since when, how many records wait) — for a static assignment too — and
 *   clears once downstream acknowledges.
 */
import { filter, firstValueFrom, type Subscription } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import type { ConsumerRecord } from '../../src/consumer/consumer-record';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

let client: Client;

beforeAll(async () => {
  client = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'consumer-ack-mode-spec' }));
});
afterAll(async () => {
  await client.close();
});

async function topicWith(records: number): Promise<string> {
  const topic = unique('ack-mode');
  await firstValueFrom(client.createTopic$(topic, 1));
  for (let i = 0; i < records; i += 1_000) {
    const n = Math.min(1_000, records - i);
    await firstValueFrom(client.publishBatch$(topic, Array.from({ length: n }, (_, k) => ({ value: `r${i + k}` })), { partition: 0 }));
  }
  return topic;
}

describe("ackMode 'onEmit': a synchronous reader that never calls ack()", () => {
  it('gets every record (more than maxPollRecords) and what it was handed is committed', async () => {
    const topic = await topicWith(1_500);
    const consumer = Consumer.create({
      bootstrapServers: [testBroker().address],
      groupId: unique('g'),
      assign: { [topic]: [0] },
      maxPollRecords: 100,
      ackMode: 'onEmit',
    });
    const seen: string[] = [];
    let subscription: Subscription | undefined;
    try {
      const all = firstValueFrom(consumer.health$.pipe(filter((h) => h.recordsAcknowledged >= 1_500)));
      subscription = consumer.records$.subscribe((record) => seen.push(record.value.toString())); // no ack()
      await all;
      expect(seen).toEqual(Array.from({ length: 1_500 }, (_, i) => `r${i}`));
      expect(consumer.health()).toMatchObject({ recordsEmitted: 1_500, recordsAcknowledged: 1_500, stalled: [] });
    } finally {
      subscription?.unsubscribe();
      await consumer.close();
    }
    expect(await firstValueFrom(client.getOffset$(consumer.groupId, topic, 0))).toBe(1_500n);
  });
});

describe("ackMode 'onEmit' with batches$", () => {
  it('acknowledges each array when next returns: every record arrives without ack()', async () => {
    const topic = await topicWith(600);
    const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: unique('g'), assign: { [topic]: [0] }, maxPollRecords: 100, ackMode: 'onEmit' });
    let received = 0;
    let largest = 0;
    const subscription = consumer.batches$.subscribe((batch) => {
      received += batch.length;
      largest = Math.max(largest, batch.length);
    });
    try {
      await firstValueFrom(consumer.health$.pipe(filter(() => received >= 600)));
      expect(received).toBe(600);
      expect(largest).toBeLessThanOrEqual(100);
    } finally {
      subscription.unsubscribe();
      await consumer.close();
    }
  });
});

describe("ackMode 'manual': a subscriber that forgets to acknowledge is visible", () => {
  it('holds at most maxPollRecords, reports the stall in health$ after maxPollIntervalMs (static assignment), and clears it on ack', async () => {
    const topic = await topicWith(1_000);
    const warnings: { fields: object; message: string }[] = [];
    const consumer = Consumer.create({
      bootstrapServers: [testBroker().address],
      groupId: unique('g'),
      assign: { [topic]: [0] },
      maxPollRecords: 100,
      maxPollIntervalMs: 1_000,
      logger: { debug: () => undefined, info: () => undefined, warn: (fields, message) => warnings.push({ fields, message }), error: () => undefined },
    });
    const seen: ConsumerRecord[] = [];
    const subscription = consumer.records$.subscribe((record) => seen.push(record)); // never acks
    try {
      const stalled = await firstValueFrom(consumer.health$.pipe(filter((h) => h.stalled.length > 0)));
      // Flow control held: nothing beyond the credit window was emitted.
      expect(seen.length).toBe(100);
      expect(stalled.stalled).toEqual([{ topic, partition: 0, since: expect.any(Number), unacknowledged: 100 }]);
      expect(Date.now() - stalled.stalled[0]!.since).toBeGreaterThanOrEqual(900);
      expect(stalled.warning).toMatch(/ack\(\)/);
      expect(stalled.warning).toMatch(/ackMode: 'onEmit'/);
      expect(stalled).toMatchObject({ state: 'stable', recordsEmitted: 100, recordsAcknowledged: 0, partitions: [{ topic, partition: 0 }], assignedPartitions: 1 });
      // Logged once, with fields (and saying that later ones are counted).
      expect(warnings).toEqual([{ fields: expect.objectContaining({ component: 'consumer', warning: 'stall' }), message: expect.stringContaining(stalled.warning!) }]);
      expect(warnings[0]!.message).toContain('health().warningCounts.stall');

      // Downstream catches up: the stall is reported no more and records flow again.
      const cleared = firstValueFrom(consumer.health$.pipe(filter((h) => h.stalled.length === 0)));
      seen[seen.length - 1]!.ack();
      const health = await cleared;
      expect(health.warning).toBeUndefined();
      await firstValueFrom(consumer.health$.pipe(filter(() => seen.length > 100)));
    } finally {
      subscription.unsubscribe();
      await consumer.close();
    }
  });
});
