/**
 * A consumer carries on after its connections drop (issue 17 item 1): a TCP relay (the fault
 * proxy) between the consumer and the real broker destroys every socket once while records keep
 * arriving. Before the fix the coordinator connection was kept after it failed, so a consumer
 * piped through commitOffsets() + retry() met "connection … is failed; open a new one" on every
 * re-subscription and never committed again.
 */
import { firstValueFrom, retry, type Subscription } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import { commitOffsets } from '../../src/operators/at-least-once';
import { FaultProxy } from '../support/fault-proxy';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';
import { until } from '../support/wait';

let client: Client;

beforeAll(async () => {
  client = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'consumer-reconnect-spec' }));
});
afterAll(async () => {
  await client.close();
});

/** Publish small batches to every partition until stopped (records keep arriving). */
function keepProducing(topic: string, partitions: number): { stop(): Promise<void>; produced(): number } {
  let stopped = false;
  let produced = 0;
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      await Promise.all(
        Array.from({ length: partitions }, (_, p) =>
          firstValueFrom(client.publishBatch$(topic, Array.from({ length: 10 }, (_, k) => ({ value: `v${i}-${k}` })), { partition: p })),
        ),
      );
      produced += 10 * partitions;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
    produced: () => produced,
  };
}

async function dropOnceAndWatchCommits(config: Omit<Parameters<typeof Consumer.create>[0], 'bootstrapServers'>, topic: string, partitions: number): Promise<void> {
  const proxy = await FaultProxy.start(testBroker().address);
  const producer = keepProducing(topic, partitions);
  const consumer = Consumer.create({ ...config, bootstrapServers: [proxy.address] });
  let committed = 0;
  let errors = 0;
  let subscription: Subscription | undefined;
  try {
    subscription = consumer.records$
      .pipe(
        commitOffsets({ maxBatchSize: 100, maxIntervalMs: 500 }),
        retry({
          delay: () => {
            errors++;
            return new Promise((resolve) => setTimeout(resolve, 1_000));
          },
        }),
      )
      .subscribe((batch) => (committed += batch.records.length));
    await until(() => committed >= 200, 20_000, 'first commits');
    // Destroy every socket once (RST), then forward again.
    await proxy.reset();
    await proxy.restore();
    const atDrop = committed;
    const started = Date.now();
    await until(() => committed >= atDrop + 300, 20_000, `commits after the drop (committed ${committed}, at the drop ${atDrop}, errors ${errors})`);
    console.log(`commits resumed ${Date.now() - started} ms after the drop (${errors} re-subscriptions)`);
    expect(committed).toBeGreaterThanOrEqual(atDrop + 300);
  } finally {
    subscription?.unsubscribe();
    await producer.stop();
    await consumer.close();
    await proxy.close();
  }
}

describe('Consumer reconnects after a dropped connection', () => {
  it('assign + commitOffsets + retry: commits resume after the relay drops every socket once', async () => {
    const topic = unique('reconnect-assign');
    await firstValueFrom(client.createTopic$(topic, 1));
    await dropOnceAndWatchCommits({ groupId: unique('g'), assign: { [topic]: [0] }, enableAutoCommit: false }, topic, 1);
  });

  it('assign + commitOffsets + retry: after the stream errors (requests time out), every re-subscription gets fresh connections', async () => {
    const topic = unique('reconnect-resubscribe');
    await firstValueFrom(client.createTopic$(topic, 1));
    const proxy = await FaultProxy.start(testBroker().address);
    const producer = keepProducing(topic, 1);
    const consumer = Consumer.create({
      bootstrapServers: [proxy.address],
      groupId: unique('g'),
      assign: { [topic]: [0] },
      enableAutoCommit: false,
      requestTimeoutMs: 500,
      connectionTimeoutMs: 500,
      retry: { maxAttempts: 2 },
    });
    let committed = 0;
    let errors = 0;
    const subscription = consumer.records$
      .pipe(
        commitOffsets({ maxBatchSize: 100, maxIntervalMs: 500 }),
        retry({
          delay: () => {
            errors++;
            return new Promise((resolve) => setTimeout(resolve, 1_000));
          },
        }),
      )
      .subscribe((batch) => (committed += batch.records.length));
    try {
      await until(() => committed >= 200, 20_000, 'first commits');
      // Nothing gets through for a while: requests time out and the stream errors (retry re-subscribes).
      await proxy.blackhole();
      await until(() => errors >= 1, 20_000, 'the stream to error');
      await proxy.restore();
      const atRestore = committed;
      await until(() => committed >= atRestore + 300, 20_000, `commits after re-subscribing (committed ${committed}, errors ${errors})`);
      expect(errors).toBeGreaterThanOrEqual(1);
    } finally {
      subscription.unsubscribe();
      await producer.stop();
      await consumer.close();
      await proxy.close();
    }
  });

  it('topics + commitOffsets + retry: commits resume after the relay drops every socket once', async () => {
    const topic = unique('reconnect-topics');
    await firstValueFrom(client.createTopic$(topic, 2));
    await dropOnceAndWatchCommits(
      { groupId: unique('g'), topics: [topic], enableAutoCommit: false, heartbeatIntervalMs: 300, sessionTimeoutMs: 3_000 },
      topic,
      2,
    );
  });
});
