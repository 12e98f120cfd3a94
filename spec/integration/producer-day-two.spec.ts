/**
 * The producer's error paths, as a new user meets them, against the real broker (issue 21 §1–§4):
 *
 * - a record too large for one request fails at once, typed, naming its size and the limit, and
 *   takes no other record down; batches are cut so each request fits (rivvend refuses frames over
 *   10 MiB and closes the connection); compressed values are sized after compressing;
 * - a broker that was never reached: one warning at once, then counted; sends fail after
 *   maxBlockMs with the connection failure as cause; a broker lost after being reached: records
 *   wait up to deliveryTimeoutMs and fail with the last failure as cause;
 * - records are checked like options (unknown fields, headers, timestamp, null and object values),
 *   and nothing of a refused record is stored; an empty value (rivvend's tombstone) is stored empty
 *   even by a compressing producer;
 * - close(): later sends fail with a non-retriable ClosedError; close({ timeoutMs }) fails what is
 *   still in flight with UnknownOutcomeError (how many, and that they may be stored); a producer
 *   process stopped by SIGINT with the documented pattern leaves nothing stored that the
 *   application did not see acknowledged or reported of unknown outcome.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { firstValueFrom, lastValueFrom, toArray, merge } from 'rxjs';
import { Client } from '../../src/client/client';
import {
  AllServersUnavailableError,
  ClosedError,
  ConfigError,
  MessageTooLargeError,
  RivvenError,
  RivvenTimeoutError,
  UnknownOutcomeError,
} from '../../src/errors';
import type { Logger } from '../../src/observability/log';
import { MAX_MESSAGE_SIZE } from '../../src/protocol/frame';
import { tryDecompressValue } from '../../src/protocol/compression';
import { Producer } from '../../src/producer/producer';
import type { ProducerConfig } from '../../src/producer/producer-config';
import type { ProducerResult } from '../../src/producer/producer-record';
import { TransactionalProducer } from '../../src/producer/transactional-producer';
import { freePort } from '../support/broker-process';
import { buildScript } from '../support/eos-build';
import { readPartition } from '../support/eos-read';
import { FaultProxy } from '../support/fault-proxy';
import { unique } from '../support/names';

jest.setTimeout(60_000);

const address = () => process.env.RIVVEN_TEST_BROKER!;
let admin: Client;
const producers: Producer[] = [];

beforeAll(async () => {
  admin = await firstValueFrom(Client.connect$(address()));
});
afterAll(async () => {
  for (const p of producers) await p.close({ timeoutMs: 1000 }).catch(() => undefined);
  await admin.close();
});

function producer(config: Partial<ProducerConfig> = {}): Producer {
  const p = Producer.create({ bootstrapServers: address(), ...config });
  producers.push(p);
  return p;
}

async function topic(prefix: string, partitions = 1): Promise<string> {
  const name = unique(prefix);
  await firstValueFrom(admin.createTopic$(name, partitions));
  return name;
}

/** Every record stored in a partition of `name`, raw (values as the broker holds them, not decoded). */
async function stored(name: string, partition = 0): Promise<{ offset: bigint; value: Buffer }[]> {
  const { earliest, latest } = await firstValueFrom(admin.getOffsetBounds$(name, partition));
  const out: { offset: bigint; value: Buffer }[] = [];
  for (let offset = earliest; offset < latest; ) {
    const page = await firstValueFrom(admin.consume$(name, { partition, offset, maxMessages: 100, valueFraming: 'raw' }));
    if (page.length === 0) break;
    for (const r of page) out.push({ offset: r.offset, value: r.value });
    offset = page[page.length - 1]!.offset + 1n;
  }
  return out;
}

/** The send's outcome, or 'pending' if it has none within `ms`. */
function outcomeWithin<T>(send: Promise<T>, ms: number): Promise<{ ok: T } | { error: unknown } | 'pending'> {
  return Promise.race([
    send.then(
      (ok) => ({ ok }),
      (error: unknown) => ({ error }),
    ),
    new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), ms).unref()),
  ]);
}

function capturingLogger(): Logger & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const at = (level: string) => (_fields: Record<string, unknown>, message: string) => void lines.push({ level, message });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('§1 a record too large for one request', () => {
  it('fails at send$, typed and not retriable, naming its size and the limit; the records sent with it are stored', async () => {
    const name = await topic('too-large');
    const p = producer({ deliveryTimeoutMs: 30_000, lingerMs: 20 });
    const big = Buffer.alloc(20 * 1024 * 1024, 7);
    const started = Date.now();
    const [before, large, after] = [
      firstValueFrom(p.send$({ topic: name, value: 'before' })),
      firstValueFrom(p.send$({ topic: name, value: big })),
      firstValueFrom(p.send$({ topic: name, value: 'after' })),
    ];
    const outcome = await outcomeWithin(large, 2_000);
    expect(outcome).not.toBe('pending');
    const error = (outcome as { error: unknown }).error;
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect((error as MessageTooLargeError).retriable).toBe(false);
    expect((error as MessageTooLargeError).size).toBeGreaterThan(big.length);
    expect((error as MessageTooLargeError).limit).toBe(MAX_MESSAGE_SIZE);
    expect((error as Error).message).toMatch(/20971520 value bytes .* over maxRequestSize \(10485760 bytes/);
    expect(Date.now() - started).toBeLessThan(2_000);
    const acked = await Promise.all([before, after]);
    const log = await stored(name);
    expect(log.map((r) => [r.offset, r.value.toString()])).toEqual(acked.map((r, i) => [r.offset, ['before', 'after'][i]]));
  });

  it('is sized after compressing when compression is on: what fits compressed is sent, what does not fails alone', async () => {
    const name = await topic('too-large-lz4');
    const p = producer({ compressionType: 'lz4', bufferMemory: 64 * 1024 * 1024, lingerMs: 20, deliveryTimeoutMs: 30_000 });
    const compressible = Buffer.alloc(20 * 1024 * 1024, 1);
    const incompressible = randomBytes(11 * 1024 * 1024);
    const sends = [
      firstValueFrom(p.send$({ topic: name, value: compressible })),
      firstValueFrom(p.send$({ topic: name, value: incompressible })),
      firstValueFrom(p.send$({ topic: name, value: 'small' })),
    ];
    const failed = await outcomeWithin(sends[1]!, 5_000);
    expect(failed).not.toBe('pending');
    expect((failed as { error: unknown }).error).toBeInstanceOf(MessageTooLargeError);
    const [big, , small] = (await Promise.allSettled(sends)) as PromiseSettledResult<ProducerResult>[];
    expect(big!.status).toBe('fulfilled');
    expect(small!.status).toBe('fulfilled');
    const log = await stored(name);
    expect(log).toHaveLength(2);
    const byOffset = new Map(log.map((r) => [r.offset, r.value]));
    const bigStored = byOffset.get((big as PromiseFulfilledResult<ProducerResult>).value.offset)!;
    expect(bigStored.length).toBeLessThan(MAX_MESSAGE_SIZE);
    expect(Buffer.compare(await tryDecompressValue(bigStored), compressible)).toBe(0);
    expect((await tryDecompressValue(byOffset.get((small as PromiseFulfilledResult<ProducerResult>).value.offset)!)).toString()).toBe('small');
  });

  it('cuts a batch so that each request fits, however large batchSize is', async () => {
    const name = await topic('cut-batches');
    const p = producer({ batchSize: 16 * 1024 * 1024, bufferMemory: 64 * 1024 * 1024, lingerMs: 100, deliveryTimeoutMs: 20_000 });
    const values = [randomBytes(4 * 1024 * 1024), randomBytes(4 * 1024 * 1024), randomBytes(4 * 1024 * 1024)];
    const results = await lastValueFrom(merge(...values.map((value) => p.send$({ topic: name, partition: 0, value }))).pipe(toArray()));
    expect(results).toHaveLength(3);
    const log = await stored(name);
    expect(log).toHaveLength(3);
    const byOffset = new Map(log.map((r) => [r.offset, r.value]));
    const sorted = [...results].sort((a, b) => Number(a.offset - b.offset));
    sorted.forEach((r, i) => expect(Buffer.compare(byOffset.get(r.offset)!, values[i]!)).toBe(0));
    expect(p.health().batchesSent).toBeGreaterThanOrEqual(2);
  });

  it('acknowledges a batch of large records that the broker reads back over several pages', async () => {
    // rivvend cuts a read at maxMessages × 4096 bytes: 20 records of 100 kB come back in pages.
    const name = await topic('large-batch');
    const p = producer({ batchSize: 4 * 1024 * 1024, lingerMs: 50 });
    const values = Array.from({ length: 20 }, () => randomBytes(100_000));
    const results = await lastValueFrom(merge(...values.map((value) => p.send$({ topic: name, partition: 0, value }))).pipe(toArray()));
    expect(p.health().batchesSent).toBe(1);
    const byOffset = new Map((await stored(name)).map((r) => [r.offset, r.value]));
    const sorted = [...results].sort((a, b) => Number(a.offset - b.offset));
    sorted.forEach((r, i) => expect(Buffer.compare(byOffset.get(r.offset)!, values[i]!)).toBe(0));
  });

  it('Client.publish$ refuses an oversized request as not retriable', async () => {
    const name = await topic('client-too-large');
    const error = await firstValueFrom(admin.publish$(name, { value: Buffer.alloc(MAX_MESSAGE_SIZE + 1) })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect((error as RivvenError).retriable).toBe(false);
    // The connection is still good (the request never left).
    await expect(firstValueFrom(admin.publish$(name, { value: 'fine' }))).resolves.toMatchObject({ offset: 0n });
  });

  it('refuses a maxRequestSize over the broker limit', () => {
    expect(() => Producer.create({ bootstrapServers: address(), maxRequestSize: MAX_MESSAGE_SIZE + 1 })).toThrow(ConfigError);
  });
});

describe('§2 a broker that never answers', () => {
  it('warns at once (once, then counts) and fails sends after maxBlockMs with the connection failure as cause', async () => {
    const port = await freePort();
    const logger = capturingLogger();
    const p = producer({ bootstrapServers: `127.0.0.1:${port}`, maxBlockMs: 1_500, logger });
    const started = Date.now();
    const sends = [1, 2, 3].map((i) => firstValueFrom(p.send$({ topic: 'never', value: `v${i}` })).catch((e: unknown) => e));
    // The warning comes at once, not at the deadline.
    while (logger.lines.filter((l) => l.level === 'warn').length === 0 && Date.now() - started < 1_000) await new Promise((r) => setTimeout(r, 10));
    expect(Date.now() - started).toBeLessThan(1_000);
    const errors = await Promise.all(sends);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1_400);
    expect(elapsed).toBeLessThan(4_000);
    for (const error of errors) {
      expect(error).toBeInstanceOf(AllServersUnavailableError);
      expect((error as Error).message).toMatch(/ECONNREFUSED/);
      expect((error as Error).message).toMatch(/maxBlockMs \(1500 ms\)/);
      expect((error as Error).cause).toBeInstanceOf(RivvenError);
    }
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/no broker answers at 127\.0\.0\.1:\d+: .*ECONNREFUSED.*maxBlockMs/);
    expect(p.health().unreachableRounds).toBeGreaterThan(1);
  });

  it('a broker lost after being reached is waited for up to deliveryTimeoutMs; the timeout names the last failure as cause', async () => {
    const name = await topic('lost-broker');
    const proxy = await FaultProxy.start(address());
    try {
      const p = producer({ bootstrapServers: proxy.address, deliveryTimeoutMs: 3_000, maxBlockMs: 500, connections: 1 });
      await firstValueFrom(p.send$({ topic: name, value: 'first' }));
      await proxy.reset();
      const started = Date.now();
      const error = await firstValueFrom(p.send$({ topic: name, value: 'second' })).catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      // maxBlockMs (500) no longer applies once a broker was reached: deliveryTimeoutMs does.
      expect(elapsed).toBeGreaterThanOrEqual(2_900);
      expect(error).toBeInstanceOf(RivvenTimeoutError);
      expect((error as Error).cause).toBeInstanceOf(RivvenError);
      expect((error as Error).message).toMatch(/deliveryTimeoutMs \(3000 ms\); last failure: /);
    } finally {
      await proxy.close();
    }
  });
});

describe('§3 records are checked like options', () => {
  const refusal = async (p: Producer, record: object): Promise<ConfigError> => {
    const error = await firstValueFrom(p.send$(record as never)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  };

  it('refuses unknown fields (naming the closest), headers, timestamp, null and object values; nothing is stored', async () => {
    const name = await topic('record-checks', 4);
    const p = producer();
    expect((await refusal(p, { topic: name, value: 'x', partiton: 3 })).message).toMatch(/partiton.*did you mean 'partition'/);
    expect((await refusal(p, { topic: name, value: 'x', headers: { a: '1' } })).message).toMatch(/carry no headers/);
    expect((await refusal(p, { topic: name, value: 'x', timestamp: 1n })).message).toMatch(/stamps every record with its own time/);
    expect((await refusal(p, { topic: name, value: null })).message).toMatch(/empty value .*tombstone/);
    const object = await refusal(p, { topic: name, value: { total: 42 } });
    expect(object.message).toMatch(/got an object.*JSON\.stringify/);
    expect((await refusal(p, { topic: name, value: 42 })).message).toMatch(/got number 42/);
    for (let partition = 0; partition < 4; partition++) {
      await expect(firstValueFrom(admin.getOffsetBounds$(name, partition))).resolves.toMatchObject({ latest: 0n });
    }
    // A transaction's records are checked the same way.
    const txn = await firstValueFrom(TransactionalProducer.create$({ bootstrapServers: address(), transactionalId: unique('checks') }));
    try {
      await firstValueFrom(txn.begin$());
      await expect(firstValueFrom(txn.send$({ topic: name, value: 'x', partiton: 1 } as never), { defaultValue: undefined })).rejects.toThrow(/did you mean 'partition'/);
      await firstValueFrom(txn.abort$());
    } finally {
      await txn.close();
    }
  });

  it('stores an empty value empty, even from a compressing producer: rivvend compaction reads it as the tombstone', async () => {
    const name = await topic('tombstone');
    const p = producer({ compressionType: 'lz4' });
    const live = await firstValueFrom(p.send$({ topic: name, key: 'k', value: 'alive' }));
    const tombstone = await firstValueFrom(p.send$({ topic: name, key: 'k', value: '' }));
    const log = await stored(name, tombstone.partition);
    expect(log.find((r) => r.offset === tombstone.offset)!.value.length).toBe(0);
    expect((await tryDecompressValue(log.find((r) => r.offset === live.offset)!.value)).toString()).toBe('alive');
  });
});

describe('§4 shutting down', () => {
  it('after close(), send$ fails with a ClosedError that is not retriable, and nothing is stored', async () => {
    const name = await topic('closed');
    const p = producer();
    await firstValueFrom(p.send$({ topic: name, value: 'before' }));
    await p.close();
    const error = await firstValueFrom(p.send$({ topic: name, value: 'late' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClosedError);
    expect((error as RivvenError).retriable).toBe(false);
    expect((await stored(name)).map((r) => r.value.toString())).toEqual(['before']);
  });

  it('close({ timeoutMs }) resolves in time; records in flight fail with UnknownOutcomeError saying how many', async () => {
    const name = await topic('close-bound');
    const proxy = await FaultProxy.start(address());
    try {
      const p = producer({ bootstrapServers: proxy.address, connections: 1, lingerMs: 20 });
      await firstValueFrom(p.send$({ topic: name, value: 'first' }));
      await proxy.blackhole();
      const sends = [1, 2, 3, 4, 5].map((i) => firstValueFrom(p.send$({ topic: name, partition: 0, value: `v${i}` })).catch((e: unknown) => e));
      // Let the batch leave (it is in flight, unanswered).
      await proxy.until((s) => s.outstanding > 0);
      const started = Date.now();
      await p.close({ timeoutMs: 500 });
      expect(Date.now() - started).toBeLessThan(3_000);
      const errors = await Promise.all(sends);
      for (const error of errors) {
        expect(error).toBeInstanceOf(UnknownOutcomeError);
        expect((error as Error).message).toMatch(/for 5 sent record\(s\): they may or may not be stored/);
      }
    } finally {
      await proxy.close();
    }
  });

  it('SIGINT mid-stream: every record stored was acknowledged to the application or reported of unknown outcome', async () => {
    const name = await topic('sigint', 3);
    const worker = buildScript(join(__dirname, '..', 'support', 'shutdown-worker.ts'));
    try {
      const child = spawn(process.execPath, [worker.entry, address(), name], { stdio: ['ignore', 'pipe', 'pipe'] });
      const acked = new Map<string, string>();
      const unknown = new Set<string>();
      const notSent = new Set<string>();
      let stderr = '';
      let buffered = '';
      let signalled = false;
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          const [kind, value, detail] = line.split(' ');
          if (kind === 'ack') acked.set(value!, detail!);
          else if (kind === 'unknown') unknown.add(value!);
          else if (kind === 'not-sent') notSent.add(value!);
          // Mid-stream: after enough acknowledgements, with more records in flight.
          if (!signalled && acked.size >= 300) {
            signalled = true;
            child.kill('SIGINT');
          }
        }
      });
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      expect(signalled).toBe(true);
      const log = (await Promise.all([0, 1, 2].map((partition) => readPartition(admin, name, partition, 'read_uncommitted')))).flat();
      for (const record of log) {
        const seen = acked.has(record.value) || unknown.has(record.value);
        if (!seen) throw new Error(`${record.value} is stored at ${record.partition}@${record.offset}, but the application never heard of its outcome`);
        expect(notSent.has(record.value)).toBe(false);
      }
      const where = new Map(log.map((r) => [r.value, `${r.partition}@${r.offset}`]));
      for (const [value, at] of acked) expect([value, where.get(value)]).toEqual([value, at]);
    } finally {
      worker.cleanup();
    }
  });
});
