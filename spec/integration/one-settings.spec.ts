/**
 * One settings object for every component: the same `ConnectionSettings` — a dead server first,
 * the live broker second, the same clientId, timeouts and retry policy — given unchanged to
 * Producer, Consumer, TransactionalProducer, ResilientClient, PipelinedClient, Client and the
 * Rivven root, and each works; the same typo is the same ConfigError everywhere.
 */
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { Client } from '../../src/client/client';
import { PipelinedClient } from '../../src/client/pipelined-client';
import { ResilientClient } from '../../src/client/resilient-client';
import { Rivven } from '../../src/rivven';
import type { ConnectionSettings } from '../../src/connection-settings';
import { Consumer } from '../../src/consumer/consumer';
import { ConfigError } from '../../src/errors';
import { Producer } from '../../src/producer/producer';
import { TransactionalProducer } from '../../src/producer/transactional-producer';
import { unique } from '../support/names';
import { pingLatency } from '../support/ping';
import { rejection } from '../support/rejection';
import { testBroker } from '../support/test-broker';

jest.setTimeout(60_000);


function settings(): ConnectionSettings & { bootstrapServers: string[] } {
  return {
    // Port 1 on loopback refuses at once: the component must go on to the next server.
    bootstrapServers: ['127.0.0.1:1', testBroker().address],
    clientId: 'one-settings',
    connectionTimeoutMs: 5_000,
    requestTimeoutMs: 10_000,
    retry: { initialDelayMs: 50, maxDelayMs: 500 },
    logger: null,
  };
}

describe('the same settings, unchanged, under every component (a dead server first)', () => {
  let admin: Client;
  let topic: string;
  beforeAll(async () => {
    admin = await firstValueFrom(Client.connect$(settings()));
    topic = unique('one-settings');
    await firstValueFrom(admin.createTopic$(topic, 1));
  });
  afterAll(() => admin?.close());

  it('Client and PipelinedClient answer', async () => {
    await pingLatency(admin, () => admin.health().requestsSucceeded);
    const pipelined = await firstValueFrom(PipelinedClient.connect$(settings()));
    try {
      expect(await firstValueFrom(pipelined.listTopics$())).toContain(topic);
    } finally {
      await pipelined.close();
    }
  });

  it('ResilientClient answers', async () => {
    const resilient = new ResilientClient({ ...settings(), healthCheckEnabled: false });
    try {
      expect(await firstValueFrom(resilient.listTopics$())).toContain(topic);
    } finally {
      await resilient.close();
    }
  });

  it('Producer sends, TransactionalProducer commits, Consumer reads both', async () => {
    const producer = Producer.create(settings());
    try {
      await firstValueFrom(producer.send$({ topic, partition: 0, value: 'plain' }));
    } finally {
      await producer.close();
    }
    const transactional = await firstValueFrom(TransactionalProducer.create$({ ...settings(), transactionalId: unique('one-settings-txn') }));
    try {
      await lastValueFrom(transactional.transaction$((txn) => txn.send$({ topic, partition: 0, value: 'in-transaction' })));
    } finally {
      await transactional.close();
    }
    const consumer = Consumer.create({ ...settings(), groupId: unique('g'), assign: { [topic]: [0] }, isolationLevel: 'read_committed' });
    try {
      const values = await firstValueFrom(consumer.records$.pipe(take(2), toArray()));
      expect(values.map((r) => r.value.toString())).toEqual(['plain', 'in-transaction']);
    } finally {
      await consumer.close();
    }
  });

  it('the Rivven root holds them once and its components work', async () => {
    const rivven = new Rivven(settings());
    try {
      const producer = rivven.producer();
      await firstValueFrom(producer.send$({ topic, partition: 0, value: 'from-root' }));
      expect(await firstValueFrom((await firstValueFrom(rivven.admin$())).listTopics$())).toContain(topic);
      const client = rivven.client({ healthCheckEnabled: false });
      await pingLatency(client, () => client.health().servers.reduce((sum, s) => sum + s.answered, 0));
    } finally {
      await rivven.close();
    }
  });
});

describe('the same typo is the same ConfigError everywhere', () => {
  const typo = () => ({ ...settings(), requestTimeout: 3_000 }) as unknown as ConnectionSettings;
  const attempts: [string, () => Promise<unknown>][] = [
    ['Client', () => firstValueFrom(Client.connect$(typo()))],
    ['PipelinedClient', () => firstValueFrom(PipelinedClient.connect$(typo()))],
    ['ResilientClient', async () => new ResilientClient(typo())],
    ['Producer', async () => Producer.create(typo())],
    ['Consumer', async () => Consumer.create({ ...typo(), topics: ['t'] })],
    ['TransactionalProducer', () => firstValueFrom(TransactionalProducer.create$({ ...typo(), transactionalId: 'x' }))],
    ['Rivven', async () => new Rivven(typo())],
  ];
  it.each(attempts)('%s', async (_name, attempt) => {
    const error = await rejection(attempt());
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ option: 'requestTimeout', retriable: false });
    expect(error.message).toMatch(/did you mean 'requestTimeoutMs'/);
  });
});
