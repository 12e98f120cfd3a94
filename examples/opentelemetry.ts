/**
 * OpenTelemetry: rivven-rx's diagnostics channels become spans (send / receive / settle) and
 * metrics through `instrumentRivven()` (examples/otel/instrument-rivven.ts), here with the SDK's
 * in-memory exporter so the program can print what it recorded. In a service, register your usual
 * SDK and exporters instead.
 *
 *   RIVVEN_BOOTSTRAP=127.0.0.1:9092 node .examples-build/examples/opentelemetry.js
 */
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { firstValueFrom, from, lastValueFrom, take, toArray } from 'rxjs';
import { Client, Consumer, Producer } from 'rivven-rx';
import { instrumentRivven } from './otel/instrument-rivven.js';

/** A metric reader the program pulls from on demand (an exporter would push periodically). */
class OnDemandReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

async function main(): Promise<void> {
  const address = process.env.RIVVEN_BOOTSTRAP ?? '127.0.0.1:9092';
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const reader = new OnDemandReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const stop = instrumentRivven({ tracer: tracerProvider.getTracer('rivven-rx'), meter: meterProvider.getMeter('rivven-rx') });

  const topic = `otel-demo-${Date.now()}`;
  const admin = await firstValueFrom(Client.connect$({ bootstrapServers: address }));
  await firstValueFrom(admin.createTopic$(topic, 1));
  await admin.close();

  const producer = Producer.create({ bootstrapServers: [address] });
  await lastValueFrom(producer.sendAll$(from([1, 2, 3].map((n) => ({ topic, partition: 0, value: `order ${n}`, correlation: n })))).pipe(toArray()));
  await producer.close();

  const consumer = Consumer.create({ bootstrapServers: [address], groupId: `${topic}-group`, assign: { [topic]: [0] } });
  const records = await lastValueFrom(consumer.records$.pipe(take(3), toArray()));
  for (const r of records) r.ack();
  await firstValueFrom(consumer.commit$());
  await consumer.close();

  stop();
  for (const span of spans.getFinishedSpans()) {
    console.log(`span ${span.name} (${span.attributes['messaging.operation.type']}) ${span.attributes['messaging.batch.message_count'] ?? ''}`.trimEnd());
  }
  const { resourceMetrics } = await reader.collect();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) console.log(`metric ${metric.descriptor.name}: ${metric.dataPoints.length} series`);
  }
  await meterProvider.shutdown();
  await tracerProvider.shutdown();
  console.log('done');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
