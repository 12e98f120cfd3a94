/**
 * The transactional producer against the real broker: commit, abort on error, consumed offsets in
 * the transaction, records held in the client until commit and written under a producer id of
 * their own (so an abort hides nothing committed); the shared connection settings at top level
 * under the names every component uses.
 */
import { concat, concatMap, defer, firstValueFrom, from, ignoreElements, lastValueFrom, throwError } from 'rxjs';
import { Client } from '../../src/client/client';
import { AllServersUnavailableError, ConfigError } from '../../src/errors';
import type { SocketFactory } from '../../src/connection-settings';
import { tcpSocketFactory } from '../../src/transport/sockets';
import { TransactionalProducer } from '../../src/producer/transactional-producer';
import { unique } from '../support/names';
import { configError, rejection } from '../support/rejection';
import { testBroker } from '../support/test-broker';

let admin: Client;
const producers: TransactionalProducer[] = [];

beforeAll(async () => {
  admin = await firstValueFrom(Client.connect$(testBroker().address));
});
afterAll(async () => {
  await Promise.all(producers.map((p) => p.close()));
  await admin.close();
});

async function create(transactionalId: string, transactionTimeoutMs?: number): Promise<TransactionalProducer> {
  const producer = await firstValueFrom(TransactionalProducer.create$({ bootstrapServers: testBroker().address, transactionalId, transactionTimeoutMs }));
  producers.push(producer);
  return producer;
}

const committedValues = async (topic: string) =>
  (await firstValueFrom(admin.consume$(topic, { partition: 0, offset: 0n, maxMessages: 100, isolationLevel: 'read_committed' }))).map((r) => r.value.toString());

describe('TransactionalProducer', () => {
  it('commits a transaction with its records and the consumed offsets', async () => {
    const topic = unique('txn-out');
    const group = unique('txn-group');
    await firstValueFrom(admin.createTopic$(topic, 1));
    await firstValueFrom(admin.publishBatch$(topic, [{ value: 'input-0' }, { value: 'input-1' }], { partition: 0 }));
    const producer = await create(unique('txn'));
    const results = await firstValueFrom(
      producer.transaction$((txn) =>
        concat(
          from(['out-a', 'out-b']).pipe(concatMap((value) => txn.send$({ topic, partition: 0, value }))),
          txn.sendOffsets$(group, [[topic, 0, 2n]]).pipe(ignoreElements()),
        ),
      ),
    );
    expect(results.map((r) => r.offset)).toEqual([2n, 3n]);
    expect(await committedValues(topic)).toEqual(['input-0', 'input-1', 'out-a', 'out-b']);
    expect(await firstValueFrom(admin.getOffset$(group, topic, 0))).toBe(2n);
  });

  it('aborts when the work fails: the error reaches the caller and read_committed sees nothing of it', async () => {
    const topic = unique('txn-abort');
    await firstValueFrom(admin.createTopic$(topic, 1));
    const producer = await create(unique('txn'));
    const failure = new Error('transform failed');
    const error = await rejection(
      firstValueFrom(producer.transaction$((txn) => concat(txn.send$({ topic, partition: 0, value: 'doomed' }), throwError(() => failure)))),
    );
    expect(error).toBe(failure);
    expect(await committedValues(topic)).toEqual([]);
    // The producer is usable again after the abort.
    await firstValueFrom(producer.transaction$((txn) => txn.send$({ topic, partition: 0, value: 'kept' })));
    expect(await committedValues(topic)).toEqual(['kept']);
  });

  it('an open transaction writes nothing: its records reach the log only with the commit, each commit under a producer id of its own', async () => {
    const topic = unique('txn-held');
    await firstValueFrom(admin.createTopic$(topic, 1));
    const producer = await create(unique('txn'));
    const everything = async () => (await firstValueFrom(admin.consume$(topic, { partition: 0, offset: 0n, maxMessages: 100 }))).map((r) => r.value.toString());
    await firstValueFrom(producer.begin$());
    await lastValueFrom(producer.publish$([{ topic, partition: 0, value: 'held-1' }, { topic, partition: 0, value: 'held-2' }]), { defaultValue: undefined });
    // Not even read_uncommitted sees an open transaction: rivvend has no last stable offset, so a
    // record on the broker would be visible to read_committed readers before its commit.
    expect(await everything()).toEqual([]);
    const results = await firstValueFrom(producer.commit$());
    expect(results).toEqual([
      { topic, partition: 0, offset: 0n },
      { topic, partition: 0, offset: 1n },
    ]);
    const first = producer.identity!;
    await firstValueFrom(producer.transaction$((txn) => txn.send$({ topic, partition: 0, value: 'second' })));
    expect(producer.identity!.producerId).not.toBe(first.producerId);
    expect(await committedValues(topic)).toEqual(['held-1', 'held-2', 'second']);
  });

  it('an aborted transaction hides no committed record, whatever their offsets (rivvend hides by producer id and offset range)', async () => {
    const [a, b] = [unique('txn-range-a'), unique('txn-range-b')];
    await Promise.all([firstValueFrom(admin.createTopic$(a, 2)), firstValueFrom(admin.createTopic$(b, 2))]);
    const producer = await create(unique('txn'));
    // Committed records at low offsets on a/1, then a transaction writing b/0 far beyond them fails.
    await firstValueFrom(producer.transaction$((txn) => txn.publish$([{ topic: a, partition: 1, value: 'kept-1' }, { topic: a, partition: 1, value: 'kept-2' }])));
    await firstValueFrom(admin.publishBatch$(b, Array.from({ length: 5 }, (_, i) => ({ value: `filler-${i}` })), { partition: 0 }));
    const failure = new Error('transform failed');
    expect(await rejection(firstValueFrom(producer.transaction$((txn) => concat(txn.send$({ topic: b, partition: 0, value: 'dropped' }), throwError(() => failure)))))).toBe(failure);
    await firstValueFrom(producer.transaction$((txn) => txn.send$({ topic: b, partition: 1, value: 'kept-3' })));
    const committed = async (topic: string, partition: number) =>
      (await firstValueFrom(admin.consume$(topic, { partition, offset: 0n, maxMessages: 100, isolationLevel: 'read_committed' }))).map((r) => r.value.toString());
    expect(await committed(a, 1)).toEqual(['kept-1', 'kept-2']);
    expect(await committed(b, 0)).toEqual(['filler-0', 'filler-1', 'filler-2', 'filler-3', 'filler-4']);
    expect(await committed(b, 1)).toEqual(['kept-3']);
  });

  it('a transaction that takes longer than transactionTimeoutMs still commits: the broker holds it only while it commits', async () => {
    const topic = unique('txn-slow');
    await firstValueFrom(admin.createTopic$(topic, 1));
    const producer = await create(unique('txn'), 500);
    const results = await firstValueFrom(
      producer.transaction$((txn) =>
        concat(
          txn.send$({ topic, partition: 0, value: 'slow' }),
          // The work stalls for longer than the broker lets a transaction stay idle.
          defer(() => new Promise((resolve) => setTimeout(resolve, 800))).pipe(ignoreElements()),
          txn.send$({ topic, partition: 0, value: 'late' }),
        ),
      ),
    );
    expect(results.map((r) => r.offset)).toEqual([0n, 1n]);
    expect(await committedValues(topic)).toEqual(['slow', 'late']);
  });

  it('bounds what a transaction holds until its commit: a publish past bufferMemory is refused whole, typed, and the rest still commits', async () => {
    const topic = unique('txn-bounded');
    await firstValueFrom(admin.createTopic$(topic, 1));
    const producer = await firstValueFrom(TransactionalProducer.create$({ bootstrapServers: testBroker().address, transactionalId: unique('txn'), bufferMemory: 100 }));
    producers.push(producer);
    await firstValueFrom(producer.begin$());
    await lastValueFrom(producer.send$({ topic, partition: 0, value: 'x'.repeat(60) }), { defaultValue: undefined });
    const refused = await rejection(lastValueFrom(producer.send$({ topic, partition: 0, key: 'k', value: 'y'.repeat(40) }), { defaultValue: undefined }));
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).option).toBe('bufferMemory');
    expect((refused as Error).message).toMatch(/101 bytes.*bufferMemory \(100\)/);
    const bad = await rejection(lastValueFrom(producer.send$({ topic, partition: 0, value: 42 as unknown as string }), { defaultValue: undefined }));
    expect((bad as ConfigError).option).toBe('records[0].value');
    const results = await firstValueFrom(producer.commit$());
    expect(results).toEqual([{ topic, partition: 0, offset: 0n }]);
    expect(await committedValues(topic)).toEqual(['x'.repeat(60)]);
  });

  it('refuses previousProducerId, saying why there is no id to resume', async () => {
    const error = await rejection(
      firstValueFrom(TransactionalProducer.create$({ bootstrapServers: testBroker().address, transactionalId: 't', previousProducerId: 1n } as Parameters<typeof TransactionalProducer.create$>[0])),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/previousProducerId.*producer id of its own.*fence/s);
  });
});

describe('TransactionalProducer settings', () => {
  const refusal = async (config: object): Promise<ConfigError> => {
    const error = await rejection(firstValueFrom(TransactionalProducer.create$({ transactionalId: 't', ...config } as Parameters<typeof TransactionalProducer.create$>[0])));
    return configError(() => {
      throw error;
    });
  };

  it('works given a dead server first: bootstrapServers [127.0.0.1:1, live broker]', async () => {
    const topic = unique('txn-dead-first');
    await firstValueFrom(admin.createTopic$(topic, 1));
    const producer = await firstValueFrom(TransactionalProducer.create$({ bootstrapServers: ['127.0.0.1:1', testBroker().address], transactionalId: unique('txn') }));
    producers.push(producer);
    const [result] = await firstValueFrom(producer.transaction$((txn) => txn.send$({ topic, partition: 0, value: 'past the dead one' })));
    expect(result!.offset).toBe(0n);
    expect(await committedValues(topic)).toEqual(['past the dead one']);
  });

  it('takes clientId, logger, logLevel, socketFactory and the timeouts at top level and uses them', async () => {
    const lines: { message: string; fields: Record<string, unknown> }[] = [];
    const logger = {
      debug: () => undefined,
      info: (fields: Record<string, unknown>, message: string) => lines.push({ message, fields }),
      warn: () => undefined,
      error: () => undefined,
    };
    let opened = 0;
    const socketFactory: SocketFactory = { kind: 'counting-tcp', open: (address, onReady) => (opened++, tcpSocketFactory.open(address, onReady)) };
    const producer = await firstValueFrom(
      TransactionalProducer.create$({
        bootstrapServers: testBroker().address,
        transactionalId: unique('txn'),
        clientId: 'txn-settings',
        logger,
        logLevel: 'info',
        socketFactory,
        connectionTimeoutMs: 5_000,
        requestTimeoutMs: 5_000,
      }),
    );
    producers.push(producer);
    expect(opened).toBe(1);
    expect(lines.some((line) => line.message === 'connected')).toBe(true);
    expect(lines.some((line) => JSON.stringify(line.fields).includes('txn-settings'))).toBe(true);
  });

  it('refuses unknown keys with the closest name: the nested client, bootstrapServer, requestTimeout, retry typos', async () => {
    const base = { bootstrapServers: ['127.0.0.1:1'] };
    const cases: [object, string, string][] = [
      [{ ...base, client: { requestTimeoutMs: 1 } }, 'client', "TransactionalProducer has no option 'client'"],
      [{ bootstrapServer: '127.0.0.1:1' }, 'bootstrapServer', "did you mean 'bootstrapServers'?"],
      [{ ...base, requestTimeout: 3_000 }, 'requestTimeout', "did you mean 'requestTimeoutMs'?"],
      [{ ...base, retry: { maxAtempts: 3 } }, 'maxAtempts', "did you mean 'maxAttempts'?"],
      [{ ...base, connectionTimeoutMs: -1 }, 'connectionTimeoutMs', 'milliseconds'],
      [{ ...base, transactionTimeoutMs: 2 ** 31 }, 'transactionTimeoutMs', '2147483647'],
    ];
    for (const [config, option, message] of cases) {
      const error = await refusal(config);
      expect(error.option).toBe(option);
      expect(error.message).toContain(message);
    }
  });

  it('retry.maxAttempts passes over the server list that many times before create$ gives up', async () => {
    let opened = 0;
    const socketFactory: SocketFactory = { kind: 'counting-tcp', open: (address, onReady) => (opened++, tcpSocketFactory.open(address, onReady)) };
    const once = await rejection(firstValueFrom(TransactionalProducer.create$({ bootstrapServers: ['127.0.0.1:1'], transactionalId: 't', socketFactory })));
    expect(once).toBeInstanceOf(AllServersUnavailableError);
    expect(opened).toBe(1);
    opened = 0;
    const retry = { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 };
    const thrice = await rejection(firstValueFrom(TransactionalProducer.create$({ bootstrapServers: ['127.0.0.1:1'], transactionalId: 't', socketFactory, retry })));
    expect(thrice).toBeInstanceOf(AllServersUnavailableError);
    expect(opened).toBe(3);
  });
});
