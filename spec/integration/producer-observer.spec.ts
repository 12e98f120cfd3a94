/**
 * The producer as an RxJS Observer with a hot `results$`, its promise helpers with AbortSignal, and
 * `await using` — against the real broker, every outcome compared with the log read back.
 */
import { Subject, firstValueFrom, from, lastValueFrom, take, toArray } from 'rxjs';
import { Client } from '../../src/client/client';
import { BufferFullError, ClosedError, ConfigError, SendAbortedError } from '../../src/errors';
import { Producer } from '../../src/producer/producer';
import type { ProducerConfig } from '../../src/producer/producer-config';
import type { ProducerRecord } from '../../src/producer/producer-record';
import type { ProducerOutcome } from '../../src/producer/results-feed';
import { readPartition } from '../support/eos-read';
import { FaultProxy } from '../support/fault-proxy';
import { unique } from '../support/names';

jest.setTimeout(60_000);

const address = () => process.env.RIVVEN_TEST_BROKER!;
let admin: Client;

beforeAll(async () => {
  admin = await firstValueFrom(Client.connect$(address()));
});
afterAll(async () => {
  await admin.close();
});

async function topic(partitions = 1): Promise<string> {
  const name = unique('observer');
  await firstValueFrom(admin.createTopic$(name, partitions));
  return name;
}

async function storedValues(name: string, partitions = 1): Promise<Map<string, string>> {
  const log = (await Promise.all(Array.from({ length: partitions }, (_, p) => readPartition(admin, name, p, 'read_uncommitted')))).flat();
  return new Map(log.map((r) => [r.value, `${r.partition}@${r.offset}`]));
}

function producer(config: Partial<ProducerConfig> = {}): Producer {
  return Producer.create({ bootstrapServers: address(), ...config });
}

describe('the producer as an Observer', () => {
  it('records$.subscribe(producer): every outcome on results$ with its correlation, each acknowledged one where the log holds it', async () => {
    const name = await topic(3);
    const p = producer({ stopOnError: false });
    const outcomes = lastValueFrom(p.results$.pipe(toArray()));
    const records: ProducerRecord<number>[] = Array.from({ length: 300 }, (_, i) => ({ topic: name, key: `k${i % 7}`, value: `v${i}`, correlation: i }));
    // One bad record among them: its failure is an outcome value, the others go on.
    const bad = { topic: name, value: { not: 'bytes' }, correlation: -1 } as unknown as ProducerRecord<number>;
    from([...records.slice(0, 150), bad, ...records.slice(150)]).subscribe(p);
    await p.flush();
    await p.close();
    const all = (await outcomes) as ProducerOutcome<number>[];
    expect(all).toHaveLength(301);
    const failed = all.filter((o) => !o.ok);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ ok: false, correlation: -1, topic: name });
    expect((failed[0] as { error: unknown }).error).toBeInstanceOf(ConfigError);
    const stored = await storedValues(name, 3);
    expect(stored.size).toBe(300);
    for (const outcome of all) {
      if (!outcome.ok) continue;
      const i = outcome.result.correlation!;
      expect(stored.get(`v${i}`)).toBe(`${outcome.result.partition}@${outcome.result.offset}`);
    }
  });

  it('stopOnError (default): results$ errors at the first failure, later next() calls are refused and counted, nothing refused is stored', async () => {
    const name = await topic();
    const p = producer();
    const seen: ProducerOutcome[] = [];
    const ended = new Promise<unknown>((resolve) => p.results$.subscribe({ next: (o) => seen.push(o), error: resolve, complete: () => resolve('completed') }));
    p.next({ topic: name, value: 'first' });
    await firstValueFrom(p.results$.pipe(take(1)));
    p.next({ topic: name, value: null } as unknown as ProducerRecord);
    expect(await ended).toBeInstanceOf(ConfigError);
    p.next({ topic: name, value: 'after-1' });
    p.next({ topic: name, value: 'after-2' });
    expect(p.health().recordsRefused).toBe(2);
    // send$ is not the Observer side: it still works.
    await firstValueFrom(p.send$({ topic: name, value: 'send$' }));
    await p.close();
    expect(seen.map((o) => o.ok)).toEqual([true]);
    expect([...(await storedValues(name)).keys()].sort()).toEqual(['first', 'send$']);
  });

  it('next() faster than bufferMemory allows: waits bounded by bufferMemory, then BufferFullError at once; what is acknowledged is stored, nothing else', async () => {
    const name = await topic();
    const bufferMemory = 64 * 1024;
    const p = producer({ stopOnError: false, bufferMemory, batchSize: 16 * 1024 });
    const outcomes = lastValueFrom(p.results$.pipe(toArray()));
    const value = (i: number) => `${i}:`.padEnd(1000, 'x');
    for (let i = 0; i < 1_000; i++) p.next({ topic: name, value: value(i), correlation: i });
    // Bounded: what waits for room is at most bufferMemory bytes more.
    expect(p.health().pendingBytes).toBeLessThanOrEqual(bufferMemory);
    await p.close();
    const all = await outcomes;
    const refused = all.filter((o) => !o.ok);
    expect(refused.length).toBeGreaterThan(0);
    for (const o of refused) expect((o as { error: unknown }).error).toBeInstanceOf(BufferFullError);
    const acked = all.filter((o) => o.ok);
    expect(acked.length).toBeGreaterThan(100);
    const stored = await storedValues(name);
    expect(stored.size).toBe(acked.length);
    for (const o of acked) {
      if (o.ok) expect(stored.get(value(o.result.correlation as number))).toBe(`0@${o.result.offset}`);
    }
  });

  it('several sources feed one producer: complete() of one flushes without closing; results$ completes on close()', async () => {
    const name = await topic();
    const p = producer({ stopOnError: false, lingerMs: 60_000, batchSize: 1024 * 1024 });
    let completed = false;
    const outcomes: ProducerOutcome[] = [];
    p.results$.subscribe({ next: (o) => outcomes.push(o), complete: () => (completed = true) });
    const a = new Subject<ProducerRecord>();
    const b = new Subject<ProducerRecord>();
    a.subscribe(p);
    b.subscribe(p);
    a.next({ topic: name, value: 'a1' });
    b.next({ topic: name, value: 'b1' });
    // lingerMs is a minute: only complete()'s flush sends them now.
    a.complete();
    await p.flush();
    expect(outcomes.filter((o) => o.ok)).toHaveLength(2);
    expect(completed).toBe(false);
    b.next({ topic: name, value: 'b2' });
    b.complete();
    await p.close();
    expect(completed).toBe(true);
    expect([...(await storedValues(name)).keys()].sort()).toEqual(['a1', 'b1', 'b2']);
  });
});

describe('promise helpers with AbortSignal', () => {
  it('send and sendBatch resolve with what the log holds', async () => {
    const name = await topic();
    const p = producer();
    try {
      const one = await p.send({ topic: name, value: 'one' });
      const batch = await p.sendBatch([{ topic: name, value: 'two' }, { topic: name, value: 'three', correlation: 3 }]);
      expect(batch[1]!.correlation).toBe(3);
      const stored = await storedValues(name);
      expect(stored.get('one')).toBe(`0@${one.offset}`);
      expect(stored.get('three')).toBe(`0@${batch[1]!.offset}`);
    } finally {
      await p.close();
    }
  });

  it('aborting withdraws what was not handed to the broker and says which records those were', async () => {
    const name = await topic();
    const proxy = await FaultProxy.start(address());
    const p = producer({ bootstrapServers: proxy.address, connections: 1, maxInFlightRequests: 1 });
    try {
      await p.send({ topic: name, partition: 0, value: 'reached' });
      await proxy.blackhole();
      const controller = new AbortController();
      // Batch 1 goes out (and hangs); the rest queue behind it on the partition.
      const first = p.sendBatch([{ topic: name, partition: 0, value: 'in-flight' }], { signal: controller.signal }).catch((e: unknown) => e);
      await proxy.until((s) => s.outstanding > 0);
      const rest = p.sendBatch(
        [1, 2, 3].map((i) => ({ topic: name, partition: 0, value: `queued-${i}` })),
        { signal: controller.signal },
      ).catch((e: unknown) => e);
      controller.abort(new Error('user pressed cancel'));
      const [inFlight, queued] = (await Promise.all([first, rest])) as SendAbortedError[];
      expect(inFlight).toBeInstanceOf(SendAbortedError);
      expect({ withdrawn: inFlight!.withdrawn, inFlight: inFlight!.inFlight }).toEqual({ withdrawn: [], inFlight: [0] });
      expect({ withdrawn: queued!.withdrawn, inFlight: queued!.inFlight }).toEqual({ withdrawn: [0, 1, 2], inFlight: [] });
      expect((queued!.cause as Error).message).toBe('user pressed cancel');
      // An already aborted signal sends nothing.
      const none = await p.send({ topic: name, value: 'never' }, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
      expect((none as SendAbortedError).withdrawn).toEqual([0]);
      await proxy.restore();
      await p.send({ topic: name, partition: 0, value: 'after' });
      const stored = await storedValues(name);
      for (const v of ['queued-1', 'queued-2', 'queued-3', 'never']) expect(stored.has(v)).toBe(false);
      expect(stored.has('after')).toBe(true);
    } finally {
      await p.close({ timeoutMs: 1_000 });
      await proxy.close();
    }
  });

  it('await using closes the producer at the end of its block', async () => {
    const name = await topic();
    let escaped: Producer;
    {
      await using p = producer();
      escaped = p;
      await p.send({ topic: name, value: 'inside' });
    }
    await expect(escaped.send({ topic: name, value: 'outside' })).rejects.toBeInstanceOf(ClosedError);
  });
});
