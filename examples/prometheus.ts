/**
 * Prometheus: rivven-rx health on `/metrics` with prom-client (examples/prometheus/rivven-metrics.ts),
 * served by node:http; the program scrapes itself once and prints the rivven lines.
 *
 *   RIVVEN_BOOTSTRAP=127.0.0.1:9092 node .examples-build/examples/prometheus.js
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { firstValueFrom, from, lastValueFrom, toArray, type Subscription } from 'rxjs';
import { Client, Consumer, Producer } from 'rivven-rx';
import { registerRivvenMetrics } from './prometheus/rivven-metrics.js';

async function main(): Promise<void> {
  const address = process.env.RIVVEN_BOOTSTRAP ?? '127.0.0.1:9092';
  const topic = `prometheus-demo-${Date.now()}`;
  const admin = await firstValueFrom(Client.connect$({ bootstrapServers: address }));
  await firstValueFrom(admin.createTopic$(topic, 2));
  await admin.close();

  const producer = Producer.create({ bootstrapServers: [address] });
  const consumer = Consumer.create({ bootstrapServers: [address], groupId: `${topic}-readers`, topics: [topic] });
  const registry = new Registry();
  registerRivvenMetrics(registry, { producers: { orders: producer }, consumers: { billing: consumer } });

  const server = createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (body) => response.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (error: unknown) => response.writeHead(500).end(String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  await lastValueFrom(producer.sendAll$(from([1, 2, 3, 4].map((n) => ({ topic, key: `k${n}`, value: `v${n}`, correlation: n })))).pipe(toArray()));
  // Scrape while the consumer is still reading (its partitions assigned).
  let received = 0;
  let reading: Subscription | undefined;
  const allReceived = new Promise<void>((resolve) => {
    reading = consumer.records$.subscribe((record) => {
      record.ack();
      if (++received === 4) resolve();
    });
  });
  await allReceived;

  const scraped = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  for (const line of scraped.split('\n')) if (line.startsWith('rivven_') && !line.endsWith(' 0')) console.log(line);
  reading?.unsubscribe();

  await consumer.close();
  await producer.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  console.log('done');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
