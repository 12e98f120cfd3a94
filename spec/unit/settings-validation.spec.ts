import fc from 'fast-check';
import { closestName, durationMs, integerIn, MAX_TIMER_MS, oneOf, optionsObject, otherClientName, rejectUnknownKeys } from '../../src/settings-validation';
import { resolveConsumerConfig } from '../../src/consumer/consumer-config';
import { resolveProducerConfig } from '../../src/producer/producer-config';
import { resolveTransactionalConfig } from '../../src/producer/transactional-config';
import { configError } from '../support/rejection';

const KNOWN = ['bootstrapServers', 'clientId', 'requestTimeoutMs', 'connectionTimeoutMs', 'maxPollRecords', 'groupId'];

describe('closestName', () => {
  it.each([
    ['requestTimeout', 'requestTimeoutMs'],
    ['requesttimeoutms', 'requestTimeoutMs'],
    ['bootstrapServer', 'bootstrapServers'],
    ['bootstrapSevers', 'bootstrapServers'],
    ['groupID', 'groupId'],
    ['maxPolRecords', 'maxPollRecords'],
    ['clinetId', 'clientId'],
  ])('%s → %s', (typo, meant) => {
    expect(closestName(typo, KNOWN)).toBe(meant);
  });

  it('offers nothing for a name that is nowhere near', () => {
    expect(closestName('compression', KNOWN)).toBeUndefined();
  });

  it('never throws and only ever suggests a known name', () => {
    fc.assert(
      fc.property(fc.string(), (name) => {
        const guess = closestName(name, KNOWN);
        expect(guess === undefined || KNOWN.includes(guess)).toBe(true);
      }),
    );
  });
});

describe('rejectUnknownKeys', () => {
  it('names the unknown key and the one meant', () => {
    const error = configError(() => rejectUnknownKeys('Client.connect$', { requestTimeout: 3000 }, KNOWN));
    expect(error.message).toContain("'requestTimeout'");
    expect(error.message).toContain("did you mean 'requestTimeoutMs'?");
    expect(error.message).toContain('Client.connect$');
  });

  it('refuses a typo even when its value is undefined', () => {
    configError(() => rejectUnknownKeys('Consumer', { groupID: undefined }, KNOWN));
  });

  it('accepts known keys', () => {
    expect(() => rejectUnknownKeys('Consumer', { groupId: 'g', clientId: undefined }, KNOWN)).not.toThrow();
  });
});

describe('names from other clients (KafkaJS, the Java client, librdkafka, franz-go) get a "did you mean"', () => {
  const hint = (create: () => unknown) => configError(create).message;

  it.each([
    // [component, option as another client spells it, ours]
    ['Producer', { idempotent: true }, 'enableIdempotence'],
    ['Producer', { compression: 'lz4' }, 'compressionType'],
    ['Producer', { 'compression.type': 'lz4' }, 'compressionType'],
    ['Producer', { 'enable.idempotence': true }, 'enableIdempotence'],
    ['Producer', { 'linger.ms': 5 }, 'lingerMs'],
    ['Producer', { maxInFlightRequestsPerConnection: 5 }, 'maxInFlightRequests'],
    ['Producer', { brokers: ['127.0.0.1:9092'] }, 'bootstrapServers'],
    ['Consumer', { fromBeginning: true }, 'autoOffsetReset'],
    ['Consumer', { 'group.id': 'billing' }, 'groupId'],
    ['Consumer', { group_id: 'billing' }, 'groupId'],
    ['Consumer', { consumerGroup: 'billing' }, 'groupId'],
    ['Consumer', { autoCommit: false }, 'enableAutoCommit'],
    ['Consumer', { sessionTimeout: 10_000 }, 'sessionTimeoutMs'],
    ['Consumer', { 'session.timeout.ms': 10_000 }, 'sessionTimeoutMs'],
    ['Consumer', { 'auto.offset.reset': 'earliest' }, 'autoOffsetReset'],
    ['Consumer', { readUncommitted: true }, 'isolationLevel'],
    ['Consumer', { topic: 'orders' }, 'topics'],
    ['Consumer', { ssl: true }, 'tls'],
    ['Consumer', { sasl: {} }, 'auth'],
    ['Consumer', { 'bootstrap.servers': 'a:1' }, 'bootstrapServers'],
    ['Consumer', { 'client.id': 'x' }, 'clientId'],
    ['TransactionalProducer', { transactionTimeout: 5_000 }, 'transactionTimeoutMs'],
  ] as const)('%s %j → %s', (component, options, ours) => {
    const create = {
      Producer: () => resolveProducerConfig({ bootstrapServers: '127.0.0.1:9092', ...options } as never),
      Consumer: () => resolveConsumerConfig({ bootstrapServers: '127.0.0.1:9092', groupId: 'g', topics: ['t'], ...options } as never),
      TransactionalProducer: () => resolveTransactionalConfig({ bootstrapServers: '127.0.0.1:9092', transactionalId: 'tx', ...options } as never),
    }[component];
    const error = configError(create);
    expect(error.option).toBe(Object.keys(options)[0]);
    expect(error.message).toContain(`did you mean '${ours}'?`);
  });

  it('says how to write the value where it differs too', () => {
    expect(hint(() => resolveConsumerConfig({ bootstrapServers: 'a:1', groupId: 'g', topics: ['t'], fromBeginning: true } as never))).toContain("autoOffsetReset: 'earliest'");
    expect(hint(() => resolveProducerConfig({ bootstrapServers: 'a:1', compression: 'gzip' } as never))).toContain("'none' | 'lz4' | 'snappy' | 'zstd'");
  });

  it('suggests only an option the component has', () => {
    // A consumer has no compression: no producer option is suggested to it.
    expect(hint(() => resolveConsumerConfig({ bootstrapServers: 'a:1', groupId: 'g', topics: ['t'], compression: 'lz4' } as never))).not.toContain('did you mean');
    expect(otherClientName('idempotent', ['groupId'])).toBeUndefined();
    expect(otherClientName('toString', ['groupId'])).toBeUndefined();
  });
});

describe('values', () => {
  it('durations above setTimeout’s limit are refused (they would fire at once)', () => {
    expect(durationMs('deliveryTimeoutMs', MAX_TIMER_MS)).toBe(MAX_TIMER_MS);
    expect(configError(() => durationMs('deliveryTimeoutMs', MAX_TIMER_MS + 1)).message).toContain('2147483647');
    configError(() => durationMs('x', Number.NaN));
    configError(() => durationMs('x', '10'));
    configError(() => durationMs('x', -1));
  });

  it('integers, enumerations and options objects', () => {
    expect(integerIn('n', 3, 1, 5)).toBe(3);
    configError(() => integerIn('n', 3.5, 1, 5));
    configError(() => integerIn('n', 6, 1, 5));
    expect(oneOf('mode', 'a', ['a', 'b'] as const)).toBe('a');
    expect(configError(() => oneOf('mode', 'c', ['a', 'b'] as const)).message).toContain("'a', 'b'");
    expect(optionsObject('X', undefined)).toEqual({});
    configError(() => optionsObject('X', 9092 as unknown as object));
  });
});
