import { Consumer } from '../../src/consumer/consumer';
import { CONSUMER_DEFAULTS, ConsumerPresets, resolveConsumerConfig } from '../../src/consumer/consumer-config';
import { rangeAssignor, roundRobinAssignor, toGroupAssignments } from '../../src/consumer/assignors';
import { configError } from '../support/rejection';

describe('consumer config', () => {
  it('fills the rivven-client defaults', () => {
    const c = resolveConsumerConfig({ bootstrapServers: '127.0.0.1:9092', groupId: 'g', topics: ['t'] });
    expect(c).toMatchObject({
      bootstrapServers: ['127.0.0.1:9092'],
      clientId: 'rivven-rx-consumer',
      connectionTimeoutMs: 10_000,
      groupId: 'g',
      maxPollRecords: 500,
      maxPollIntervalMs: 5_000,
      enableAutoCommit: true,
      autoCommitIntervalMs: 5_000,
      isolationLevel: 'read_uncommitted',
      metadataRefreshIntervalMs: 300_000,
      retry: { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 10_000, multiplier: 2, jitter: 0.25 },
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 30_000,
      heartbeatIntervalMs: 3_000,
      autoOffsetReset: 'earliest',
      fetchConnections: 4,
    });
    expect(c.assignor).toBe(rangeAssignor);
    expect(c.assign).toBeUndefined();
    expect(CONSUMER_DEFAULTS.maxPollRecords).toBe(500);
  });

  it('clamps the heartbeat to a third of the session timeout', () => {
    expect(resolveConsumerConfig({ bootstrapServers: '127.0.0.1:9092', groupId: 'g', topics: ['t'], sessionTimeoutMs: 6_000, heartbeatIntervalMs: 5_000 }).heartbeatIntervalMs).toBe(2_000);
  });

  it('has the read_committed preset', () => {
    expect(resolveConsumerConfig({ bootstrapServers: '127.0.0.1:9092', groupId: 'g', topics: ['t'], ...ConsumerPresets.readCommitted }).isolationLevel).toBe('read_committed');
  });

  it.each([
    [{}, 'topics'],
    [{ topics: ['t'], assign: { t: [0] } }, 'assign'],
    [{ assign: { t: [-1] } }, 'assign'],
    [{ assign: {} }, 'assign'],
    [{ topics: ['t'], maxPollRecords: 0 }, 'maxPollRecords'],
    [{ topics: ['t'], maxPollRecords: 10_001 }, 'maxPollRecords'],
    [{ topics: ['t'], sessionTimeoutMs: 1.5 }, 'sessionTimeoutMs'],
    [{ topics: ['t'], isolationLevel: 'dirty' }, 'isolationLevel'],
    [{ topics: ['t'], autoOffsetReset: 'middle' }, 'autoOffsetReset'],
    [{ topics: ['t'], groupId: '' }, 'groupId'],
    [{ topics: ['t'], bootstrapServers: [] }, 'bootstrapServers'],
    [{ topics: ['t'], retry: { initialDelayMs: 500, maxDelayMs: 100 } }, 'retry.maxDelayMs'],
    [{ topics: ['t'], retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
    [{ topics: ['t'], retry: { maxAtempts: 3 } }, 'maxAtempts'],
    [{ topics: ['t'], reconnectBackoffMs: 100 }, 'reconnectBackoffMs'],
    [{ topics: ['t'], scheduler: {} }, 'scheduler'],
    [{ topics: ['t'], requestTimeoutMs: 1.5 }, 'requestTimeoutMs'],
    [{ topics: ['t'], bootstrapServers: ['nonsense'] }, 'bootstrapServers[0]'],
    [{ topics: ['t'], requestTimeoutMs: 2 ** 31 }, 'requestTimeoutMs'],
    [{ topics: ['t'], clientId: 42 }, 'clientId'],
    [{ topics: ['t'], socketFactory: {} }, 'socketFactory'],
    [{ topics: ['t'], tls: 'yes' }, 'tls'],
    [{ topics: ['t'], logLevel: 'loud' }, 'logLevel'],
    [{ topics: ['t'], fetchMaxWaitMs: -1 }, 'fetchMaxWaitMs'],
    [{ topics: ['t'], fetchConnections: 0 }, 'fetchConnections'],
    [{ topics: ['t'], fetchConnections: 257 }, 'fetchConnections'],
    [{ topics: ['t'], maxPollIntervalMs: 0 }, 'maxPollIntervalMs'],
    [{ topics: ['t'], metadataRefreshIntervalMs: -5 }, 'metadataRefreshIntervalMs'],
    [{ topics: ['t'], assignor: {} }, 'assignor'],
  ])('rejects %j naming %s', (config, option) => {
    expect(configError(() => Consumer.create({ bootstrapServers: '127.0.0.1:9092', ...config } as never)).option).toBe(option);
  });

  it('a group consumer (topics) needs a groupId: a ConfigError says what it is and gives an example; a static one (assign) may leave it out', () => {
    const error = configError(() => Consumer.create({ bootstrapServers: '127.0.0.1:9092', topics: ['orders'] }));
    expect(error.option).toBe('groupId');
    expect(error.message).toMatch(/needs a groupId/);
    expect(error.message).toContain("groupId: 'billing'");
    // Another mistake is reported first.
    expect(configError(() => Consumer.create({ bootstrapServers: '127.0.0.1:9092', topics: ['orders'], maxPollRecords: 0 })).option).toBe('maxPollRecords');
    expect(resolveConsumerConfig({ bootstrapServers: '127.0.0.1:9092', assign: { t: [0] } }).groupId).toBe('default-group');
    expect(configError(() => Consumer.create({ bootstrapServers: '127.0.0.1:9092', topics: ['orders'], groupId: '' })).option).toBe('groupId');
  });

  it('has no default server: bootstrapServers is required, as for every component', () => {
    expect(configError(() => Consumer.create({ topics: ['t'] } as never))).toMatchObject({ option: 'bootstrapServers' });
  });

  it('names the retry field a typo meant', () => {
    expect(() => resolveConsumerConfig({ bootstrapServers: '127.0.0.1:9092', groupId: 'g', topics: ['t'], retry: { maxAtempts: 3 } as never })).toThrow(/did you mean 'maxAttempts'/);
  });

  it('refuses a key no name is close to by naming it and listing the options there are', () => {
    const error = configError(() => resolveConsumerConfig({ bootstrapServers: '127.0.0.1:9092', groupId: 'g', topics: ['t'], maxReconnectAttempts: 3 } as never));
    expect(error.option).toBe('maxReconnectAttempts');
    expect(error.message).toContain("Consumer has no option 'maxReconnectAttempts'");
    expect(error.message).toMatch(/its options: .*\bretry\b/);
  });

  it('takes one server as a string', () => {
    expect(resolveConsumerConfig({ groupId: 'g', topics: ['t'], bootstrapServers: '127.0.0.1:9999' }).bootstrapServers).toEqual(['127.0.0.1:9999']);
  });

  it('accepts a static assignment and normalises it', () => {
    const c = resolveConsumerConfig({ bootstrapServers: '127.0.0.1:9092', assign: { t: [2, 0, 2] } });
    expect([...c.assign!]).toEqual([['t', [0, 2]]]);
  });
});

describe('assignors', () => {
  const members = [
    { memberId: 'c', topics: ['a', 'b'] },
    { memberId: 'a', topics: ['a', 'b'] },
    { memberId: 'b', topics: ['a'] },
  ];
  const counts = new Map([
    ['a', 7],
    ['b', 2],
  ]);

  function owners(plan: Map<string, Map<string, number[]>>) {
    const seen = new Map<string, string[]>();
    for (const [member, topics] of plan) for (const [topic, parts] of topics) for (const p of parts) seen.set(`${topic}/${p}`, [...(seen.get(`${topic}/${p}`) ?? []), member]);
    return seen;
  }

  it.each([rangeAssignor, roundRobinAssignor])('%s gives every partition to exactly one subscriber', (assignor) => {
    const plan = assignor.assign(members, counts);
    const seen = owners(plan);
    expect(seen.size).toBe(9);
    for (const [tp, who] of seen) {
      expect(who).toHaveLength(1);
      if (tp.startsWith('b/')) expect(who[0]).not.toBe('b');
    }
    const sizes = [...plan.values()].map((t) => [...t.values()].reduce((n, p) => n + p.length, 0));
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(assignor === rangeAssignor ? 3 : 2);
  });

  it('range gives contiguous ranges in member-id order', () => {
    const plan = rangeAssignor.assign(members, counts);
    expect(plan.get('a')!.get('a')).toEqual([0, 1, 2]);
    expect(plan.get('b')!.get('a')).toEqual([3, 4]);
    expect(plan.get('c')!.get('a')).toEqual([5, 6]);
    expect(plan.get('a')!.get('b')).toEqual([0]);
    expect(plan.get('c')!.get('b')).toEqual([1]);
  });

  it('round-robin deals partitions in turn', () => {
    const plan = roundRobinAssignor.assign([{ memberId: 'x', topics: ['t'] }, { memberId: 'y', topics: ['t'] }], new Map([['t', 5]]));
    expect(plan.get('x')!.get('t')).toEqual([0, 2, 4]);
    expect(plan.get('y')!.get('t')).toEqual([1, 3]);
  });

  it('turns a plan into the SyncGroup shape, members without partitions included', () => {
    const plan = rangeAssignor.assign([{ memberId: 'x', topics: ['t'] }, { memberId: 'y', topics: ['t'] }], new Map([['t', 1]]));
    expect(toGroupAssignments(plan)).toEqual([
      ['x', [['t', [0]]]],
      ['y', []],
    ]);
  });
});

describe('consumer config: acknowledgement, timeouts, value framing and decoding budgets', () => {
  it('defaults to manual acks, a 30 s request timeout, detected framing, 64 MiB per fetch and 256 MiB in flight', () => {
    expect(resolveConsumerConfig({ bootstrapServers: '127.0.0.1:9092', groupId: 'g', topics: ['t'] })).toMatchObject({
      ackMode: 'manual',
      requestTimeoutMs: 30_000,
      valueFraming: 'detect',
      maxFetchDecodedBytes: 64 * 1024 * 1024,
      maxInFlightDecodedBytes: 256 * 1024 * 1024,
    });
    expect(resolveConsumerConfig({ bootstrapServers: '127.0.0.1:9092', groupId: 'g', topics: ['t'], ackMode: 'onEmit', valueFraming: 'rivven-core', requestTimeoutMs: 500 })).toMatchObject({
      ackMode: 'onEmit',
      valueFraming: 'rivven-core',
      requestTimeoutMs: 500,
    });
  });

  it.each([
    [{ ackMode: 'auto' }, 'ackMode'],
    [{ valueFraming: 'gzip' }, 'valueFraming'],
    [{ requestTimeoutMs: 0 }, 'requestTimeoutMs'],
    [{ requestTimeoutMs: 2 ** 31 }, 'requestTimeoutMs'],
    [{ maxFetchDecodedBytes: -1 }, 'maxFetchDecodedBytes'],
    [{ maxFetchDecodedBytes: 1024, maxInFlightDecodedBytes: 512 }, 'maxInFlightDecodedBytes'],
  ])('refuses %p naming %s', (bad, option) => {
    expect(configError(() => resolveConsumerConfig({ bootstrapServers: '127.0.0.1:9092', groupId: 'g', topics: ['t'], ...(bad as object) })).option).toBe(option);
  });
});

describe('consumer option names', () => {
  it('a typo is a ConfigError naming the closest option', () => {
    expect(() => resolveConsumerConfig({ bootstrapServers: ['127.0.0.1:9092'], groupId: 'g', topics: ['t'], maxPollRecord: 10 } as never)).toThrow(
      /Consumer has no option 'maxPollRecord'; did you mean 'maxPollRecords'\?/,
    );
    expect(() => resolveConsumerConfig({ bootstrapServers: ['127.0.0.1:9092'], groupId: 'g', topics: ['t'], requestTimeout: 10 } as never)).toThrow(
      /did you mean 'requestTimeoutMs'\?/,
    );
  });
});
