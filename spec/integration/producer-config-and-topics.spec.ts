/**
 * The Producer's settings and unknown topics, against the real broker: the shared connection
 * settings under the names every component uses, typos refused with the closest name (and acks
 * saying why it would have no effect), durations above setTimeout's limit refused, presets as plain
 * objects, and a topic that does not exist
 * fails the same way whether a record names a partition or not (rivvend would create the topic on
 * a publish); a partition past the topic's count is refused before anything is sent.
 */
import { firstValueFrom } from 'rxjs';
import { Client } from '../../src/client/client';
import { AllServersUnavailableError, ServerError } from '../../src/errors';
import { Producer } from '../../src/producer/producer';
import { ProducerPresets } from '../../src/producer/producer-config';
import { connectionOptionsOf } from '../../src/transport/connection-options';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';
import { configError } from '../support/rejection';


describe('Producer settings', () => {
  it('a typo in an option name is a ConfigError naming the closest option', () => {
    const error = configError(() => Producer.create({ bootstrapServers: [testBroker().address], deliveryTimeout: 5_000 } as never));
    expect(error.message).toContain("'deliveryTimeout'");
    expect(error.message).toContain("did you mean 'deliveryTimeoutMs'?");
    expect(configError(() => Producer.create({ bootstrapServers: [testBroker().address], lingerMS: 5 } as never)).message).toContain("'lingerMs'");
  });

  it('the durations of every component end in Ms: requestTimeout, connectionTimeout, metadataMaxAge are typos', () => {
    for (const [typo, meant] of [
      ['requestTimeout', 'requestTimeoutMs'],
      ['connectionTimeout', 'connectionTimeoutMs'],
      ['metadataMaxAge', 'metadataMaxAgeMs'],
    ] as const) {
      const error = configError(() => Producer.create({ bootstrapServers: [testBroker().address], [typo]: 3_000 } as never));
      expect(error.option).toBe(typo);
      expect(error.message).toContain(`did you mean '${meant}'?`);
    }
  });

  it('a typo inside retry names the retry field it meant', () => {
    const error = configError(() => Producer.create({ bootstrapServers: [testBroker().address], retry: { maxAtempts: 3 } as never }));
    expect(error.option).toBe('maxAtempts');
    expect(error.message).toContain("did you mean 'maxAttempts'?");
    expect(configError(() => Producer.create({ bootstrapServers: [testBroker().address], retry: { maxAttempts: 0 } })).option).toBe('retry.maxAttempts');
  });

  it('an option no name is close to is refused naming it and listing the options there are (retries, retryBackoffMs)', () => {
    for (const name of ['retries', 'retryBackoffMs']) {
      const error = configError(() => Producer.create({ bootstrapServers: [testBroker().address], [name]: 3 } as never));
      expect(error.option).toBe(name);
      expect(error.message).toContain(`Producer has no option '${name}'`);
      expect(error.message).toMatch(/its options: .*\bretry\b/);
    }
  });

  it('acks is refused saying why it would have no effect (rivvend acknowledges after its durable write whatever is asked)', () => {
    for (const acks of [0, 1, -1]) {
      const error = configError(() => Producer.create({ bootstrapServers: [testBroker().address], acks } as never));
      expect(error.option).toBe('acks');
      expect(error.message).toContain('rivvend 0.0.22 acknowledges every write after its durable write whatever acks asks');
      expect(error.message).toContain('remove it');
      expect(error.message).not.toContain('has no option');
    }
  });

  it('a duration above setTimeout’s limit is refused (it would fire at once)', () => {
    expect(configError(() => Producer.create({ bootstrapServers: [testBroker().address], deliveryTimeoutMs: 2 ** 31 })).message).toContain('2147483647');
    expect(configError(() => Producer.create({ bootstrapServers: [testBroker().address], retry: { maxDelayMs: 2 ** 31 } })).option).toBe('retry.maxDelayMs');
  });

  it('retry.maxAttempts counts the first attempt: maxAttempts 1 gives up at the first failure', async () => {
    const producer = Producer.create({ bootstrapServers: ['127.0.0.1:1'], retry: { maxAttempts: 1 }, deliveryTimeoutMs: 60_000 });
    try {
      const error = await firstValueFrom(producer.send$({ topic: unique('unreachable'), value: 'v' })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AllServersUnavailableError);
      expect(producer.health().retries).toBe(0);
    } finally {
      await producer.close();
    }
  });

  it('takes a single bootstrap server as a string', async () => {
    const topic = await topicWith(1);
    const producer = Producer.create({ bootstrapServers: testBroker().address });
    try {
      expect(producer.config.bootstrapServers).toEqual([testBroker().address]);
      expect((await firstValueFrom(producer.send$({ topic, partition: 0, value: 'one server' }))).offset).toBe(0n);
    } finally {
      await producer.close();
    }
    expect(configError(() => Producer.create({ bootstrapServers: 'no-port' })).option).toBe('bootstrapServers[0]');
  });

  it('presets are frozen plain option objects, spread and overridden', async () => {
    for (const preset of Object.values(ProducerPresets)) {
      expect(Object.isFrozen(preset)).toBe(true);
      expect(Object.values(preset).some((value) => typeof value === 'function')).toBe(false);
    }
    expect(Object.isFrozen(ProducerPresets)).toBe(true);
    const producer = Producer.create({ ...ProducerPresets.highThroughput, bootstrapServers: testBroker().address, lingerMs: 5 });
    try {
      expect(producer.config).toMatchObject({ batchSize: 65_536, compressionType: 'lz4', connections: 8, lingerMs: 5 });
      const topic = await topicWith(1);
      expect((await firstValueFrom(producer.send$({ topic, partition: 0, value: 'preset' }))).offset).toBe(0n);
    } finally {
      await producer.close();
    }
    expect(Producer.create({ ...ProducerPresets.exactlyOnce, bootstrapServers: 'a:1' }).config).toMatchObject({
      enableIdempotence: true,
      retry: { maxAttempts: Number.POSITIVE_INFINITY },
    });
  });

  it('hands the shared connection settings to its connections under the same names', () => {
    const socketFactory = { kind: 'test', open: () => undefined as never };
    const shared = {
      clientId: 'orders',
      connectionTimeoutMs: 1_234,
      requestTimeoutMs: 5_678,
      tls: { serverName: 'broker' },
      auth: { mechanism: 'scram-sha-256' as const, username: 'u', password: 'p' },
      socketFactory,
      logger: null,
      logLevel: 'error' as const,
    };
    const producer = Producer.create({ bootstrapServers: 'a:1', ...shared });
    expect(connectionOptionsOf(producer.config)).toEqual(shared);
    expect(configError(() => Producer.create({ bootstrapServers: 'a:1', clientId: '' })).option).toBe('clientId');
    expect(configError(() => Producer.create({ bootstrapServers: 'a:1', socketFactory: {} as never })).option).toBe('socketFactory');
  });

  it('takes the shared connection settings: logger, logLevel, socketFactory', async () => {
    const lines: string[] = [];
    const logger = { debug: () => undefined, info: (_f: object, m: string) => lines.push(m), warn: () => undefined, error: () => undefined };
    const producer = Producer.create({ bootstrapServers: [testBroker().address], logger, logLevel: 'info' });
    try {
      await firstValueFrom(producer.refreshMetadata$(await topicWith(1)));
      expect(lines).toContain('connected');
    } finally {
      await producer.close();
    }
  });
});

async function topicWith(partitions: number): Promise<string> {
  const admin = await firstValueFrom(Client.connect$(testBroker().address));
  try {
    const topic = unique('producer-topics');
    await firstValueFrom(admin.createTopic$(topic, partitions));
    return topic;
  } finally {
    await admin.close();
  }
}

describe('topics that do not exist', () => {
  it('fails keyed, keyless and explicit-partition sends alike, and creates nothing', async () => {
    const topic = unique('missing');
    const producer = Producer.create({ bootstrapServers: [testBroker().address], deliveryTimeoutMs: 10_000 });
    try {
      for (const record of [{ topic, value: 'v' }, { topic, key: 'k', value: 'v' }, { topic, partition: 0, value: 'v' }]) {
        const error = await firstValueFrom(producer.send$(record)).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(ServerError);
        expect((error as ServerError).serverCode).toBe('UNKNOWN_TOPIC_OR_PARTITION');
        expect((error as ServerError).retriable).toBe(false);
      }
    } finally {
      await producer.close();
    }
    const admin = await firstValueFrom(Client.connect$(testBroker().address));
    try {
      expect(await firstValueFrom(admin.listTopics$())).not.toContain(topic);
    } finally {
      await admin.close();
    }
  });

  it('a partition past the topic’s count is a ConfigError before anything is sent', async () => {
    const topic = await topicWith(2);
    const producer = Producer.create({ bootstrapServers: [testBroker().address] });
    try {
      await expect(firstValueFrom(producer.send$({ topic, partition: 2, value: 'v' }))).rejects.toThrow(/has 2 partition\(s\) \(0\.\.1\), got 2/);
      const ok = await firstValueFrom(producer.send$({ topic, partition: 1, value: 'v' }));
      expect(ok.partition).toBe(1);
    } finally {
      await producer.close();
    }
  });
});
