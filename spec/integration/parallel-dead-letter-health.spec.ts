/**
 * processConcurrently() against the real broker when the dead-letter topic is away (issue 25: "if
 * the dead-letter produce fails, the partition waits and health$ says why"): the dead-letter topic
 * does not exist, so the real Producer's send$ fails (a ServerError, "Topic not found"; a Producer never
 * creates topics). The consumer's health() lists the held record — partition, offset, the reason
 * and the error, since when — and logs it once; the group's committed offset stays at the poison
 * record. Once the topic is created the record is dead-lettered (read back from the dead-letter
 * topic's log), acknowledged, the hold clears and the commit moves past it.
 */
import { ReplaySubject, filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import type { ConsumerRecord } from '../../src/consumer/consumer-record';
import { decodeDeadLetter } from '../../src/operators/dead-letter';
import { processConcurrently } from '../../src/operators/process-concurrently';
import type { ProcessingEvent } from '../../src/operators/processing-options';
import { Producer } from '../../src/producer/producer';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

jest.setTimeout(60_000);

let client: Client;
beforeAll(async () => {
  client = await firstValueFrom(Client.connect$({ bootstrapServers: [testBroker().address], clientId: 'parallel-dlq-health-spec' }));
});
afterAll(async () => {
  await client?.close();
});

function capture() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => lines.push({ level, message, fields });
  return { lines, logger: { debug: () => undefined, info: at('info'), warn: at('warn'), error: at('error') } };
}

/** Fails with `waiting for <what>` if nothing came within `ms` (a clear failure rather than the test's timeout). */
function within<T>(ms: number, what: string) {
  return timeout<T, never>({
    first: ms,
    with: () => {
      throw new Error(`timed out waiting for ${what}`);
    },
  });
}

it('a dead-letter topic that does not exist: the partition waits and health() says on which record and why; once the topic exists the record is dead-lettered, the hold clears, the commit moves past it', async () => {
  const topic = unique('par-dlq-health');
  const dlq = `${topic}-dlq`;
  await firstValueFrom(client.createTopic$(topic, 1));
  const records = Array.from({ length: 10 }, (_, i) => ({ key: `order-${i}`, value: i === 4 ? 'poison' : JSON.stringify({ total: i }) }));
  await firstValueFrom(client.publishBatch$(topic, records, { partition: 0 }));
  const groupId = unique('g');
  const log = capture();
  const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId, topics: [topic], logger: log.logger, logLevel: 'info' });
  const producer = Producer.create({ bootstrapServers: [testBroker().address] });
  const events$ = new ReplaySubject<ProcessingEvent<ConsumerRecord>>();
  const processed$ = new ReplaySubject<bigint>();
  const startedAt = Date.now();
  const subscription = consumer.records$
    .pipe(
      processConcurrently(
        async (record: ConsumerRecord) => {
          const order = JSON.parse(record.value.toString()) as { total: number };
          processed$.next(record.offset);
          return order.total;
        },
        {
          retry: { maxAttempts: 2, initialDelayMs: 10 },
          deadLetter: { producer, topic: dlq, retry: { initialDelayMs: 50, maxDelayMs: 200, jitter: 0 } },
          onEvent: (event) => events$.next(event),
        },
      ),
    )
    .subscribe();
  try {
    // Every record but the poison one is processed; the poison one is held.
    expect((await firstValueFrom(processed$.pipe(take(9), toArray()))).sort((a, b) => Number(a - b))).toEqual([0n, 1n, 2n, 3n, 5n, 6n, 7n, 8n, 9n]);
    const heldHealth = await firstValueFrom(consumer.health$.pipe(filter((h) => h.held.length > 0), within(20_000, 'health() to list the held record')));
    expect(heldHealth.held).toEqual([
      {
        topic,
        partition: 0,
        offset: 4n,
        reason: `waiting on the dead-letter topic ${dlq}`,
        error: { class: 'ServerError', message: expect.stringMatching(/Topic not found: .*-dlq/) as unknown as string, code: 'SERVER' },
        since: expect.any(Number) as unknown as number,
      },
    ]);
    const since = heldHealth.held[0]!.since;
    expect(since).toBeGreaterThanOrEqual(startedAt);
    expect(since).toBeLessThanOrEqual(Date.now());
    expect(heldHealth.warning).toContain(`${topic}/0 at offset 4: waiting on the dead-letter topic ${dlq}: ServerError:`);
    expect(heldHealth.warningCounts.held).toBe(1);

    // It goes on failing: the record stays held (since the first failure), logged once, and the
    // group's committed offset stays at the poison record.
    await firstValueFrom(events$.pipe(filter((e) => e.type === 'deadLetterFailed' && e.failures === 3)));
    expect(consumer.health().held).toMatchObject([{ offset: 4n, since }]);
    await firstValueFrom(consumer.commit$(), { defaultValue: undefined });
    expect(await firstValueFrom(client.getOffset$(groupId, topic, 0))).toBe(4n);
    const heldWarnings = log.lines.filter((l) => l.level === 'warn' && l.fields['warning'] === 'held');
    expect(heldWarnings).toHaveLength(1);
    expect(heldWarnings[0]!.message).toContain(`waiting on the dead-letter topic ${dlq}: ServerError:`);
    expect(heldWarnings[0]!.message).toMatch(/Topic not found/);

    // The dead-letter topic comes: the record is dead-lettered and acknowledged, the hold clears.
    await firstValueFrom(client.createTopic$(dlq, 1));
    const lettered = await firstValueFrom(events$.pipe(filter((e) => e.type === 'deadLettered')));
    expect(lettered.record.offset).toBe(4n);
    const cleared = await firstValueFrom(consumer.health$.pipe(filter((h) => h.held.length === 0), within(20_000, 'the hold to clear')));
    expect(cleared.warning).toBeUndefined();
    expect(cleared.warningCounts.held).toBe(1);
    await firstValueFrom(consumer.commit$(), { defaultValue: undefined });
    expect(await firstValueFrom(client.getOffset$(groupId, topic, 0))).toBe(10n);

    // The dead letter is in the dead-letter topic's log.
    const letters = await firstValueFrom(client.consume$(dlq, { partition: 0, offset: 0n, maxMessages: 10 }));
    expect(letters).toHaveLength(1);
    expect(letters[0]!.key?.toString()).toBe('order-4');
    const letter = decodeDeadLetter(letters[0]!.value);
    expect(letter).toMatchObject({ topic, partition: 0, offset: 4n, attempts: 2 });
    expect(letter.key?.toString()).toBe('order-4');
    expect(letter.value.toString()).toBe('poison');
    expect(letter.error.class).toBe('SyntaxError');
  } finally {
    subscription.unsubscribe();
    await consumer.close();
    await producer.close();
  }
  expect(consumer.health()).toMatchObject({ state: 'closed', held: [], warning: undefined });
});
