/**
 * A consumer group of three members sharing a 6-partition topic: watch the rebalances as members
 * join and leave, acknowledge records, and commit in batches with the `commitOffsets()` operator.
 *
 *   RIVVEN_BOOTSTRAP=127.0.0.1:9092 node .examples-build/examples/consumer-group.js
 */
import { filter, firstValueFrom } from 'rxjs';
import { Client, Consumer, commitOffsets } from 'rivven-rx';

const address = process.env.RIVVEN_BOOTSTRAP ?? '127.0.0.1:9092';

async function main(): Promise<void> {
  const admin = await firstValueFrom(Client.connect$({ bootstrapServers: address, clientId: 'consumer-group-example' }));
  const topic = `orders-${Date.now()}`;
  const groupId = `${topic}-billing`;
  await firstValueFrom(admin.createTopic$(topic, 6));
  for (let p = 0; p < 6; p++) {
    const records = Array.from({ length: 100 }, (_, i) => ({ key: `order-${p}-${i}`, value: JSON.stringify({ order: i, partition: p }) }));
    await firstValueFrom(admin.publishBatch$(topic, records, { partition: p }));
  }

  let processed = 0;
  const members = ['alice', 'bob', 'carol'].map((name) => {
    const consumer = Consumer.create({
      bootstrapServers: [address],
      groupId,
      topics: [topic],
      clientId: name,
      heartbeatIntervalMs: 500,
      sessionTimeoutMs: 3_000,
    });
    consumer.rebalances$.subscribe((event) => {
      const partitions = event.partitions.map((tp) => tp.partition).join(',') || '-';
      const why = event.type === 'revoked' ? `, ${event.reason}` : '';
      console.log(`${name}: ${event.type} [${partitions}] (generation ${event.generationId}${why})`);
    });
    const subscription = consumer.records$
      .pipe(commitOffsets({ maxBatchSize: 50, maxIntervalMs: 1_000 }))
      .subscribe((batch) => (processed += batch.records.length));
    return { name, consumer, subscription };
  });

  // Wait until the three share the six partitions.
  const owned = () => members.map((m) => m.consumer);
  await Promise.all(owned().map((c) => firstValueFrom(c.assignments$.pipe(filter((a) => a.length === 2)))));
  console.log('three members, two partitions each');

  // carol leaves: close() commits what she acknowledged and leaves the group, the others rebalance at once.
  const carol = members[2]!;
  carol.subscription.unsubscribe();
  await carol.consumer.close();
  await Promise.all(members.slice(0, 2).map((m) => firstValueFrom(m.consumer.assignments$.pipe(filter((a) => a.length === 3)))));
  console.log('carol left: alice and bob own three partitions each');

  for (const m of members.slice(0, 2)) {
    m.subscription.unsubscribe();
    await m.consumer.close();
  }
  const offsets = await Promise.all(Array.from({ length: 6 }, (_, p) => firstValueFrom(admin.getOffset$(groupId, topic, p))));
  console.log(`committed offsets: ${offsets.map((o) => String(o ?? '-')).join(', ')}; batches committed covered ${processed} records`);
  await admin.close();
  console.log('done');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
