/**
 * What a newcomer hit (issue 21 §5 and §6), against the real broker: a consumer waiting for a topic
 * that does not exist yet starts within seconds of its creation; createTopic$ with ifNotExists;
 * a consumer pointed at a port where nothing listens is 'connecting', warns once, and is silent
 * after close().
 */
import { filter, firstValueFrom, timeout } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import type { ConsumerRecord } from '../../src/consumer/consumer-record';
import { ConfigError, ServerError } from '../../src/errors';
import type { LogFields, Logger } from '../../src/observability/log';
import { freePort } from '../support/broker-process';
import { rejection } from '../support/rejection';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';
import { until } from '../support/wait';

let admin: Client;
beforeAll(async () => {
  admin = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'consumer-day-two' }));
});
afterAll(async () => {
  await admin.close();
});

function captureLogger(): { logger: Logger; lines: { level: string; fields: LogFields; message: string }[] } {
  const lines: { level: string; fields: LogFields; message: string }[] = [];
  const at = (level: string) => (fields: LogFields, message: string) => lines.push({ level, fields, message });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

it('a subscribed topic that does not exist is looked for again within seconds: created while the consumer waits, its record arrives soon after', async () => {
  const topic = unique('late');
  // The default metadataRefreshIntervalMs (5 minutes): the consumer must not wait for it.
  const consumer = Consumer.create({ bootstrapServers: [testBroker().address], groupId: unique('g'), topics: [topic], logger: null });
  const seen: ConsumerRecord[] = [];
  const subscription = consumer.records$.subscribe((record) => {
    seen.push(record);
    record.ack();
  });
  try {
    await firstValueFrom(consumer.health$.pipe(filter((h) => h.warning?.includes('none of the subscribed topics exists') ?? false), timeout(15_000)));
    const created = Date.now();
    await firstValueFrom(admin.createTopic$(topic, 1));
    await firstValueFrom(admin.publish$(topic, { value: 'first', partition: 0 }));
    await until(() => seen.length === 1, 15_000, 'the record of the created topic');
    // Looked for again after 1 s, 2 s, 4 s, then every 5 s; then a rebalance (the first generation waits 500 ms).
    expect(Date.now() - created).toBeLessThan(10_000);
    expect(seen[0]!.value.toString()).toBe('first');
    expect(consumer.health().warning).toBeUndefined();
  } finally {
    subscription.unsubscribe();
    await consumer.close();
  }
}, 60_000);

describe('createTopic$ with ifNotExists', () => {
  it('emits the existing topic instead of failing with TOPIC_ALREADY_EXISTS; a different partition count is a ConfigError naming both', async () => {
    const topic = unique('ensure');
    expect(await firstValueFrom(admin.createTopic$(topic, 3, { ifNotExists: true }))).toEqual({ name: topic, partitions: 3 });
    // Again: no error, the existing topic.
    expect(await firstValueFrom(admin.createTopic$(topic, 3, { ifNotExists: true }))).toEqual({ name: topic, partitions: 3 });
    // Without a count: any count is accepted.
    expect(await firstValueFrom(admin.createTopic$(topic, undefined, { ifNotExists: true }))).toEqual({ name: topic, partitions: 3 });
    // Without ifNotExists: the broker's error, as before.
    const exists = await rejection(firstValueFrom(admin.createTopic$(topic, 3)));
    expect(exists).toBeInstanceOf(ServerError);
    expect((exists as ServerError).serverCode).toBe('TOPIC_ALREADY_EXISTS');
    // Another count: refused, saying both counts and what to do.
    const other = await rejection(firstValueFrom(admin.createTopic$(topic, 6, { ifNotExists: true })));
    expect(other).toBeInstanceOf(ConfigError);
    expect((other as ConfigError).option).toBe('partitions');
    expect((other as Error).message).toMatch(/exists with 3 partitions, not 6/);
    expect((other as Error).message).toContain('createPartitions$');
  });
});

it('nothing listens at the port: "connecting" (never "rebalancing"), one warning, nothing logged after close()', async () => {
  const dead = `127.0.0.1:${await freePort()}`;
  const log = captureLogger();
  const consumer = Consumer.create({ bootstrapServers: [dead], groupId: unique('g'), topics: ['t'], logger: log.logger, retry: { maxAttempts: 1_000, maxDelayMs: 200 } });
  const states = new Set<string>();
  consumer.health$.subscribe((h) => states.add(h.state));
  const subscription = consumer.records$.subscribe({ error: () => undefined });
  try {
    await until(() => consumer.health().lastError !== undefined && consumer.health().warning !== undefined, 10_000, 'the unreachable warning');
    // Several rounds of retries.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(consumer.health()).toMatchObject({ state: 'connecting', warningCounts: { unreachable: 1 } });
    expect(states.has('rebalancing')).toBe(false);
    expect(log.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toHaveLength(1);
  } finally {
    subscription.unsubscribe();
    await consumer.close();
  }
  const logged = log.lines.length;
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  expect(log.lines).toHaveLength(logged);
  expect(consumer.health()).toMatchObject({ state: 'closed', warning: undefined });
}, 30_000);
