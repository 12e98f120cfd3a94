/**
 * Exactly-once consume-transform-produce: read `payments`, convert each amount to cents, write the
 * result to `payments-in-cents` — the outputs and the consumed offsets commit in one transaction,
 * so after a crash and restart every payment is converted exactly once. A transform that throws
 * aborts its transaction, rewinds the consumer, and `retry()` starts the chain over from the
 * committed offsets.
 *
 *   RIVVEN_BOOTSTRAP=127.0.0.1:9092 node .examples-build/examples/exactly-once.js
 */
import { defer, firstValueFrom, lastValueFrom, map, retry, take, takeWhile, tap, toArray } from 'rxjs';
import { Client, Consumer, TransactionAbortedError, TransactionalProducer, ConsumerPresets, transactional } from 'rivven-rx';

const address = process.env.RIVVEN_BOOTSTRAP ?? '127.0.0.1:9092';
const PAYMENTS = 300;

async function main(): Promise<void> {
  const admin = await firstValueFrom(Client.connect$({ bootstrapServers: address, clientId: 'exactly-once-example' }));
  const input = `payments-${Date.now()}`;
  const output = `${input}-in-cents`;
  await firstValueFrom(admin.createTopic$(input, 2));
  // One output partition keeps the example short; any number of output topics and partitions is covered (docs/exactly-once.md).
  await firstValueFrom(admin.createTopic$(output, 1));
  for (let p = 0; p < 2; p++) {
    const records = Array.from({ length: PAYMENTS / 2 }, (_, i) => ({ key: `payment-${p}-${i}`, value: JSON.stringify({ id: `${p}-${i}`, amount: (i * 1.25).toFixed(2) }) }));
    await firstValueFrom(admin.publishBatch$(input, records, { partition: p }));
  }

  // A transaction's outputs stay in the producer until it commits them, together with the inputs'
  // offsets, under a producer id of their own: a restarted instance resumes from the committed offsets.
  const producer = await firstValueFrom(TransactionalProducer.create$({ bootstrapServers: [address], transactionalId: `${input}-converter`, transactionTimeoutMs: 30_000 }));
  const consumer = Consumer.create({ bootstrapServers: [address], groupId: `${input}-converter`, assign: { [input]: [0, 1] }, enableAutoCommit: false });

  let failOnce = true;
  const committed = new Map<number, bigint>();
  const allCommitted = () => [0, 1].every((p) => committed.get(p) === BigInt(PAYMENTS / 2));
  await lastValueFrom(
    defer(() =>
      consumer.records$.pipe(
        map((record) => {
          const payment = JSON.parse(record.value.toString()) as { id: string; amount: string };
          if (payment.id === '1-100' && failOnce) {
            failOnce = false;
            throw new Error(`cannot convert payment ${payment.id} (a transient failure, for the demo)`);
          }
          return { topic: output, key: record.key, partition: 0, value: JSON.stringify({ id: payment.id, cents: Math.round(Number(payment.amount) * 100) }) };
        }),
        transactional(producer, { consumer, maxBatchRecords: 100, maxBatchMs: 100 }),
      ),
    ).pipe(
      tap({ error: (error: unknown) => error instanceof TransactionAbortedError && console.log(`aborted, consumer rewound: ${error.message}`) }),
      // Re-subscribes the whole chain: it resumes from the offsets committed with the last transaction.
      retry({ count: 3 }),
      tap((txn) => {
        for (const o of txn.offsets) committed.set(o.partition, o.offset);
        console.log(`committed ${txn.results.length} conversions with inputs up to ${txn.offsets.map((o) => `${o.partition}@${o.offset}`).join(', ')}`);
      }),
      takeWhile(() => !allCommitted()),
    ),
    { defaultValue: undefined },
  );
  console.log(`all ${PAYMENTS} payments committed`);

  // A downstream reader with read_committed sees each conversion exactly once.
  const reader = Consumer.create({ bootstrapServers: [address], groupId: `${output}-reader`, assign: { [output]: [0] }, ...ConsumerPresets.readCommitted });
  const conversions = await lastValueFrom(reader.records$.pipe(take(PAYMENTS), toArray()));
  const ids = new Set(conversions.map((r) => (JSON.parse(r.value.toString()) as { id: string }).id));
  console.log(`read_committed reader: ${conversions.length} conversions of ${ids.size} distinct payments`);
  if (ids.size !== PAYMENTS) throw new Error('not exactly once');

  await Promise.all([reader.close(), consumer.close(), producer.close()]);
  await admin.close();
  console.log('done');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
