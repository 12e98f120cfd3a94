/**
 * Process one partition's records concurrently, in order per key, committing in order: each order
 * calls a (simulated) pricing API that takes 0–5 ms. `concatMap` would price ~400 orders a second;
 * `processConcurrently()` with 100 at a time keeps each customer's orders in sequence and prices
 * the others meanwhile. One order is malformed: it is retried, then written to a dead-letter topic
 * with where it came from and why it failed, and the partition goes on.
 *
 *   RIVVEN_BOOTSTRAP=127.0.0.1:9092 node .examples-build/examples/parallel.js
 */
import { firstValueFrom } from 'rxjs';
import { Client, Consumer, Producer, decodeDeadLetter, processConcurrently, type ConsumerRecord } from 'rivven-rx';

const address = process.env.RIVVEN_BOOTSTRAP ?? '127.0.0.1:9092';
const ORDERS = 2_000;
const CUSTOMERS = 200;

/** The "pricing API": 0–5 ms per call. */
async function price(order: { customer: string; items: number }): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
  return order.items * 9.99;
}

async function main(): Promise<void> {
  const admin = await firstValueFrom(Client.connect$({ bootstrapServers: address, clientId: 'parallel-example' }));
  const topic = `orders-${Date.now()}`;
  const deadLetters = `${topic}-dead-letters`;
  await firstValueFrom(admin.createTopic$(topic, 1));
  await firstValueFrom(admin.createTopic$(deadLetters, 1));
  const orders = Array.from({ length: ORDERS }, (_, i) => ({
    key: `customer-${i % CUSTOMERS}`,
    value: i === 1_234 ? 'not json' : JSON.stringify({ customer: `customer-${i % CUSTOMERS}`, seq: Math.floor(i / CUSTOMERS), items: 1 + (i % 7) }),
  }));
  for (let i = 0; i < ORDERS; i += 500) await firstValueFrom(admin.publishBatch$(topic, orders.slice(i, i + 500), { partition: 0 }));

  const consumer = Consumer.create({ bootstrapServers: [address], groupId: `${topic}-pricing`, topics: [topic], maxPollRecords: 500, autoCommitIntervalMs: 200 });
  const producer = Producer.create({ bootstrapServers: [address] });
  const lastSeq = new Map<string, number>();
  let priced = 0;
  let outOfOrder = 0;
  let deadLettered = 0;
  const started = Date.now();
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const subscription = consumer.records$
    .pipe(
      processConcurrently(
        async (record: ConsumerRecord) => {
          const order = JSON.parse(record.value.toString()) as { customer: string; seq: number; items: number };
          // Each customer's orders arrive here one after another, in offset order.
          if ((lastSeq.get(order.customer) ?? -1) >= order.seq) outOfOrder++;
          lastSeq.set(order.customer, order.seq);
          return price(order);
        },
        {
          ordering: 'key',
          concurrency: 100,
          retry: { maxAttempts: 3, initialDelayMs: 50 },
          deadLetter: { producer, topic: deadLetters },
          onEvent: (event) => {
            if (event.type === 'retrying') console.log(`offset ${event.record.offset} failed (${String(event.error)}), attempt ${event.attempt} of 3; again in ${event.delayMs} ms`);
            if (event.type === 'deadLetterFailed') console.log(`the dead-letter topic is unreachable (${String(event.error)}): the partition waits`);
            if (event.type === 'deadLettered' && priced + ++deadLettered === ORDERS) done();
          },
        },
      ),
    )
    .subscribe(() => {
      if (++priced + deadLettered === ORDERS) done();
    });
  await finished;
  const ms = Date.now() - started;
  subscription.unsubscribe();
  await consumer.close(); // commits up to the last order finished (all of them)
  console.log(`priced ${priced} orders in ${ms} ms (${Math.round((priced * 1000) / ms)}/s), ${outOfOrder} out of order per customer, ${deadLettered} dead-lettered`);
  console.log(`committed offset: ${String(await firstValueFrom(admin.getOffset$(`${topic}-pricing`, topic, 0)))}`);

  const [letter] = await firstValueFrom(admin.consume$(deadLetters, { partition: 0, offset: 0n, maxMessages: 10 }));
  const dead = decodeDeadLetter(letter!.value);
  console.log(`dead letter: ${dead.topic}/${dead.partition}@${dead.offset} key=${dead.key?.toString()} value='${dead.value.toString()}' ${dead.error.class}: ${dead.error.message} after ${dead.attempts} attempts`);

  await producer.close();
  await admin.close();
  console.log('done');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
