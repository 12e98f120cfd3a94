/**
 * `for await (const record of consumer)`, `consumer.iterate({ signal })` and `promiseOf(…, { signal })`
 * against the real broker: what the loop sees is what was written, in order; leaving the loop
 * commits exactly what was acknowledged (read back through a new consumer and the group's committed
 * offsets) and closes the consumer; aborting ends the loop.
 */
import { firstValueFrom, lastValueFrom, toArray, take } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import type { ConsumerConfig } from '../../src/consumer/consumer-config';
import { promiseOf } from '../../src/operators/promise-of';
import { FaultProxy } from '../support/fault-proxy';
import { unique } from '../support/names';

jest.setTimeout(60_000);

const address = () => process.env.RIVVEN_TEST_BROKER!;
let admin: Client;

beforeAll(async () => {
  admin = await firstValueFrom(Client.connect$(address()));
});
afterAll(async () => {
  await admin.close();
});

async function topicWith(count: number): Promise<string> {
  const name = unique('iterate');
  await firstValueFrom(admin.createTopic$(name, 1));
  await firstValueFrom(admin.publishBatch$(name, Array.from({ length: count }, (_, i) => ({ value: `v${i}` })), { partition: 0 }));
  return name;
}

function consumer(topic: string, groupId: string, extra: Partial<ConsumerConfig> = {}): Consumer {
  return Consumer.create({ bootstrapServers: address(), groupId, topics: [topic], heartbeatIntervalMs: 500, sessionTimeoutMs: 6_000, enableAutoCommit: false, ...extra });
}

/** What a new member of the group reads first: where the group's commit points. */
async function firstUncommitted(topic: string, groupId: string): Promise<string> {
  const next = consumer(topic, groupId);
  try {
    const [record] = await firstValueFrom(next.records$.pipe(take(1), toArray()));
    return record!.value.toString();
  } finally {
    await next.close();
  }
}

describe('async iteration', () => {
  it('for await: records in order; leaving the loop commits what was acknowledged and closes the consumer', async () => {
    const topic = await topicWith(50);
    const groupId = unique('g');
    const c = consumer(topic, groupId);
    const seen: string[] = [];
    for await (const record of c) {
      seen.push(record.value.toString());
      if (seen.length <= 20) record.ack(); // records 0..19 acknowledged, 20..29 processed, not acked
      if (seen.length === 30) break;
    }
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => `v${i}`));
    expect(c.health().state).toBe('closed');
    await expect(firstValueFrom(admin.getOffset$(groupId, topic, 0))).resolves.toBe(20n);
    expect(await firstUncommitted(topic, groupId)).toBe('v20');
  });

  it("ackMode 'onEmit': a record counts as acknowledged when the loop asks for the next one; the one it left in is not", async () => {
    const topic = await topicWith(40);
    const groupId = unique('g');
    const c = consumer(topic, groupId, { ackMode: 'onEmit', maxPollRecords: 8 });
    let n = 0;
    for await (const record of c) {
      expect(record.value.toString()).toBe(`v${n}`);
      if (++n === 25) break; // v24 was being processed when the loop left
    }
    await expect(firstValueFrom(admin.getOffset$(groupId, topic, 0))).resolves.toBe(24n);
    expect(await firstUncommitted(topic, groupId)).toBe('v24');
  });

  it('iterate({ signal }): aborting ends the loop without an error and closes the consumer', async () => {
    const topic = await topicWith(5);
    const c = consumer(topic, unique('g'));
    const controller = new AbortController();
    const seen: string[] = [];
    for await (const record of c.iterate({ signal: controller.signal })) {
      seen.push(record.value.toString());
      record.ack();
      // The topic holds 5: the loop would wait for a sixth; the abort ends it.
      if (seen.length === 5) setTimeout(() => controller.abort(), 50);
    }
    expect(seen).toHaveLength(5);
    expect(c.health().state).toBe('closed');
  });
});

describe('promiseOf', () => {
  it('resolves with an admin call’s value, and an abort cancels a call the broker never answers', async () => {
    const name = unique('promise-of');
    await promiseOf(admin.createTopic$(name, 2), { signal: AbortSignal.timeout(10_000) });
    const topics = await promiseOf(admin.listTopics$());
    expect(topics).toContain(name);
    const proxy = await FaultProxy.start(address());
    const slow = await firstValueFrom(Client.connect$(proxy.address));
    try {
      await proxy.blackhole();
      const controller = new AbortController();
      const started = Date.now();
      const call = promiseOf(slow.listTopics$(), { signal: controller.signal });
      setTimeout(() => controller.abort(new Error('gave up')), 100);
      await expect(call).rejects.toThrow('gave up');
      expect(Date.now() - started).toBeLessThan(2_000);
      await expect(promiseOf(admin.listTopics$(), { signal: AbortSignal.abort(new Error('already')) })).rejects.toThrow('already');
      expect(await lastValueFrom(admin.listTopics$())).toContain(name);
    } finally {
      await proxy.restore();
      await slow.close();
      await proxy.close();
    }
  });
});
