/**
 * The transactional producer against the real broker: commit, abort on error, consumed offsets in
 * the transaction, fencing by a newer epoch; the shared connection settings at top level under the
 * names every component uses.
 */
import { concat, concatMap, defer, firstValueFrom, from, ignoreElements, throwError } from 'rxjs';
import { Client } from '../../src/client/client';
import { AllServersUnavailableError, ConfigError, ProducerFencedError, TimeoutError } from '../../src/errors';
import { tcpSocketFactory, type SocketFactory } from '../../src/transport/socket-factory';
import { TransactionalProducer } from '../../src/producer/transactional-producer';
import { configError, rejection } from '../support/rejection';
import { testBroker } from '../support/test-broker';

let admin: Client;
let seq = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${Date.now()}-${seq++}`;
const producers: TransactionalProducer[] = [];

beforeAll(async () => {
  admin = await firstValueFrom(Client.connect$(testBroker().address));
});
afterAll(async () => {
  await Promise.all(producers.map((p) => p.close()));
  await admin.close();
});

async function create(transactionalId: string, previousProducerId?: bigint, transactionTimeoutMs?: number): Promise<TransactionalProducer> {
  const producer = await firstValueFrom(TransactionalProducer.create$({ bootstrapServers: testBroker().address, transactionalId, previousProducerId, transactionTimeoutMs }));
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

  it('a newer epoch fences the old instance: typed, non-retriable, and it refuses further work', async () => {
    const topic = unique('txn-fence');
    await firstValueFrom(admin.createTopic$(topic, 1));
    const transactionalId = unique('txn');
    const old = await create(transactionalId);
    const newer = await create(transactionalId, old.identity.producerId);
    expect(newer.identity.producerId).toBe(old.identity.producerId);
    expect(newer.identity.producerEpoch).toBeGreaterThan(old.identity.producerEpoch);
    const error = await rejection(firstValueFrom(old.transaction$((txn) => txn.send$({ topic, partition: 0, value: 'zombie' }))));
    expect(error).toBeInstanceOf(ProducerFencedError);
    expect((error as ProducerFencedError).retriable).toBe(false);
    expect(old.isFenced()).toBe(true);
    expect(await rejection(firstValueFrom(old.begin$()))).toBeInstanceOf(ProducerFencedError);
    // Nothing the fenced instance wrote is visible to read_committed readers.
    expect(await committedValues(topic)).toEqual([]);
    // The newer instance works (aborting the transaction the fenced one began).
    await firstValueFrom(newer.transaction$((txn) => txn.send$({ topic, partition: 0, value: 'newer' })));
    expect(await committedValues(topic)).toEqual(['newer']);
  });

  it('a restarted instance (previous producer id) aborts the transaction its dead predecessor left open, then works', async () => {
    const topic = unique('txn-stale');
    await firstValueFrom(admin.createTopic$(topic, 1));
    const transactionalId = unique('txn');
    const dead = await create(transactionalId);
    await firstValueFrom(dead.begin$());
    await firstValueFrom(dead.publish$([{ topic, partition: 0, value: 'from-the-dead' }]));
    // The predecessor "crashes" here: no abort. Its record is visible until someone aborts it.
    expect(await committedValues(topic)).toEqual(['from-the-dead']);
    const successor = await create(transactionalId, dead.identity.producerId);
    await firstValueFrom(successor.transaction$((txn) => txn.send$({ topic, partition: 0, value: 'alive' })));
    expect(successor.staleTransactionsAborted).toBe(1);
    expect(await committedValues(topic)).toEqual(['alive']);
  });

  it('a transaction idle too close to its timeout is aborted instead of continued (the broker would leave it visible for good)', async () => {
    const topic = unique('txn-idle');
    await firstValueFrom(admin.createTopic$(topic, 1));
    const producer = await create(unique('txn'), undefined, 1_000);
    const error = await rejection(
      firstValueFrom(
        producer.transaction$((txn) =>
          concat(
            txn.send$({ topic, partition: 0, value: 'slow' }),
            // The scenario: the work stalls for longer than the transaction may stay idle.
            defer(() => new Promise((resolve) => setTimeout(resolve, 1_000))).pipe(ignoreElements()),
            txn.send$({ topic, partition: 0, value: 'too-late' }),
          ),
        ),
      ),
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect(await committedValues(topic)).toEqual([]);
    await firstValueFrom(producer.transaction$((txn) => txn.send$({ topic, partition: 0, value: 'next' })));
    expect(await committedValues(topic)).toEqual(['next']);
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
      [{ ...base, client: { requestTimeoutMs: 1 } }, 'client', 'use the connection settings themselves at the top level'],
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
