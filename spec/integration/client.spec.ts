/**
 * Every Client operation against the real rivvend 0.0.22 broker: success paths and the broker's
 * error paths.
 */
import { filter, firstValueFrom } from 'rxjs';
import { Client } from '../../src/client/client';
import type { ConsumedRecord, ConsumeOptions } from '../../src/client/client-types';
import { PipelinedClient } from '../../src/client/pipelined-client';
import { ResilientClient } from '../../src/client/resilient-client';
import { ConfigError, ServerError } from '../../src/errors';
import { Producer } from '../../src/producer/producer';
import type { CompressionAlgorithm } from '../../src/protocol/value-framing';
import { unique } from '../support/names';
import { pingLatency } from '../support/ping';
import { rejection, rejectionOf } from '../support/rejection';
import { testBroker } from '../support/test-broker';

let client: Client;

beforeAll(async () => {
  client = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'client-spec' }));
});
afterAll(async () => {
  await client.close();
});

/** The ServerError the broker refuses with. */
const serverError = (promise: Promise<unknown>) => rejectionOf(promise, ServerError);

describe('Client against the real broker', () => {
  it('pings', async () => {
    await pingLatency(client, () => client.health().requestsSucceeded, 5_000);
  });

  describe('topics', () => {
    it('creates, lists, describes and deletes a topic', async () => {
      const topic = unique('topics');
      expect(await firstValueFrom(client.createTopic$(topic, 3))).toEqual({ name: topic, partitions: 3 });
      expect(await firstValueFrom(client.listTopics$())).toContain(topic);
      expect(await firstValueFrom(client.getMetadata$(topic))).toEqual({ name: topic, partitions: 3 });
      const cluster = await firstValueFrom(client.getClusterMetadata$([topic]));
      // The broker we talk to lists itself (standalone rivvend 0.0.22 keeps topic metadata in its
      // cluster store only, so `topics` comes back empty there; GetMetadata above covers topics).
      expect(cluster.brokers).toContainEqual(expect.objectContaining({ host: '127.0.0.1', port: testBroker().port }));
      expect(cluster.controllerId).toBe(cluster.brokers[0]!.nodeId);
      expect(Array.isArray(cluster.topics)).toBe(true);
      await firstValueFrom(client.deleteTopic$(topic), { defaultValue: undefined });
      expect(await firstValueFrom(client.listTopics$())).not.toContain(topic);
    });

    it('refuses a duplicate topic', async () => {
      const topic = unique('dup');
      await firstValueFrom(client.createTopic$(topic, 1));
      const error = await serverError(firstValueFrom(client.createTopic$(topic, 1)));
      expect(error.serverMessage.length).toBeGreaterThan(0);
    });

    it('refuses to delete or describe a missing topic', async () => {
      const missing = unique('missing');
      await serverError(firstValueFrom(client.deleteTopic$(missing), { defaultValue: undefined }));
      await serverError(firstValueFrom(client.getMetadata$(missing)));
    });

    it('grows partitions and round-trips topic configs', async () => {
      const topic = unique('admin');
      await firstValueFrom(client.createTopic$(topic, 1));
      expect(await firstValueFrom(client.createPartitions$(topic, 4))).toBe(4);
      expect((await firstValueFrom(client.getMetadata$(topic))).partitions).toBe(4);
      const changed = await firstValueFrom(client.alterTopicConfig$(topic, { 'retention.ms': '3600000' }));
      expect(changed).toBe(1);
      const [described] = await firstValueFrom(client.describeTopicConfigs$([topic]));
      expect(described?.topic).toBe(topic);
      expect(described?.configs.get('retention.ms')?.value).toBe('3600000');
      expect(described?.configs.get('retention.ms')?.isDefault).toBe(false);
    });
  });

  describe('publish and consume', () => {
    it('publishes with key and partition and consumes the record back', async () => {
      const topic = unique('pubsub');
      await firstValueFrom(client.createTopic$(topic, 2));
      const meta = await firstValueFrom(client.publish$(topic, { key: 'k1', value: 'v1', partition: 1 }));
      expect(meta).toEqual({ topic, partition: 1, offset: 0n });
      const records = await firstValueFrom(client.consume$(topic, { partition: 1, offset: 0n, maxMessages: 10 }));
      expect(records).toHaveLength(1);
      expect(records[0]!.key?.toString()).toBe('k1');
      expect(records[0]!.value.toString()).toBe('v1');
      expect(records[0]!.offset).toBe(0n);
      expect(records[0]!.timestamp).toBeGreaterThan(0n);
    });

    it('publishes a batch with contiguous offsets', async () => {
      const topic = unique('batch');
      await firstValueFrom(client.createTopic$(topic, 1));
      await firstValueFrom(client.publish$(topic, { value: 'first', partition: 0 }));
      const batch = await firstValueFrom(
        client.publishBatch$(topic, [{ value: 'a' }, { key: 'k', value: 'b' }, { value: Buffer.from([0, 255]) }], { partition: 0 }),
      );
      expect(batch).toEqual({ topic, partition: 0, baseOffset: 1n, recordCount: 3 });
      const records = await firstValueFrom(client.consume$(topic, { partition: 0, offset: 1n, maxMessages: 10 }));
      expect(records.map((r) => r.value.toString('hex'))).toEqual(['61', '62', '00ff']);
      expect(records.map((r) => r.offset)).toEqual([1n, 2n, 3n]);
    });

    it('returns nothing at offset 0 of an empty partition and past the end', async () => {
      const topic = unique('empty');
      await firstValueFrom(client.createTopic$(topic, 1));
      expect(await firstValueFrom(client.consume$(topic, { partition: 0, offset: 0n, maxMessages: 10 }))).toEqual([]);
      await firstValueFrom(client.publish$(topic, { value: 'x', partition: 0 }));
      expect(await firstValueFrom(client.consume$(topic, { partition: 0, offset: 5n, maxMessages: 10 }))).toEqual([]);
    });

    it('refuses an out-of-range partition and an unknown topic', async () => {
      const topic = unique('range');
      await firstValueFrom(client.createTopic$(topic, 2));
      await serverError(firstValueFrom(client.publish$(topic, { value: 'x', partition: 7 })));
      await serverError(firstValueFrom(client.consume$(topic, { partition: 7, offset: 0n, maxMessages: 1 })));
      await serverError(firstValueFrom(client.consume$(unique('nope'), { partition: 0, offset: 0n, maxMessages: 1 })));
    });

    it('long-polls: a consume with maxWaitMs returns when data arrives, not after the full wait', async () => {
      const topic = unique('longpoll');
      await firstValueFrom(client.createTopic$(topic, 1));
      // A second connection publishes while the first waits (the broker answers one connection in order).
      const publisher = await firstValueFrom(Client.connect$(testBroker().address));
      try {
        const started = Date.now();
        const waiting = firstValueFrom(client.health$.pipe(filter((h) => h.inFlight === 1)));
        const polled = firstValueFrom(client.consume$(topic, { partition: 0, offset: 0n, maxMessages: 10, maxWaitMs: 20_000 }));
        await waiting; // the long poll is on the wire
        await firstValueFrom(publisher.publish$(topic, { value: 'wake', partition: 0 }));
        const records = await polled;
        expect(records.map((r) => r.value.toString())).toEqual(['wake']);
        expect(Date.now() - started).toBeLessThan(10_000);
      } finally {
        await publisher.close();
      }
    });

    it('reports offset bounds and finds offsets by timestamp', async () => {
      const topic = unique('bounds');
      await firstValueFrom(client.createTopic$(topic, 1));
      const before = BigInt(Date.now()) - 1000n;
      for (const v of ['a', 'b', 'c']) await firstValueFrom(client.publish$(topic, { value: v, partition: 0 }));
      expect(await firstValueFrom(client.getOffsetBounds$(topic, 0))).toEqual({ earliest: 0n, latest: 3n });
      expect(await firstValueFrom(client.getOffsetForTimestamp$(topic, 0, before))).toBe(0n);
      expect(await firstValueFrom(client.getOffsetForTimestamp$(topic, 0, BigInt(Date.now()) + 3_600_000n))).toBeUndefined();
    });

    it('deletes records before an offset', async () => {
      const topic = unique('delrec');
      await firstValueFrom(client.createTopic$(topic, 1));
      for (const v of ['a', 'b', 'c', 'd']) await firstValueFrom(client.publish$(topic, { value: v, partition: 0 }));
      const results = await firstValueFrom(client.deleteRecords$(topic, [[0, 2n]]));
      expect(results).toEqual([{ partition: 0, lowWatermark: 2n }]);
      expect((await firstValueFrom(client.getOffsetBounds$(topic, 0))).earliest).toBe(2n);
    });
  });

  describe('consumer group offsets', () => {
    it('commits and reads back an offset, lists, describes and deletes the group', async () => {
      const topic = unique('grp');
      const group = unique('group');
      await firstValueFrom(client.createTopic$(topic, 2));
      await firstValueFrom(client.publishBatch$(topic, Array.from({ length: 50 }, (_, i) => ({ value: `r${i}` })), { partition: 1 }));
      expect(await firstValueFrom(client.getOffset$(group, topic, 0))).toBeUndefined();
      await firstValueFrom(client.commitOffset$(group, topic, 1, 42n), { defaultValue: undefined });
      expect(await firstValueFrom(client.getOffset$(group, topic, 1))).toBe(42n);
      expect(await firstValueFrom(client.listGroups$())).toContain(group);
      const described = await firstValueFrom(client.describeGroup$(group));
      expect(described.group).toBe(group);
      expect(described.offsets.get(topic)?.get(1)).toBe(42n);
      await firstValueFrom(client.deleteGroup$(group), { defaultValue: undefined });
      expect(await firstValueFrom(client.listGroups$())).not.toContain(group);
    });
  });

  describe('quotas', () => {
    it('alters and describes a quota', async () => {
      const user = unique('user');
      expect(await firstValueFrom(client.alterQuotas$([{ entityType: 'user', entityName: user, quotaKey: 'produce_bytes_rate', quotaValue: 1_000_000n }]))).toBe(1);
      const entries = await firstValueFrom(client.describeQuotas$([['user', user]]));
      expect(entries.find((e) => e.entityName === user)?.quotas.get('produce_bytes_rate')).toBe(1_000_000n);
    });
  });

  describe('idempotent and transactional primitives', () => {
    it('dedupes a repeated idempotent publish', async () => {
      const topic = unique('idem');
      await firstValueFrom(client.createTopic$(topic, 1));
      const producer = await firstValueFrom(client.initProducerId$());
      const first = await firstValueFrom(client.idempotentPublish$(topic, { value: 'x', partition: 0 }, producer, 0));
      const again = await firstValueFrom(client.idempotentPublish$(topic, { value: 'x', partition: 0 }, producer, 0));
      expect(first.duplicate).toBe(false);
      expect(again.duplicate).toBe(true);
      const batch = await firstValueFrom(client.idempotentPublishBatch$(topic, [{ value: 'a' }, { value: 'b' }], producer, 1, { partition: 0 }));
      expect(batch).toMatchObject({ partition: 0, recordCount: 2, duplicate: false });
    });

    it('commits a transaction together with consumed offsets', async () => {
      const topic = unique('txn');
      const group = unique('txn-group');
      await firstValueFrom(client.createTopic$(topic, 1));
      const producer = await firstValueFrom(client.initProducerId$());
      const txn = unique('txn-id');
      await firstValueFrom(client.beginTransaction$(txn, producer, 60_000), { defaultValue: undefined });
      expect(await firstValueFrom(client.addPartitionsToTxn$(txn, producer, [[topic, 0]]))).toBe(1);
      const published = await firstValueFrom(client.transactionalPublish$(txn, topic, { value: 'in-txn', partition: 0 }, producer, 0));
      expect(published.sequence).toBe(0);
      await firstValueFrom(client.addOffsetsToTxn$(txn, producer, group, [[topic, 0, 1n]]), { defaultValue: undefined });
      await firstValueFrom(client.commitTransaction$(txn, producer), { defaultValue: undefined });
      const committed = await firstValueFrom(client.consume$(topic, { partition: 0, offset: 0n, maxMessages: 10, isolationLevel: 'read_committed' }));
      expect(committed.map((r) => r.value.toString())).toEqual(['in-txn']);
      // The consumed offsets committed with the transaction are the group's offsets now.
      expect(await firstValueFrom(client.getOffset$(group, topic, 0))).toBe(1n);
    });

    it('aborts a transaction: read_committed hides what it wrote, read_uncommitted does not', async () => {
      const topic = unique('abort');
      await firstValueFrom(client.createTopic$(topic, 1));
      const producer = await firstValueFrom(client.initProducerId$());
      const txn = unique('abort-id');
      await firstValueFrom(client.beginTransaction$(txn, producer), { defaultValue: undefined });
      await firstValueFrom(client.addPartitionsToTxn$(txn, producer, [[topic, 0]]));
      await firstValueFrom(client.transactionalPublish$(txn, topic, { value: 'doomed', partition: 0 }, producer, 0));
      await firstValueFrom(client.abortTransaction$(txn, producer), { defaultValue: undefined });
      const all = await firstValueFrom(client.consume$(topic, { partition: 0, offset: 0n, maxMessages: 10 }));
      expect(all.map((r) => r.value.toString())).toContain('doomed');
      const visible = await firstValueFrom(client.consume$(topic, { partition: 0, offset: 0n, maxMessages: 10, isolationLevel: 'read_committed' }));
      expect(visible.map((r) => r.value.toString())).not.toContain('doomed');
    });
  });

  describe('group coordination', () => {
    it('joins, syncs, heartbeats and leaves a group as its only member', async () => {
      const topic = unique('coord');
      const group = unique('coord-group');
      await firstValueFrom(client.createTopic$(topic, 2));
      const joined = await firstValueFrom(
        client.joinGroup$(group, '', { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 5_000, subscriptions: [topic] }),
      );
      expect(joined.memberId.length).toBeGreaterThan(0);
      expect(joined.isLeader).toBe(true);
      const assignment = await firstValueFrom(
        client.syncGroup$(group, joined.generationId, joined.memberId, [[joined.memberId, [[topic, [0, 1]]]]]),
      );
      expect(assignment).toEqual([[topic, [0, 1]]]);
      const beat = await firstValueFrom(client.heartbeat$(group, joined.generationId, joined.memberId));
      expect(beat).toEqual({ errorCode: 0, rebalanceInProgress: false });
      await firstValueFrom(client.leaveGroup$(group, joined.memberId), { defaultValue: undefined });
    });
  });

  describe('health$', () => {
    it('reflects requests and bytes on the connection', async () => {
      const before = client.health();
      await firstValueFrom(client.ping$());
      const after = client.health();
      expect(after.requestsSent).toBe(before.requestsSent + 1);
      expect(after.requestsSucceeded).toBe(before.requestsSucceeded + 1);
      expect(after.bytesOut).toBeGreaterThan(before.bytesOut);
      expect(after.state).toBe('ready');
      expect(Number.isFinite(after.latencyP50Ms)).toBe(true);
      // health$ pushes the change without being asked.
      const seen = firstValueFrom(client.health$.pipe(filter((h) => h.requestsSent >= after.requestsSent + 1)));
      await firstValueFrom(client.ping$());
      expect((await seen).requestsSucceeded).toBeGreaterThanOrEqual(after.requestsSucceeded + 1);
    });
  });

  describe('values read back through consume$ (the same bytes as Consumer)', () => {
    /** Values a compressing producer frames differently: long compressible, short, binary, empty-ish. */
    const originals = [
      Buffer.from('Hello, world'),
      Buffer.from('x'.repeat(5_000)),
      Buffer.from(JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ i, name: `item-${i}` })) })),
      Buffer.from([0x00, 0x00, 0x00, 0x01, 0x2a]), // schema-registry framing: magic byte 0
      Buffer.from([0x08, 0x96, 0x01]), // a protobuf message
      Buffer.alloc(0),
    ];

    async function produced(compressionType: CompressionAlgorithm): Promise<string> {
      const topic = unique(`values-${compressionType}`);
      await firstValueFrom(client.createTopic$(topic, 1));
      const producer = Producer.create({ bootstrapServers: [testBroker().address], compressionType, lingerMs: 0 });
      try {
        for (const value of originals) await firstValueFrom(producer.send$({ topic, partition: 0, value }));
      } finally {
        await producer.close();
      }
      return topic;
    }

    const read = (topic: string, extra: Partial<ConsumeOptions> = {}) =>
      firstValueFrom(client.consume$(topic, { partition: 0, offset: 0n, maxMessages: 100, ...extra }));
    const hex = (records: ConsumedRecord[]) => records.map((r) => r.value.toString('hex'));

    it.each(['none', 'lz4', 'zstd', 'snappy'] as const)('compression %s: Client, PipelinedClient and ResilientClient give back the bytes sent', async (compressionType) => {
      const topic = await produced(compressionType);
      const expected = originals.map((v) => v.toString('hex'));
      expect(hex(await read(topic))).toEqual(expected);
      const pipelined = await firstValueFrom(PipelinedClient.connect$(testBroker().address));
      const resilient = new ResilientClient({ bootstrapServers: [testBroker().address], healthCheckEnabled: false });
      try {
        expect(hex(await firstValueFrom(pipelined.consume$(topic, { partition: 0, offset: 0n, maxMessages: 100 })))).toEqual(expected);
        expect(hex(await firstValueFrom(resilient.consume$(topic, { partition: 0, offset: 0n, maxMessages: 100 })))).toEqual(expected);
      } finally {
        await pipelined.close();
        await resilient.close();
      }
    });

    it("valueFraming: 'raw' gives the bytes as stored (compressed values stay compressed)", async () => {
      const topic = await produced('lz4');
      const raw = await read(topic, { valueFraming: 'raw' });
      const long = raw[1]!.value;
      expect(long.length).toBeLessThan(originals[1]!.length / 10);
      expect(long.equals(originals[1]!)).toBe(false);
      // Plain values published by Client.publish$ are stored as given, raw or not.
      const plainTopic = unique('values-plain');
      await firstValueFrom(client.publish$(plainTopic, { value: originals[0]!, partition: 0 }));
      expect(hex(await read(plainTopic, { valueFraming: 'raw' }))).toEqual([originals[0]!.toString('hex')]);
    });

    it('maxDecodedBytes: returns the records whose values fit, and the rest on the next call', async () => {
      const topic = unique('values-budget');
      await firstValueFrom(client.createTopic$(topic, 1));
      const producer = Producer.create({ bootstrapServers: [testBroker().address], compressionType: 'lz4', lingerMs: 0 });
      const big = [0, 1, 2].map((i) => Buffer.alloc(100_000, 97 + i));
      try {
        for (const value of big) await firstValueFrom(producer.send$({ topic, partition: 0, value }));
      } finally {
        await producer.close();
      }
      const first = await read(topic, { maxDecodedBytes: 250_000 });
      expect(first.map((r) => r.offset)).toEqual([0n, 1n]);
      expect(first.every((r, i) => r.value.equals(big[i]!))).toBe(true);
      const rest = await read(topic, { offset: 2n, maxDecodedBytes: 250_000 });
      expect(rest.map((r) => r.offset)).toEqual([2n]);
      expect(rest[0]!.value.equals(big[2]!)).toBe(true);
      const error = await rejection(read(topic, { maxDecodedBytes: 50_000 }));
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).option).toBe('options.maxDecodedBytes');
      expect(error.message).toContain('100000');
    });
  });
});
