/**
 * The broker's error answers, against the real rivvend 0.0.22: each common one reaches the user
 * with a stable `serverCode` and the right `retriable` (server-error-table.ts), so ResilientClient
 * fails fast on the ones a retry cannot fix — one request, no backoff. And the facts about a topic
 * that does not exist: which requests create it, which fail.
 */
import { firstValueFrom } from 'rxjs';
import { Client } from '../../src/client/client';
import { ResilientClient } from '../../src/client/resilient-client';
import { findServerErrorRule } from '../../src/server-error-table';
import { ConfigError, ServerError } from '../../src/errors';
import { Producer } from '../../src/producer/producer';
import { unique } from '../support/names';
import { rejection, rejectionOf } from '../support/rejection';
import { testBroker } from '../support/test-broker';

let client: Client;
let topic: string; // 2 partitions, one record at offset 0 of partition 0

beforeAll(async () => {
  client = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'server-errors-spec' }));
  topic = unique('errors');
  await firstValueFrom(client.createTopic$(topic, 2));
  await firstValueFrom(client.publish$(topic, { value: 'x', partition: 0 }));
});
afterAll(async () => {
  await client.close();
});

/** The ServerError the broker refuses with. */
const serverError = (promise: Promise<unknown>) => rejectionOf(promise, ServerError);

type Case = [name: string, code: string, retriable: boolean, call: (c: Client) => Promise<unknown>, text: RegExp];

const cases: Case[] = [
  ['a topic that already exists', 'TOPIC_ALREADY_EXISTS', false, (c) => firstValueFrom(c.createTopic$(topic, 2)), /^Topic '.*' already exists$/],
  ['metadata of a missing topic', 'UNKNOWN_TOPIC_OR_PARTITION', false, (c) => firstValueFrom(c.getMetadata$(unique('missing'))), /^Topic not found: /],
  ['consuming a missing topic', 'UNKNOWN_TOPIC_OR_PARTITION', false, (c) => firstValueFrom(c.consume$(unique('missing'), { partition: 0, offset: 0n, maxMessages: 1 })), /^Topic not found: /],
  ['deleting a missing topic', 'UNKNOWN_TOPIC_OR_PARTITION', false, (c) => firstValueFrom(c.deleteTopic$(unique('missing')), { defaultValue: undefined }), /^Topic not found: /],
  ['offset bounds of a missing topic', 'UNKNOWN_TOPIC_OR_PARTITION', false, (c) => firstValueFrom(c.getOffsetBounds$(unique('missing'), 0)), /^Topic not found: /],
  ['growing a missing topic', 'UNKNOWN_TOPIC_OR_PARTITION', false, (c) => firstValueFrom(c.createPartitions$(unique('missing'), 3)), /^UNKNOWN_TOPIC_OR_PARTITION: /],
  ['configuring a missing topic', 'UNKNOWN_TOPIC_OR_PARTITION', false, (c) => firstValueFrom(c.alterTopicConfig$(unique('missing'), { 'retention.ms': '1000' })), /^UNKNOWN_TOPIC_OR_PARTITION: /],
  ['committing to a missing topic', 'UNKNOWN_TOPIC', false, (c) => firstValueFrom(c.commitOffset$(unique('g'), unique('missing'), 0, 0n), { defaultValue: undefined }), /^UNKNOWN_TOPIC: /],
  ['describing a missing group', 'UNKNOWN_GROUP', false, (c) => firstValueFrom(c.describeGroup$(unique('group'))), /^Consumer group '.*' not found$/],
  ['deleting a missing group', 'UNKNOWN_GROUP', false, (c) => firstValueFrom(c.deleteGroup$(unique('group')), { defaultValue: undefined }), /^Consumer group '.*' not found$/],
  ['a heartbeat to a missing group', 'UNKNOWN_GROUP', false, (c) => firstValueFrom(c.heartbeat$(unique('group'), 1, 'member')), /^HEARTBEAT_FAILED: UNKNOWN_GROUP: /],
  ['0 partitions', 'INVALID_PARTITION_COUNT', false, (c) => firstValueFrom(c.createTopic$(unique('zero'), 0)), /^INVALID_PARTITION_COUNT: must be between 1 and 1000, got 0$/],
  ['1001 partitions', 'INVALID_PARTITION_COUNT', false, (c) => firstValueFrom(c.createTopic$(unique('many'), 1001)), /^INVALID_PARTITION_COUNT: /],
  ['shrinking a topic', 'INVALID_PARTITIONS', false, (c) => firstValueFrom(c.createPartitions$(topic, 1)), /^INVALID_PARTITIONS: /],
  ['publishing to a partition past the end', 'INVALID_PARTITION', false, (c) => firstValueFrom(c.publish$(topic, { value: 'x', partition: 7 })), /^INVALID_PARTITION: Invalid partition 7: must be < 2$/],
  ['consuming a partition past the end', 'INVALID_PARTITION', false, (c) => firstValueFrom(c.consume$(topic, { partition: 7, offset: 0n, maxMessages: 1 })), /^INVALID_PARTITION: /],
  ['offset bounds of a partition past the end', 'UNKNOWN_PARTITION', false, (c) => firstValueFrom(c.getOffsetBounds$(topic, 7)), /^Partition 7 not found for topic '.*'$/],
  ['committing past the end of a partition', 'OFFSET_OUT_OF_RANGE', false, (c) => firstValueFrom(c.commitOffset$(unique('g'), topic, 0, 99n), { defaultValue: undefined }), /^OFFSET_OUT_OF_RANGE: /],
  ['a topic name with a space', 'INVALID_TOPIC_NAME', false, (c) => firstValueFrom(c.createTopic$('no spaces allowed', 1)), /^INVALID_TOPIC_NAME: /],
  ['a group id with a space', 'INVALID_CONSUMER_GROUP', false, (c) => firstValueFrom(c.getOffset$('bad group', topic, 0)), /^INVALID_CONSUMER_GROUP: /],
  ['an unknown producer id', 'UNKNOWN_PRODUCER_ID', true, (c) => firstValueFrom(c.idempotentPublish$(topic, { value: 'x', partition: 0 }, { producerId: 987_654_321n, producerEpoch: 0 }, 0)), /^UNKNOWN_PRODUCER_ID: /],
];

describe('broker errors against the real broker', () => {
  it.each(cases)('%s → %s (retriable: %s)', async (_name, code, retriable, call, text) => {
    const error = await serverError(call(client));
    expect(error.serverMessage).toMatch(text);
    expect(findServerErrorRule(error.serverMessage)).toBeDefined();
    expect(error.serverCode).toBe(code);
    expect(error.retriable).toBe(retriable);
  });
});

describe('ResilientClient fails fast on an answer a retry cannot change', () => {
  let resilient: ResilientClient;
  beforeAll(async () => {
    // Any retry would wait ≥ 1.5 s (2 s ± 25 % jitter), and non-idempotent requests may be retried
    // too: only the error's retriability can stop a retry here.
    resilient = new ResilientClient({ bootstrapServers: [testBroker().address], retry: { initialDelayMs: 2_000, maxAttempts: 4 }, retryNonIdempotent: true, healthCheckEnabled: false });
    await firstValueFrom(resilient.ping$()); // connection open: the timings below are the requests alone
  });
  afterAll(async () => {
    await resilient.close();
  });

  const fastCases: [string, string, (r: ResilientClient) => Promise<unknown>][] = [
    ['a missing topic (GetMetadata)', 'UNKNOWN_TOPIC_OR_PARTITION', (r) => firstValueFrom(r.getMetadata$(unique('missing')))],
    ['a missing topic (Consume)', 'UNKNOWN_TOPIC_OR_PARTITION', (r) => firstValueFrom(r.consume$(unique('missing'), { partition: 0, offset: 0n, maxMessages: 1 }))],
    ['a missing group', 'UNKNOWN_GROUP', (r) => firstValueFrom(r.describeGroup$(unique('group')))],
    ['a topic that exists', 'TOPIC_ALREADY_EXISTS', (r) => firstValueFrom(r.createTopic$(topic, 2))],
    ['an invalid partition count', 'INVALID_PARTITION_COUNT', (r) => firstValueFrom(r.createTopic$(unique('zero'), 0))],
  ];

  it.each(fastCases)('%s (%s): one request, no retry', async (_name, code, call) => {
    const before = resilient.health();
    const started = performance.now();
    const error = await serverError(call(resilient));
    const elapsedMs = performance.now() - started;
    const after = resilient.health();
    expect(error.serverCode).toBe(code);
    expect(after.retries - before.retries).toBe(0);
    expect(after.servers[0]!.requests - before.servers[0]!.requests).toBe(1);
    expect(elapsedMs).toBeLessThan(1_000);
  });
});

describe('a user type mistake is refused before anything is sent', () => {
  it.each([
    ['Client', () => Promise.resolve(client)],
    ['ResilientClient', () => Promise.resolve(new ResilientClient({ bootstrapServers: [testBroker().address], healthCheckEnabled: false }))],
  ] as const)('%s: consume$ with offset 0 (not 0n) → ConfigError, no request', async (_name, make) => {
    const c = await make();
    try {
      const sentBefore = c instanceof Client ? c.health().requestsSent : c.health().requests;
      const error = await rejection(firstValueFrom(c.consume$(topic, { partition: 0, offset: 0 as unknown as bigint, maxMessages: 1 })));
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).option).toBe('options.offset');
      expect(error.message).toContain('write 0n');
      expect((error as ConfigError).retriable).toBe(false);
      expect(c instanceof Client ? c.health().requestsSent : c.health().requests).toBe(sentBefore);
    } finally {
      if (c instanceof ResilientClient) await c.close();
    }
  });
});

describe('a topic that does not exist (rivvend 0.0.22 facts)', () => {
  it('Publish creates it, with the broker default of 3 partitions, even when the partition named is out of range', async () => {
    const created = unique('autocreate');
    const meta = await firstValueFrom(client.publish$(created, { value: 'v' }));
    expect(meta.offset).toBe(0n);
    expect(await firstValueFrom(client.getMetadata$(created))).toEqual({ name: created, partitions: 3 });

    const sideEffect = unique('autocreate-bad-partition');
    const error = await serverError(firstValueFrom(client.publish$(sideEffect, { value: 'v', partition: 5 })));
    expect(error.serverCode).toBe('INVALID_PARTITION');
    expect(await firstValueFrom(client.getMetadata$(sideEffect))).toEqual({ name: sideEffect, partitions: 3 });
  });

  it('PublishBatch creates it too; GetMetadata and Consume do not', async () => {
    const batch = unique('autocreate-batch');
    await firstValueFrom(client.publishBatch$(batch, [{ value: 'a' }, { value: 'b' }]));
    expect((await firstValueFrom(client.getMetadata$(batch))).partitions).toBe(3);

    const untouched = unique('never-created');
    await serverError(firstValueFrom(client.getMetadata$(untouched)));
    await serverError(firstValueFrom(client.consume$(untouched, { partition: 0, offset: 0n, maxMessages: 1 })));
    expect(await firstValueFrom(client.listTopics$())).not.toContain(untouched);
  });

  it('Producer.send$ fails with UNKNOWN_TOPIC_OR_PARTITION (it asks GetMetadata first) and creates nothing, with or without a partition', async () => {
    const producer = Producer.create({ bootstrapServers: [testBroker().address], lingerMs: 0 });
    try {
      const missing = unique('producer-missing');
      const error = await rejection(firstValueFrom(producer.send$({ topic: missing, value: 'x' })));
      expect(error).toBeInstanceOf(ServerError);
      expect((error as ServerError).serverCode).toBe('UNKNOWN_TOPIC_OR_PARTITION');
      expect(await firstValueFrom(client.listTopics$())).not.toContain(missing);

      const explicit = unique('producer-explicit');
      const explicitError = await rejection(firstValueFrom(producer.send$({ topic: explicit, partition: 0, value: 'x' })));
      expect((explicitError as ServerError).serverCode).toBe('UNKNOWN_TOPIC_OR_PARTITION');
      expect(await firstValueFrom(client.listTopics$())).not.toContain(explicit);
    } finally {
      await producer.close();
    }
  });
});
