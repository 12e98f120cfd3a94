/**
 * The component channels — rivven-rx:produce, :fetch, :commit, :transaction (TracingChannels) and
 * rivven-rx:rebalance — fire with their documented shapes against the real broker.
 */
import diagnostics from 'node:diagnostics_channel';
import { concat, firstValueFrom, lastValueFrom, throwError, type Subscription } from 'rxjs';
import type { ConsumerRecord } from '../../src/consumer/consumer-record';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import {
  CHANNEL_NAMES,
  type CommitTraceMessage,
  type FetchTraceMessage,
  type ProduceTraceMessage,
  type RebalanceEventMessage,
  type TransactionTraceMessage,
} from '../../src/observability/channels';
import { Producer } from '../../src/producer/producer';
import { TransactionalProducer } from '../../src/producer/transactional-producer';
import { watchFetches } from '../support/fetch-watch';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';


interface Seen<M> {
  event: string;
  message: M;
}

/** Every event of a tracing channel, with a copy of the message as it was at that event. */
function listen<M extends object>(name: string): { seen: Seen<M>[]; ended: () => M[]; stop: () => void } {
  const seen: Seen<M>[] = [];
  const at = (event: string) => (message: unknown) => seen.push({ event, message: { ...(message as M) } });
  const handlers = { start: at('start'), end: at('end'), asyncStart: at('asyncStart'), asyncEnd: at('asyncEnd'), error: at('error') };
  const channel = diagnostics.tracingChannel(name);
  channel.subscribe(handlers);
  return {
    seen,
    ended: () => seen.filter((s) => s.event === 'asyncEnd').map((s) => s.message),
    stop: () => channel.unsubscribe(handlers),
  };
}

/** Subscribe (the session stays up until `sub` is unsubscribed) and wait for `n` records. */
function consume(consumer: Consumer, n: number): Promise<{ records: ConsumerRecord[]; sub: Subscription }> {
  return new Promise((resolve, reject) => {
    const records: ConsumerRecord[] = [];
    const sub: Subscription = consumer.records$.subscribe({
      next: (r) => {
        records.push(r);
        if (records.length === n) resolve({ records, sub });
      },
      error: reject,
    });
  });
}

let admin: Client;
beforeAll(async () => {
  admin = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'diagnostics-components' }));
});
afterAll(async () => {
  await admin.close();
});

describe('component channels (real broker)', () => {
  it('produce, fetch, commit and rebalance carry topic, partition, counts, offsets and the group', async () => {
    const topic = unique('traced-components');
    const groupId = unique('g');
    await firstValueFrom(admin.createTopic$(topic, 2));
    const produce = listen<ProduceTraceMessage>(CHANNEL_NAMES.produce);
    const fetch = listen<FetchTraceMessage>(CHANNEL_NAMES.fetch);
    const commit = listen<CommitTraceMessage>(CHANNEL_NAMES.commit);
    const rebalances: RebalanceEventMessage[] = [];
    const onRebalance = (m: unknown) => rebalances.push(m as RebalanceEventMessage);
    diagnostics.subscribe(CHANNEL_NAMES.rebalance, onRebalance);
    const producer = Producer.create({ bootstrapServers: [testBroker().address], lingerMs: 20 });
    const consumer = Consumer.create({
      bootstrapServers: [testBroker().address],
      groupId,
      topics: [topic],
      enableAutoCommit: false,
      heartbeatIntervalMs: 500,
      sessionTimeoutMs: 6_000,
    });
    try {
      // Three records into partition 0 (one batch, lingerMs), two into partition 1.
      await Promise.all([
        ...['a', 'b', 'c'].map((v) => firstValueFrom(producer.send$({ topic, partition: 0, value: v }))),
        ...['d', 'e'].map((v) => firstValueFrom(producer.send$({ topic, partition: 1, value: v }))),
      ]);
      const batches = produce.ended();
      expect(batches.reduce((n, b) => n + b.recordCount, 0)).toBe(5);
      const first = batches.find((b) => b.partition === 0)!;
      expect(first).toMatchObject({ topic, partition: 0, broker: testBroker().address, baseOffset: 0n });
      expect(first.recordCount).toBeGreaterThanOrEqual(1);
      expect(first.bytes).toBe(first.recordCount); // one-byte values, no keys
      expect(first.error).toBeUndefined();
      expect(produce.seen.filter((s) => s.message.partition === 0 && s.message.baseOffset === 0n).map((s) => s.event)).toEqual(['asyncStart', 'asyncEnd']);

      const { records, sub } = await consume(consumer, 5);
      for (const r of records) r.ack();
      const committed = await firstValueFrom(consumer.commit$());
      expect(committed.offsets).toHaveLength(2);
      const generation = consumer.generationId; // -1 until the consumer has joined
      sub.unsubscribe();
      await consumer.close();

      const fetches = fetch.ended().filter((f) => (f.recordCount ?? 0) > 0);
      expect(fetches.reduce((n, f) => n + f.recordCount!, 0)).toBe(5);
      expect(fetches.find((f) => f.partition === 0)).toMatchObject({ topic, partition: 0, offset: 0n, groupId, recordCount: 3 });
      expect(fetches[0]!.maxMessages).toBeGreaterThan(0);

      const commits = commit.ended();
      expect(commits.length).toBeGreaterThanOrEqual(1);
      expect(commits[0]).toMatchObject({ groupId });
      expect([...commits[0]!.offsets].sort((a, b) => a.partition - b.partition)).toEqual([
        { topic, partition: 0, offset: 3n },
        { topic, partition: 1, offset: 2n },
      ]);
      expect(commits[0]!.error).toBeUndefined();

      const assigned = rebalances.find((r) => r.event === 'assigned')!;
      expect(assigned).toMatchObject({ event: 'assigned', groupId });
      expect(assigned.memberId).not.toBe('');
      expect(generation).toBeGreaterThanOrEqual(0);
      expect(assigned.generationId).toBe(generation);
      expect(assigned.partitions).toEqual(expect.arrayContaining([{ topic, partition: 0 }, { topic, partition: 1 }]));
      const revoked = rebalances.find((r) => r.event === 'revoked')!;
      expect(revoked).toMatchObject({ event: 'revoked', groupId, reason: 'stopped', memberId: assigned.memberId });
    } finally {
      produce.stop();
      fetch.stop();
      commit.stop();
      diagnostics.unsubscribe(CHANNEL_NAMES.rebalance, onRebalance);
      await producer.close();
      await consumer.close();
    }
  });

  it('a failed commit ends its trace with the error', async () => {
    const topic = unique('traced-commit-fail');
    await firstValueFrom(admin.createTopic$(topic, 1));
    await firstValueFrom(admin.publish$(topic, { value: 'x', partition: 0 }));
    const commit = listen<CommitTraceMessage>(CHANNEL_NAMES.commit);
    const fetches = watchFetches(topic);
    const consumer = Consumer.create({ bootstrapServers: [testBroker().address], assign: { [topic]: [0] }, enableAutoCommit: false, logger: null });
    try {
      const { records, sub } = await consume(consumer, 1);
      records[0]!.ack();
      // Delete the topic under the consumer: the broker refuses the commit (UNKNOWN_TOPIC).
      // No fetch of the topic in flight (and none starting) while it is deleted: only the commit meets the deletion.
      consumer.pause(topic, 0);
      await fetches.idle();
      await firstValueFrom(admin.deleteTopic$(topic));
      await expect(firstValueFrom(consumer.commit$())).rejects.toThrow(/UNKNOWN_TOPIC/);
      sub.unsubscribe();
      const ended = commit.ended();
      const events = commit.seen.map((s) => s.event);
      // Ours first; the session's closing commit (on unsubscribe) may follow and fail the same way.
      expect(events.slice(0, 5)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
      for (const trace of ended) {
        expect(trace).toMatchObject({ groupId: 'default-group', offsets: [{ topic, partition: 0, offset: 1n }] });
        expect(String(trace.error)).toMatch(/UNKNOWN_TOPIC/);
      }
    } finally {
      commit.stop();
      fetches.stop();
      await consumer.close();
    }
  });

  it('transaction: one trace per commit, with the transactional id and the commit\'s own producer id and epoch; a transaction dropped in the client reaches no broker and has none', async () => {
    const topic = unique('traced-txn');
    await firstValueFrom(admin.createTopic$(topic, 1));
    const txn = listen<TransactionTraceMessage>(CHANNEL_NAMES.transaction);
    const producer = await firstValueFrom(TransactionalProducer.create$({ bootstrapServers: [testBroker().address], transactionalId: unique('tx') }));
    try {
      await lastValueFrom(producer.transaction$((t) => t.send$({ topic, partition: 0, value: 'committed' })));
      await expect(
        lastValueFrom(
          producer.transaction$((t) => concat(t.send$({ topic, partition: 0, value: 'aborted' }), throwError(() => new Error('work failed')))),
        ),
      ).rejects.toThrow('work failed');
      const ended = txn.ended();
      const identity = { transactionalId: producer.config.transactionalId, producerId: producer.identity!.producerId, producerEpoch: producer.identity!.producerEpoch };
      expect(ended).toEqual([{ ...identity, outcome: 'commit' }]);
      expect(txn.seen.map((s) => s.event)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    } finally {
      txn.stop();
      await producer.close();
    }
  });
});
