/**
 * The Producer's settings and unknown topics, against the real broker: typos are refused with the
 * closest name, durations above setTimeout's limit are refused, and a topic that does not exist
 * fails the same way whether a record names a partition or not (rivvend would create the topic on
 * a publish); a partition past the topic's count is refused before anything is sent.
 */
import { firstValueFrom } from 'rxjs';
import { Client } from '../../src/client/client';
import { ServerError } from '../../src/errors';
import { Producer } from '../../src/producer/producer';
import { testBroker } from '../support/test-broker';
import { configError } from '../support/rejection';

const unique = (prefix: string) => `${prefix}-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

describe('Producer settings', () => {
  it('a typo in an option name is a ConfigError naming the closest option', () => {
    const error = configError(() => Producer.create({ bootstrapServers: [testBroker().address], deliveryTimeoutMs: 5_000 } as never));
    expect(error.message).toContain("'deliveryTimeoutMs'");
    expect(error.message).toContain("did you mean 'deliveryTimeout'?");
    expect(configError(() => Producer.create({ bootstrapServers: [testBroker().address], lingerMS: 5 } as never)).message).toContain("'lingerMs'");
  });

  it('a duration above setTimeout’s limit is refused (it would fire at once)', () => {
    expect(configError(() => Producer.create({ bootstrapServers: [testBroker().address], deliveryTimeout: 2 ** 31 })).message).toContain('2147483647');
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
    const producer = Producer.create({ bootstrapServers: [testBroker().address], deliveryTimeout: 10_000 });
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
