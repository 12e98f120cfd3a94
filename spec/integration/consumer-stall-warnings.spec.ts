/**
 * Warnings that are true (issue 21 §5), against the real broker, with the log collected at the
 * default level (warn): the docs' recipe — concatMap with a 3 ms handler and commitOffsets(), 6
 * partitions × 500 records, which takes longer than maxPollIntervalMs (5 s) to drain — logs no
 * stall; a subscriber that never acknowledges gets exactly one warning, and later stalls are counted.
 */
import { concatMap, firstValueFrom, lastValueFrom, takeWhile, timer } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import type { ConsumerRecord } from '../../src/consumer/consumer-record';
import type { LogFields, Logger } from '../../src/observability/log';
import { commitOffsets } from '../../src/operators/at-least-once';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';
import { until } from '../support/wait';

interface Line {
  level: string;
  fields: LogFields;
  message: string;
}

function captureLogger(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (fields: LogFields, message: string) => lines.push({ level, fields, message });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

let admin: Client;
beforeAll(async () => {
  admin = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'consumer-stall-warnings' }));
});
afterAll(async () => {
  await admin.close();
});

async function topicWith(partitions: number, perPartition: number): Promise<string> {
  const topic = unique('stall');
  await firstValueFrom(admin.createTopic$(topic, partitions));
  for (let p = 0; p < partitions; p++) {
    await firstValueFrom(admin.publishBatch$(topic, Array.from({ length: perPartition }, (_, i) => ({ value: `p${p}-${i}` })), { partition: p }));
  }
  return topic;
}

describe('stall warnings', () => {
  it('a healthy pipeline slower than maxPollIntervalMs (concatMap, 3 ms a record, 6 × 500 records): no stall warning', async () => {
    const topic = await topicWith(6, 500);
    const log = captureLogger();
    // The default level (warn): what an application sees without configuring anything.
    const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: unique('g'), topics: [topic], logger: log.logger });
    const started = Date.now();
    try {
      let committed = 0;
      await lastValueFrom(
        consumer.records$.pipe(
          concatMap(async (record) => {
            await firstValueFrom(timer(3));
            return record;
          }),
          commitOffsets({ maxBatchSize: 500, maxIntervalMs: 1_000 }),
          takeWhile((batch) => (committed += batch.records.length) < 3_000, true),
        ),
      );
      expect(consumer.health().recordsAcknowledged).toBe(3_000);
      // The pipeline took longer than maxPollIntervalMs (5 s): the old warning fired here.
      expect(Date.now() - started).toBeGreaterThan(5_000);
      expect(log.lines.filter((l) => l.fields.warning === 'stall' || /acknowledg/.test(l.message))).toEqual([]);
      expect(consumer.health()).toMatchObject({ stalled: [], warning: undefined, warningCounts: { stall: 0 }, maxPollIntervalExceeded: 0 });
    } finally {
      await consumer.close();
    }
  }, 120_000);

  it('a subscriber that never acknowledges: exactly one warning saying what is known; a later stall is counted, not logged again', async () => {
    const topic = await topicWith(2, 100);
    const log = captureLogger();
    const consumer = Consumer.create({
      bootstrapServers: [testBroker().address],
      groupId: unique('g'),
      assign: { [topic]: [0, 1] },
      maxPollRecords: 10,
      maxPollIntervalMs: 300,
      logger: log.logger,
    });
    const held: ConsumerRecord[] = [];
    const subscription = consumer.records$.subscribe((record) => held.push(record)); // acknowledges nothing
    try {
      await until(() => consumer.health().stalled.length === 2, 10_000, 'both partitions stalled');
      await firstValueFrom(timer(1_000));
      const warnings = log.lines.filter((l) => l.fields.warning === 'stall');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.level).toBe('warn');
      expect(warnings[0]!.message).toMatch(new RegExp(`no acknowledgement for partitions? ${topic}/[01] since \\d+ ms ago \\(10 records waiting\\)`));
      expect(consumer.health().warningCounts.stall).toBe(1);
      expect(consumer.health().warning).toContain(`${topic}/0`);
      expect(consumer.health().warning).toContain(`${topic}/1`);

      // Acknowledging ends the stall; records fetched after it sit unacknowledged again: a second stall, counted.
      for (const record of held.splice(0)) record.ack();
      await until(() => consumer.health().stalled.length === 0 && consumer.health().recordsEmitted > 20, 10_000, 'the stall to end and more records to come');
      await until(() => consumer.health().warningCounts.stall === 2, 10_000, 'a second stall');
      expect(log.lines.filter((l) => l.fields.warning === 'stall')).toHaveLength(1);
    } finally {
      subscription.unsubscribe();
      await consumer.close();
    }
  }, 60_000);
});
