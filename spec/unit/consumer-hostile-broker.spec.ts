/**
 * The Consumer against a hostile broker (issue 16, consumer side): well-formed frames, built with
 * our own encoders, with content meant to make it spin, wait, over-deliver or allocate without
 * bound. Each case ends in a typed error or a bounded success, fast.
 */
import type { Subscription } from 'rxjs';
import { Consumer } from '../../src/consumer/consumer';
import type { ConsumerConfig } from '../../src/consumer/consumer-config';
import type { ConsumerRecord } from '../../src/consumer/consumer-record';
import { MAX_NO_PROGRESS, MAX_PROTOCOL_VIOLATIONS } from '../../src/consumer/fetch-loop';
import { ConfigError, ProtocolError, ThrottledError, RivvenTimeoutError } from '../../src/errors';
import { compressValue } from '../../src/protocol/compression';
import { memoryWatch, records, startHostileConsumerBroker, zstdBombValue, type HostileConsumerBroker, type HostileConsumerBrokerOptions } from '../support/hostile-consumer-broker';
import { until } from '../support/wait';

const MiB = 1024 * 1024;

interface Run {
  consumer: Consumer;
  broker: HostileConsumerBroker;
  seen: ConsumerRecord[];
  /** Resolves with the stream's error (or undefined when it completes), or 'timeout'. */
  ended(timeoutMs: number): Promise<unknown>;
  stop(): Promise<void>;
}

async function run(options: HostileConsumerBrokerOptions, config: Partial<ConsumerConfig> = {}, ack = true): Promise<Run> {
  const broker = await startHostileConsumerBroker(options);
  const consumer = Consumer.create({ bootstrapServers: [broker.address], groupId: 'hostile', assign: { t: [0] }, enableAutoCommit: false, ...config });
  const seen: ConsumerRecord[] = [];
  let settle: (outcome: unknown) => void = () => undefined;
  const outcome = new Promise<unknown>((resolve) => (settle = resolve));
  const subscription: Subscription = consumer.records$.subscribe({
    next: (record) => {
      seen.push(record);
      if (ack) record.ack();
    },
    error: (error: unknown) => settle(error),
    complete: () => settle(undefined),
  });
  return {
    consumer,
    broker,
    seen,
    ended: (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([outcome, new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))]).finally(() => clearTimeout(timer));
    },
    stop: async () => {
      subscription.unsubscribe();
      await consumer.close();
      await broker.stop();
    },
  };
}

describe('Consumer against a hostile broker', () => {
  it('a broker that answers every Consume with offset 0: no spin — a bounded request rate, then a ProtocolError', async () => {
    const r = await run({ consume: () => ({ type: 'Messages', messages: records(0n, 1) }) });
    try {
      const started = Date.now();
      const error = await r.ended(20_000);
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as Error).message).toMatch(/only with records below it/);
      expect(r.seen.map((x) => x.offset)).toEqual([0n]);
      // The first fetch plus MAX_NO_PROGRESS backed-off ones: not thousands per second.
      expect(r.broker.consumes()).toBeLessThanOrEqual(MAX_NO_PROGRESS + 2);
      console.log(`offset-0 broker: ProtocolError after ${Date.now() - started} ms and ${r.broker.consumes()} Consume requests`);
      expect(r.consumer.health().duplicatesDropped).toBeGreaterThan(0);
    } finally {
      await r.stop();
    }
  });

  it('a broker that answers every Consume empty while its log end is far ahead: backs off, then a ProtocolError', async () => {
    const r = await run({ consume: () => ({ type: 'Messages', messages: [] }), bounds: { earliest: 0n, latest: 1_000_000n } });
    try {
      const started = Date.now();
      const error = await r.ended(20_000);
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as Error).message).toMatch(/returns no record at or after offset/);
      // Each round is a fetch and a read-uncommitted re-read: bounded, not a spin.
      expect(r.broker.consumes()).toBeLessThanOrEqual(2 * (MAX_NO_PROGRESS + 2));
      console.log(`empty-answer broker: ProtocolError after ${Date.now() - started} ms and ${r.broker.consumes()} Consume requests`);
    } finally {
      await r.stop();
    }
  });

  it('100,000 records for a request of 500: at most maxPollRecords emitted per credit window, the rest fetched again', async () => {
    const r = await run(
      { consume: (request) => ({ type: 'Messages', messages: records(request.offset, 100_000) }) },
      { maxPollRecords: 500, maxPollIntervalMs: 300 },
      false,
    );
    try {
      // The partition waits for acknowledgements once its window is used: health$ says so.
      await until(() => r.consumer.health().stalled.length > 0, 10_000, 'a stalled partition in health()');
      expect(r.seen.length).toBe(500);
      expect(r.seen.map((x) => x.offset)).toEqual(Array.from({ length: 500 }, (_, i) => BigInt(i)));
      r.seen[r.seen.length - 1]!.ack();
      await until(() => r.seen.length >= 1_000, 10_000, '1,000 records seen');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(r.seen.length).toBe(1_000);
      expect(r.seen[999]!.offset).toBe(999n);
    } finally {
      await r.stop();
    }
  });

  it('a reply of the wrong type to Consume: the connection is reset, bounded attempts, then a ProtocolError', async () => {
    const r = await run({ consume: () => ({ type: 'Published', offset: 0n, partition: 0 }) });
    try {
      const started = Date.now();
      const error = await r.ended(15_000);
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as Error).message).toMatch(/Published/);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(r.broker.consumes()).toBe(MAX_PROTOCOL_VIOLATIONS);
      // Coordinator + one fetch connection per attempt: each violation closed the connection.
      expect(r.broker.connections()).toBeLessThanOrEqual(MAX_PROTOCOL_VIOLATIONS + 1);
    } finally {
      await r.stop();
    }
  });

  it('an offset of 2^64 − 1 is a protocol violation, not retried forever', async () => {
    const r = await run({ consume: () => ({ type: 'Messages', messages: records(2n ** 64n - 1n, 1) }) });
    try {
      const started = Date.now();
      const error = await r.ended(15_000);
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as Error).message).toMatch(/2\^63/);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(r.seen).toHaveLength(0);
    } finally {
      await r.stop();
    }
  });

  it('requestTimeoutMs bounds a fetch the broker never answers (fetchMaxWaitMs + requestTimeoutMs)', async () => {
    const r = await run({ consume: () => undefined }, { requestTimeoutMs: 300, fetchMaxWaitMs: 100, retry: { maxAttempts: 2, initialDelayMs: 50 } });
    try {
      const started = Date.now();
      const error = await r.ended(15_000);
      expect(error).toBeInstanceOf(RivvenTimeoutError);
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(2 * 400 - 50);
      expect(took).toBeLessThan(5_000);
      // A timed-out connection is not reused.
      expect(r.broker.connections()).toBeGreaterThanOrEqual(3);
    } finally {
      await r.stop();
    }
  });

  it('Throttled with a wait of 2^40 ms: each wait is capped at requestTimeoutMs, then the ThrottledError', async () => {
    const r = await run(
      { consume: () => ({ type: 'Throttled', throttleTimeMs: 2n ** 40n, quotaType: 'consume_bytes', entity: 'hostile' }) },
      { requestTimeoutMs: 300, retry: { maxAttempts: 3, initialDelayMs: 10 } },
    );
    try {
      const started = Date.now();
      const error = await r.ended(15_000);
      expect(error).toBeInstanceOf(ThrottledError);
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(2 * 300 - 50);
      expect(took).toBeLessThan(5_000);
      expect(r.broker.consumes()).toBe(3);
    } finally {
      await r.stop();
    }
  });

  it('a zstd bomb (one value claiming and inflating to 200 MiB): a ConfigError naming maxFetchDecodedBytes, nothing inflated', async () => {
    const bomb = zstdBombValue(200 * MiB);
    expect(bomb.length).toBeLessThan(16 * 1024);
    const memory = memoryWatch();
    const r = await run({ consume: (request) => ({ type: 'Messages', messages: records(request.offset, 20, bomb) }) });
    try {
      const error = await r.ended(15_000);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).option).toBe('maxFetchDecodedBytes');
      expect((error as Error).message).toMatch(/raise maxFetchDecodedBytes/);
      expect(r.seen).toHaveLength(0);
      const grown = memory.max();
      console.log(`zstd bomb: RSS +${(grown.rss / MiB).toFixed(1)} MiB, external +${(grown.external / MiB).toFixed(1)} MiB`);
      expect(grown.external).toBeLessThan(32 * MiB);
      expect(grown.rss).toBeLessThan(96 * MiB);
    } finally {
      memory.stop();
      await r.stop();
    }
  });

  it('zstd values of 16 MiB each, never acknowledged: decoded bytes in flight stay within maxInFlightDecodedBytes', async () => {
    const value = zstdBombValue(16 * MiB);
    const memory = memoryWatch();
    const r = await run(
      { consume: (request) => ({ type: 'Messages', messages: records(request.offset, 20, value) }) },
      { maxFetchDecodedBytes: 32 * MiB, maxInFlightDecodedBytes: 64 * MiB, maxPollIntervalMs: 500 },
      false,
    );
    try {
      await until(() => r.consumer.health().stalled.length > 0, 10_000, 'a stalled partition in health()');
      // 64 MiB hold four 16 MiB values; each fetch decodes at most two (32 MiB).
      expect(r.seen.length).toBe(4);
      expect(r.seen.every((x) => x.value.length === 16 * MiB)).toBe(true);
      const grown = memory.max();
      console.log(`16 MiB zstd values: ${r.seen.length} in flight, RSS +${(grown.rss / MiB).toFixed(1)} MiB, external +${(grown.external / MiB).toFixed(1)} MiB`);
      expect(grown.external).toBeLessThan(120 * MiB);
      // Acknowledging gives the bytes back: the next values come.
      r.seen[3]!.ack();
      await until(() => r.seen.length >= 8, 10_000, '8 records seen');
    } finally {
      memory.stop();
      await r.stop();
    }
  });

  it('an LZ4 frame of 40 values of 60 MiB each: bounded by the budgets, not by the broker', async () => {
    const value = await compressValue(Buffer.alloc(60 * MiB), { algorithm: 'lz4' });
    expect(value.length).toBeLessThan(250 * 1024);
    const memory = memoryWatch();
    const r = await run(
      { consume: (request) => ({ type: 'Messages', messages: records(request.offset, 40, value) }) },
      { maxInFlightDecodedBytes: 128 * MiB, maxPollIntervalMs: 500 },
      false,
    );
    try {
      await until(() => r.consumer.health().stalled.length > 0, 15_000, 'a stalled partition in health()');
      // 64 MiB per fetch: one value a fetch; 128 MiB in flight: two values.
      expect(r.seen.length).toBe(2);
      const grown = memory.max();
      console.log(`LZ4 60 MiB values: ${r.seen.length} in flight, RSS +${(grown.rss / MiB).toFixed(1)} MiB, external +${(grown.external / MiB).toFixed(1)} MiB`);
      expect(grown.external).toBeLessThan(200 * MiB);
    } finally {
      memory.stop();
      await r.stop();
    }
  });
});
