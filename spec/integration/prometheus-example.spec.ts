/**
 * examples/prometheus/rivven-metrics.ts against real components: a scrape over HTTP shows the
 * producer's acknowledged records and the consumer's partitions and state, and follows them.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { filter, firstValueFrom, from, lastValueFrom, toArray } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import { Producer } from '../../src/producer/producer';
import { registerRivvenMetrics } from '../../examples/prometheus/rivven-metrics';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

let server: Server;
let url: string;
const registry = new Registry();

beforeAll(async () => {
  server = createServer((_request, response) => {
    void registry.metrics().then((body) => response.writeHead(200, { 'content-type': registry.contentType }).end(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function sample(body: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of body.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

it('a scrape over HTTP shows producer and consumer health, and follows it', async () => {
  const address = testBroker().address;
  const topic = unique('prom');
  const admin = await firstValueFrom(Client.connect$(address));
  await firstValueFrom(admin.createTopic$(topic, 2));
  await admin.close();
  const producer = Producer.create({ bootstrapServers: [address] });
  const consumer = Consumer.create({ bootstrapServers: [address], groupId: `${topic}-g`, topics: [topic], lagIntervalMs: 100 });
  registerRivvenMetrics(registry, { producers: { p: producer }, consumers: { c: consumer } });
  try {
    const before = await (await fetch(url)).text();
    expect(sample(before, 'rivven_consumer_state', { consumer: 'c', state: 'idle' })).toBe(1);

    await lastValueFrom(producer.sendAll$(from([1, 2, 3].map((n) => ({ topic, key: `k${n}`, value: `v${n}`, correlation: n })))).pipe(toArray()));
    let received = 0;
    let afterReading = (): void => undefined;
    const all = new Promise<void>((resolve) => {
      const reading = consumer.records$.subscribe((record) => {
        record.ack();
        if (++received === 3) resolve();
      });
      afterReading = () => reading.unsubscribe();
    });
    await all;
    const during = await (await fetch(url)).text();
    expect(sample(during, 'rivven_producer_records_acked_total', { producer: 'p' })).toBe(3);
    expect(sample(during, 'rivven_consumer_assigned_partitions', { consumer: 'c' })).toBe(2);
    expect(sample(during, 'rivven_consumer_state', { consumer: 'c', state: 'stable' })).toBe(1);
    // Lag: read every lagIntervalMs; all 3 records were read, so it drops to 0.
    await firstValueFrom(consumer.lag$.pipe(filter((lags) => lags.length === 2 && lags.every((l) => l.lag === 0n))));
    await firstValueFrom(consumer.health$.pipe(filter((h) => h.lag === 0n)));
    const lagged = await (await fetch(url)).text();
    expect(sample(lagged, 'rivven_consumer_lag', { consumer: 'c' })).toBe(0);
    expect(sample(lagged, 'rivven_consumer_partition_lag', { consumer: 'c', topic, partition: '0' })).toBe(0);
    expect(sample(lagged, 'rivven_consumer_partition_lag', { consumer: 'c', topic, partition: '1' })).toBe(0);

    await lastValueFrom(producer.sendAll$(from([4, 5].map((n) => ({ topic, key: `k${n}`, value: `v${n}`, correlation: n })))).pipe(toArray()));
    const after = await (await fetch(url)).text();
    expect(sample(after, 'rivven_producer_records_acked_total', { producer: 'p' })).toBe(5);
    afterReading();
  } finally {
    await consumer.close();
    await producer.close();
  }
});
