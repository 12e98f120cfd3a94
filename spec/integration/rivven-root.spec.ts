/**
 * The root `Rivven` object against the real broker: one set of settings, every component made from
 * it works with a dead address listed first, typos and repeated shared settings are refused, and
 * close() closes everything it made.
 */
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { Rivven } from '../../src/rivven';
import { ConfigError } from '../../src/errors';
import { freePort } from '../support/broker-process';
import { unique } from '../support/names';
import { pingLatency } from '../support/ping';
import { testBroker } from '../support/test-broker';
import { configError } from '../support/rejection';


describe('Rivven', () => {
  it('every component works given [a dead address, a live one]; close() closes them all', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const rivven = new Rivven({ bootstrapServers: [dead, testBroker().address], clientId: 'root-test', connectionTimeoutMs: 2_000, logger: null });
    const topic = unique('root');
    const admin = await firstValueFrom(rivven.admin$());
    await firstValueFrom(admin.createTopic$(topic, 2));

    const client = rivven.client({ circuitBreakerFailureThreshold: 1 });
    await pingLatency(client, () => client.health().servers.find((s) => s.address === testBroker().address)!.requests);

    const producer = rivven.producer({ lingerMs: 1 });
    const sent = await firstValueFrom(producer.send$({ topic, key: 'k', value: 'hello' }));

    const consumer = rivven.consumer({ groupId: unique('root-group'), assign: { [topic]: [sent.partition] }, ackMode: 'onEmit' });
    const [record] = await lastValueFrom(consumer.records$.pipe(take(1), toArray()));
    expect(record!.value.toString()).toBe('hello');

    const txn = await firstValueFrom(rivven.transactionalProducer$({ transactionalId: unique('root-txn') }));
    await firstValueFrom(txn.transaction$((t) => t.publish$([{ topic, partition: 0, value: 'in a transaction' }])), { defaultValue: undefined });

    await rivven.close();
    expect(producer.health().pendingRecords).toBe(0);
    expect(consumer.health().state).toBe('closed');
    expect(admin.health().state).toBe('closed');
    expect(() => rivven.producer()).toThrow(ConfigError);
  });

  it('a typo in a shared setting is a ConfigError naming the closest one', () => {
    expect(configError(() => new Rivven({ bootstrapServers: ['127.0.0.1:9092'], requestTimeout: 3000 } as never)).message).toContain(
      "did you mean 'requestTimeoutMs'?",
    );
    expect(configError(() => new Rivven({ bootstrapServer: '127.0.0.1:9092' } as never)).message).toContain("did you mean 'bootstrapServers'?");
    configError(() => new Rivven({ bootstrapServers: [] }));
    configError(() => new Rivven({ bootstrapServers: ['not-an-address'] }));
  });

  it('a component repeating a shared setting is refused; a single host:port string is accepted', async () => {
    const rivven = new Rivven({ bootstrapServers: testBroker().address, logger: null });
    try {
      expect(configError(() => rivven.producer({ clientId: 'x' } as never)).message).toContain('set it once on the Rivven object');
      configError(() => rivven.consumer({ groupId: 'g', topics: ['t'], bootstrapServers: ['a:1'] } as never));
      configError(() => rivven.client({ servers: ['a:1'] } as never));
      // A typo in a component's own option is refused by the component.
      configError(() => rivven.producer({ lingerMS: 1 } as never));
      expect(rivven.bootstrapServers).toEqual([testBroker().address]);
    } finally {
      await rivven.close();
    }
  });
});
