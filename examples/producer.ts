/**
 * Producer: stream records through `produceTo`, watch live stats on `health$`.
 *
 *   RIVVEN_BOOTSTRAP=127.0.0.1:9092 node .examples-build/examples/producer.js
 */
import { firstValueFrom, lastValueFrom, range, map, count } from 'rxjs';
import { Client, Producer, ProducerPresets, produceTo } from 'rivven-rx';

const address = process.env.RIVVEN_BOOTSTRAP ?? '127.0.0.1:9092';

async function main(): Promise<void> {
  const topic = `producer-example-${Date.now()}`;
  const admin = await firstValueFrom(Client.connect$({ bootstrapServers: address }));
  await firstValueFrom(admin.createTopic$(topic, 3));

  const producer = Producer.create({ ...ProducerPresets.highThroughput, bootstrapServers: [address], clientId: 'producer-example' });
  const stats = producer.health$.subscribe((h) =>
    console.log(
      `sent ${h.recordsSent} acked ${h.recordsAcked} failed ${h.recordsFailed} | ` +
        `batches ${h.batchesSent} (avg ${h.averageBatchSize.toFixed(1)} records) | pending ${h.pendingBytes} B | ` +
        `compression ${h.compressionRatio.toFixed(2)}`,
    ),
  );

  const acknowledged = await lastValueFrom(
    range(0, 1_000).pipe(
      map((i) => ({ topic, key: `customer-${i % 20}`, value: JSON.stringify({ order: i, items: ['widget', 'gadget'], note: 'x'.repeat(80) }), correlation: i })),
      produceTo<number>(producer),
      count(),
    ),
  );
  console.log(`${acknowledged} records acknowledged`);

  await producer.close();
  stats.unsubscribe();
  await firstValueFrom(admin.deleteTopic$(topic), { defaultValue: undefined });
  await admin.close();
  console.log('done');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
