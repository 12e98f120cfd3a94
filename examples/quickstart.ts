/**
 * Quick start: connect, create a topic, publish, consume, and watch the connection's health.
 *
 *   RIVVEN_BOOTSTRAP=127.0.0.1:9092 node .examples-build/examples/quickstart.js
 *   (or `npm run example -- quickstart`, which starts a local broker for you)
 */
import { firstValueFrom, lastValueFrom, from, concatMap, toArray, take } from 'rxjs';
import { Client } from 'rivven-rx';

const address = process.env.RIVVEN_BOOTSTRAP ?? '127.0.0.1:9092';

async function main(): Promise<void> {
  const client = await firstValueFrom(Client.connect$({ bootstrapServers: address, clientId: 'quickstart' }));
  const health = client.health$.pipe(take(1)).subscribe((h) => console.log(`connected to ${h.address} (${h.state})`));
  health.unsubscribe();

  const topic = `quickstart-${Date.now()}`;
  const created = await firstValueFrom(client.createTopic$(topic, 3));
  console.log(`created topic ${created.name} with ${created.partitions} partitions`);

  // Publish three records, one after another, to partition 0.
  const published = await lastValueFrom(
    from(['hello', 'reactive', 'rivven']).pipe(
      concatMap((value, i) => client.publish$(topic, { key: `key-${i}`, value, partition: 0 })),
      toArray(),
    ),
  );
  for (const meta of published) console.log(`published to ${meta.topic}/${meta.partition} at offset ${meta.offset}`);

  const records = await firstValueFrom(client.consume$(topic, { partition: 0, offset: 0n, maxMessages: 10 }));
  for (const record of records) {
    console.log(`consumed offset ${record.offset}: ${record.key?.toString()} = ${record.value.toString()}`);
  }

  const h = client.health();
  console.log(
    `health: ${h.requestsSent} requests, ${h.requestsSucceeded} ok, ${h.requestsFailed} failed, ` +
      `p50 ${h.latencyP50Ms?.toFixed(2)} ms, p99 ${h.latencyP99Ms?.toFixed(2)} ms, ${h.bytesOut} B out / ${h.bytesIn} B in`,
  );

  await firstValueFrom(client.deleteTopic$(topic), { defaultValue: undefined });
  await client.close();
  console.log('done');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
