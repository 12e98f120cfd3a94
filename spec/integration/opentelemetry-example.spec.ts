/**
 * examples/otel/instrument-rivven.ts with the OpenTelemetry SDK's in-memory exporters around a real
 * produce → consume → commit: the spans follow the messaging conventions and the duration
 * histograms get points.
 */
import { SpanKind } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, MetricReader, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { firstValueFrom, from, lastValueFrom, toArray, type Subscription } from 'rxjs';
import { instrumentRivven } from '../../examples/otel/instrument-rivven';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import type { ConsumerRecord } from '../../src/consumer/consumer-record';
import { Producer } from '../../src/producer/producer';
import { TransactionalProducer } from '../../src/producer/transactional-producer';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

/** A reader the test pulls from. */
class PullReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

it('spans send / receive / commit and the duration histograms, around a real produce → consume → commit', async () => {
  const address = testBroker().address;
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const reader = new PullReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const stop = instrumentRivven({ tracer: tracerProvider.getTracer('rivven-rx'), meter: meterProvider.getMeter('rivven-rx') });
  const topic = unique('otel');
  const groupId = `${topic}-group`;
  let sub: Subscription | undefined;
  const consumer = Consumer.create({ bootstrapServers: [address], groupId, assign: { [topic]: [0] }, enableAutoCommit: false });
  try {
    const admin = await firstValueFrom(Client.connect$(address));
    await firstValueFrom(admin.createTopic$(topic, 1));
    await admin.close();

    const producer = Producer.create({ bootstrapServers: [address], lingerMs: 20 });
    await lastValueFrom(producer.sendAll$(from([1, 2, 3].map((n) => ({ topic, partition: 0, value: `order ${n}` })))).pipe(toArray()));
    await producer.close();

    const records = await new Promise<ConsumerRecord[]>((resolve, reject) => {
      const got: ConsumerRecord[] = [];
      sub = consumer.records$.subscribe({ next: (r) => got.push(r) === 3 && resolve(got), error: reject });
    });
    for (const r of records) r.ack();
    await firstValueFrom(consumer.commit$());
    sub?.unsubscribe();
    await consumer.close();

    const transactional = await firstValueFrom(TransactionalProducer.create$({ bootstrapServers: [address], transactionalId: `${topic}-tx` }));
    await lastValueFrom(transactional.transaction$((t) => t.send$({ topic, partition: 0, value: 'in a transaction' })));
    await transactional.close();

    const finished = spans.getFinishedSpans();
    const sends = finished.filter((s) => s.name === `send ${topic}`);
    expect(sends.length).toBeGreaterThanOrEqual(1);
    expect(sends.every((s) => s.kind === SpanKind.PRODUCER)).toBe(true);
    expect(sends[0]!.attributes).toMatchObject({
      'messaging.system': 'rivven',
      'messaging.operation.type': 'send',
      'messaging.destination.name': topic,
      'messaging.destination.partition.id': '0',
      'messaging.rivven.partition': 0,
      'messaging.rivven.base_offset': '0',
    });
    // The three records of the Producer, and the one the transaction's commit wrote (the same batch path).
    expect(sends.reduce((n, s) => n + Number(s.attributes['messaging.batch.message_count']), 0)).toBe(4);

    const receives = finished.filter((s) => s.name === `receive ${topic}` && Number(s.attributes['messaging.batch.message_count']) > 0);
    expect(receives.length).toBeGreaterThanOrEqual(1);
    expect(receives[0]!.kind).toBe(SpanKind.CONSUMER);
    expect(receives[0]!.attributes).toMatchObject({
      'messaging.system': 'rivven',
      'messaging.operation.type': 'receive',
      'messaging.destination.name': topic,
      'messaging.consumer.group.name': groupId,
      'messaging.rivven.offset': '0',
    });
    expect(receives.reduce((n, s) => n + Number(s.attributes['messaging.batch.message_count']), 0)).toBe(3);

    const commits = finished.filter((s) => s.name === `commit ${groupId}`);
    expect(commits).toHaveLength(1);
    expect(commits[0]!.attributes).toMatchObject({ 'messaging.system': 'rivven', 'messaging.operation.type': 'settle', 'messaging.batch.message_count': 1 });

    const transactions = finished.filter((s) => s.name === `transaction ${topic}-tx`);
    expect(transactions).toHaveLength(1);
    expect(transactions[0]!.attributes).toMatchObject({ 'messaging.system': 'rivven', 'messaging.rivven.transaction.outcome': 'commit', 'messaging.rivven.transactional_id': `${topic}-tx` });

    const { resourceMetrics } = await reader.collect();
    const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const operation = metrics.find((m) => m.descriptor.name === 'messaging.client.operation.duration') as HistogramMetricData | undefined;
    expect(operation).toBeDefined();
    const operationTypes = new Set(operation!.dataPoints.map((p) => p.attributes['messaging.operation.type']));
    expect([...operationTypes].sort()).toEqual(['receive', 'send', 'settle']);
    // One point per attribute set: the Producer's batch and the transaction's commit differ in some.
    const sendPoints = operation!.dataPoints.filter((p) => p.attributes['messaging.operation.type'] === 'send');
    expect(sendPoints.reduce((n, p) => n + p.value.count, 0)).toBe(sends.length);
    expect(sendPoints.every((p) => p.attributes['messaging.destination.name'] === topic)).toBe(true);
    const request = metrics.find((m) => m.descriptor.name === 'rivven.client.request.duration') as HistogramMetricData | undefined;
    expect(request).toBeDefined();
    const requestTypes = new Set(request!.dataPoints.map((p) => p.attributes['rivven.request.type']));
    for (const type of ['Consume', 'CommitOffset', 'GetOffset']) expect(requestTypes).toContain(type);
    expect([...requestTypes].some((t) => /PublishBatch$/.test(String(t)))).toBe(true);
    expect(request!.dataPoints.every((p) => p.attributes['server.address'] === address && p.value.count > 0)).toBe(true);
    const sent = metrics.find((m) => m.descriptor.name === 'messaging.client.sent.messages');
    expect(sent?.dataPoints.find((p) => p.attributes['messaging.destination.name'] === topic)?.value).toBe(4); // the Producer's 3 and the transaction's 1
  } finally {
    stop();
    sub?.unsubscribe();
    await consumer.close();
    await meterProvider.shutdown();
    await tracerProvider.shutdown();
  }
});
