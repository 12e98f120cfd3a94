/**
 * TransactionalProducer across connection faults and real broker crashes:
 * - `bootstrapServers` like every other component, with failover (a dead address first);
 * - the broker SIGKILLed during transactional produce and restarted on the same port and data dir:
 *   the open transaction fails with a typed, retriable `TransactionInterruptedError`, the producer
 *   reconnects and re-initialises its producer id (rivvend forgets producer ids and transactions on
 *   a restart), and running the transaction again commits it;
 * - consume → transactional() → retry() through a broker crash resumes by itself.
 *
 * rivvend 0.0.22's crash recovery is broken (docs/broker-behaviour.md): records stored before the crash
 * can be replayed or lost. So the read-back counts records by their unique value and prints
 * duplicates and missing ones; the assertions are on what the client controls.
 */
import { concat, defer, firstValueFrom, map, retry, type Subscription } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import { ConfigError, RivvenError, TransactionInterruptedError } from '../../src/errors';
import { TransactionAbortedError, transactional } from '../../src/operators/transactional';
import { TransactionalProducer } from '../../src/producer/transactional-producer';
import { freePort, startBroker, type BrokerProcess } from '../support/broker-process';
import { crashAndRestart, type Restarted } from '../support/broker-restart';
import { duplicates, readTopic } from '../support/eos-read';
import { FaultProxy } from '../support/fault-proxy';
import { unique } from '../support/names';
import { rejection } from '../support/rejection';
import { seedBacklog } from '../support/seed-backlog';

jest.setTimeout(60_000);

const brokers = new Set<BrokerProcess>();

afterAll(async () => {
  for (const broker of brokers) await broker.stop();
});

async function ownBroker(): Promise<BrokerProcess> {
  const broker = await startBroker();
  brokers.add(broker);
  return broker;
}

async function withAdmin<T>(address: string, work: (admin: Client) => Promise<T>): Promise<T> {
  const admin = await firstValueFrom(Client.connect$(address));
  try {
    return await work(admin);
  } finally {
    await admin.close();
  }
}

describe('TransactionalProducer settings', () => {
  it('takes bootstrapServers and fails over past a dead address', async () => {
    const broker = await ownBroker();
    const topic = unique('txn-failover');
    await withAdmin(broker.address, (admin) => firstValueFrom(admin.createTopic$(topic, 1)));
    const dead = `127.0.0.1:${await freePort()}`;
    const producer = await firstValueFrom(TransactionalProducer.create$({ bootstrapServers: [dead, broker.address], transactionalId: unique('txn') }));
    try {
      const results = await firstValueFrom(producer.transaction$((txn) => txn.publish$([{ topic, partition: 0, value: 'via the second server' }])));
      expect(results.map((r) => r.offset)).toEqual([0n]);
      const read = await withAdmin(broker.address, (admin) => readTopic(admin, topic, 1, 'read_committed'));
      expect(read.map((r) => r.value)).toEqual(['via the second server']);
    } finally {
      await producer.close();
    }
  });

  it('refuses bad server lists and unknown options with a ConfigError naming them', async () => {
    const attempt = (config: object) =>
      firstValueFrom(TransactionalProducer.create$({ transactionalId: 't', ...config } as Parameters<typeof TransactionalProducer.create$>[0])).catch((e: unknown) => e);
    const cases: [object, string][] = [
      [{}, 'bootstrapServers'],
      [{ bootstrapServers: [] }, 'bootstrapServers'],
      [{ bootstrapServers: 'no-port' }, 'bootstrapServers[0]'],
      [{ bootstrapServers: [9092] }, 'bootstrapServers[0]'],
      [{ bootstrapServers: ['127.0.0.1:1'], bootstrapServer: '127.0.0.1:1' }, "did you mean 'bootstrapServers'?"],
      [{ bootstrapServers: ['127.0.0.1:1'], transactionTimeout: 5 }, 'transactionTimeout'],
    ];
    for (const [config, option] of cases) {
      const error = await attempt(config);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toContain(option);
    }
  });
});

describe('TransactionalProducer, connection cut during a commit', () => {
  it('the commit fails typed and retriable, is aborted, and its re-run reports only offsets that hold its own records', async () => {
    const broker = await ownBroker();
    const [a, b] = [unique('txn-cut-a'), unique('txn-cut-b')];
    await withAdmin(broker.address, async (admin) => {
      await firstValueFrom(admin.createTopic$(a, 3));
      await firstValueFrom(admin.createTopic$(b, 3));
    });
    const proxy = await FaultProxy.start(broker.address);
    const producer = await firstValueFrom(TransactionalProducer.create$({ bootstrapServers: [proxy.address], transactionalId: unique('txn') }));
    try {
      const records = Array.from({ length: 60 }, (_, i) => ({ topic: i % 2 === 0 ? a : b, partition: i % 3, value: `r${i}` }));
      // Every connection now carries 300 bytes of replies and is then closed: the commit's pipelined
      // publishes are cut short part-way (the abort on a fresh connection still fits).
      await proxy.closeAfter(300, 'to-client');
      const cut = await rejection(firstValueFrom(producer.transaction$((txn) => txn.publish$(records))));
      expect(cut).toBeInstanceOf(TransactionInterruptedError);
      expect((cut as TransactionInterruptedError).retriable).toBe(true);
      await proxy.restore();
      const results = await firstValueFrom(producer.transaction$((txn) => txn.publish$(records)));
      expect(results).toHaveLength(records.length);
      // Each reported offset holds that record, read back read_committed; nothing else is visible.
      await withAdmin(broker.address, async (admin) => {
        for (const topic of [a, b]) {
          const committed = await readTopic(admin, topic, 3, 'read_committed');
          const at = new Map(committed.map((r) => [`${r.partition}@${r.offset}`, r.value]));
          const reported = results.filter((r) => r.topic === topic).map((r) => at.get(`${r.partition}@${r.offset}`));
          const sent = records.filter((r) => r.topic === topic).map((r) => r.value);
          expect(reported).toEqual(sent);
          expect(committed.map((r) => r.value).sort()).toEqual([...sent].sort());
        }
      });
    } finally {
      await producer.close();
      await proxy.close();
    }
  });
});

describe('TransactionalProducer, the answer to its commit lost with the connection', () => {
  it('learns how the commit ended instead of aborting it: the transaction is reported committed, once', async () => {
    const broker = await ownBroker();
    const topic = unique('txn-lost-answer');
    await withAdmin(broker.address, (admin) => firstValueFrom(admin.createTopic$(topic, 2)));
    const proxy = await FaultProxy.start(broker.address);
    const producer = await firstValueFrom(TransactionalProducer.create$({ bootstrapServers: [proxy.address], transactionalId: unique('txn') }));
    const transaction = (n: number) =>
      producer.transaction$((txn) => txn.publish$([0, 1, 2, 3].map((i) => ({ topic, partition: i % 2, value: `t${n}:${i}` }))));
    try {
      await firstValueFrom(transaction(1)); // connection and metadata in place
      // The bytes one such commit sends, from InitProducerId to CommitTransaction.
      proxy.resetStats();
      await firstValueFrom(transaction(2));
      const commitBytes = proxy.stats().bytesToBroker;
      // The next commit's requests all pass, then the connection is closed: no answer to the commit.
      await proxy.closeAfter(commitBytes, 'to-broker');
      const results = await firstValueFrom(transaction(3));
      await proxy.restore();
      const committed = await withAdmin(broker.address, (admin) => readTopic(admin, topic, 2, 'read_committed'));
      const at = new Map(committed.map((r) => [`${r.partition}@${r.offset}`, r.value]));
      expect(results.map((r) => at.get(`${r.partition}@${r.offset}`))).toEqual(['t3:0', 't3:1', 't3:2', 't3:3']);
      expect(committed.map((r) => r.value).sort()).toEqual(['t1:0', 't1:1', 't1:2', 't1:3', 't2:0', 't2:1', 't2:2', 't2:3', 't3:0', 't3:1', 't3:2', 't3:3']);
    } finally {
      await producer.close();
      await proxy.close();
    }
  });
});

describe('TransactionalProducer, broker SIGKILLed during transactions and restarted 1.5 s later', () => {
  it('fails the commit typed and retriable; running the transaction again commits it', async () => {
    const broker = await ownBroker();
    const topic = unique('txn-crash');
    await withAdmin(broker.address, (admin) => firstValueFrom(admin.createTopic$(topic, 1)));
    const producer = await firstValueFrom(TransactionalProducer.create$({ bootstrapServers: [broker.address], transactionalId: unique('txn'), transactionTimeoutMs: 10_000 }));
    const TRANSACTIONS = 30;
    const PER_TRANSACTION = 50;
    const failures: unknown[] = [];
    let restarted: Restarted | undefined;
    let crash: Promise<void> | undefined;
    /** Transaction number → when it committed. */
    const committedAt = new Map<number, number>();
    try {
      for (let t = 0; t < TRANSACTIONS; t++) {
        const records = Array.from({ length: PER_TRANSACTION }, (_, i) => ({ topic, partition: 0, value: `t${t}:${i}` }));
        for (let attempt = 0; ; attempt++) {
          // Transaction 5 is open, half written, when the broker is killed: its commit meets the outage.
          const crashHere = t === 5 && attempt === 0;
          const work = (txn: TransactionalProducer) =>
            crashHere
              ? concat(
                  txn.publish$(records.slice(0, PER_TRANSACTION / 2)),
                  defer(async () => {
                    // Dead before the commit starts; back 1.5 s later on the same port and data dir.
                    await broker.kill();
                    crash = crashAndRestart(broker, 1_500).then((r) => {
                      restarted = r;
                      brokers.delete(broker);
                      brokers.add(r.broker);
                    });
                  }),
                  txn.publish$(records.slice(PER_TRANSACTION / 2)),
                )
              : txn.publish$(records);
          try {
            await firstValueFrom(producer.transaction$(work));
            committedAt.set(t, Date.now());
            break;
          } catch (error) {
            failures.push(error);
            expect(error).toBeInstanceOf(RivvenError);
            expect((error as RivvenError).retriable).toBe(true);
            if (attempt > 50) throw error;
            // The caller's retry delay (as retry({ delay }) would wait).
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
        }
      }
      await crash;
      const read = await withAdmin(restarted!.broker.address, (admin) => readTopic(admin, topic, 1, 'read_committed'));
      const values = read.map((r) => r.value);
      const seen = new Set(values);
      const afterRestart = [...committedAt].filter(([, at]) => at >= restarted!.readyAt).map(([t]) => t);
      const missingAfterRestart = afterRestart.flatMap((t) => Array.from({ length: PER_TRANSACTION }, (_, i) => `t${t}:${i}`)).filter((v) => !seen.has(v));
      const dupes = duplicates(values);
      const interrupted = failures.filter((f) => f instanceof TransactionInterruptedError).length;
      const line =
        `transactional producer, crash during transaction 5 of ${TRANSACTIONS}: ${committedAt.size} committed, ${failures.length} failed attempts ` +
        `(${interrupted} TransactionInterruptedError, first: ${String((failures[0] as Error | undefined)?.message)}); ` +
        `read_committed ${values.length} records, ${seen.size} distinct, ${dupes.size} more than once (${[...dupes.keys()].slice(0, 3).join(', ')}), ${TRANSACTIONS * PER_TRANSACTION - [...seen].filter((v) => v.startsWith('t')).length} missing ` +
        `(${missingAfterRestart.length} of transactions committed after the restart)`;
      process.stderr.write(`${line}\n`);
      expect({ line, committed: committedAt.size }).toEqual({ line, committed: TRANSACTIONS });
      expect({ line, missingAfterRestart: missingAfterRestart.length }).toEqual({ line, missingAfterRestart: 0 });
      // The commit that meets the outage fails typed and retriable, until the broker is back.
      expect(failures[0]).toBeInstanceOf(TransactionInterruptedError);
      expect(interrupted).toBeGreaterThanOrEqual(1);
    } finally {
      await crash?.catch(() => undefined);
      await producer.close();
    }
  });
});

describe('consume → transactional() → retry(), broker SIGKILLed and restarted 1.5 s later', () => {
  it('resumes by itself and commits every input', async () => {
    const seeded = await ownBroker();
    const PARTITIONS = 2;
    const PER_PARTITION = 1_500;
    const input = unique('eos-fault-in');
    const output = unique('eos-fault-out');
    const groupId = unique('eos-fault-group');
    const VALUE_SIZE = 12;
    await seedBacklog(seeded.address, input, PARTITIONS, PARTITIONS * PER_PARTITION, VALUE_SIZE, {
      connections: 8,
      value: (p, i) => Buffer.from(`${p}:${i}`.padEnd(VALUE_SIZE, '.')),
    });
    await withAdmin(seeded.address, (admin) => firstValueFrom(admin.createTopic$(output, 1)));
    // A clean restart after seeding. Without it (measured), the crash below brings the inputs back
    // at repeated offsets (rivvend's broken WAL recovery), the consumer rightly drops the repeats,
    // and the test would measure the broker rather than the client.
    await seeded.stop({ keepData: true });
    brokers.delete(seeded);
    const broker = await startBroker({ port: seeded.port, dataDir: seeded.dataDir });
    brokers.add(broker);
    const producer = await firstValueFrom(TransactionalProducer.create$({ bootstrapServers: [broker.address], transactionalId: unique('eos-fault'), transactionTimeoutMs: 10_000 }));
    const consumer = Consumer.create({
      bootstrapServers: [broker.address],
      groupId,
      assign: { [input]: Array.from({ length: PARTITIONS }, (_, p) => p) },
      enableAutoCommit: false,
      maxPollRecords: 200,
    });
    const committed = new Map<number, bigint>();
    const aborted: unknown[] = [];
    let subscription: Subscription | undefined;
    let restarted: Restarted | undefined;
    try {
      let crashed: Promise<void> | undefined;
      let sum = 0n;
      let deadline: NodeJS.Timeout | undefined;
      const done = new Promise<void>((resolve, reject) => {
        deadline = setTimeout(() => reject(new Error(`only ${sum} of ${PARTITIONS * PER_PARTITION} inputs committed after 35 s; aborts: ${aborted.map((e) => String(e)).slice(-3).join(' | ')}`)), 35_000);
        subscription = consumer.records$
          .pipe(
            map((r) => ({ topic: output, partition: 0, value: `out(${r.value.toString().replace(/\.+$/, '')})` })),
            transactional(producer, { consumer, maxBatchRecords: 200, maxBatchMs: 100 }),
            retry({
              delay: (error: unknown) => {
                aborted.push(error);
                if (!(error instanceof TransactionAbortedError) || !error.retriable) throw error;
                return new Promise((r) => setTimeout(r, 300));
              },
            }),
          )
          .subscribe({
            next: (txn) => {
              for (const o of txn.offsets) committed.set(o.partition, o.offset);
              sum = [...committed.values()].reduce((a, b) => a + b, 0n);
              if (crashed === undefined && sum >= 600n) {
                crashed = crashAndRestart(broker, 1_500).then((r) => {
                  restarted = r;
                  brokers.delete(broker);
                  brokers.add(r.broker);
                });
              }
              if (sum === BigInt(PARTITIONS * PER_PARTITION)) resolve();
            },
            error: reject,
          });
      });
      await done.finally(() => clearTimeout(deadline));
      await crashed;
      const resumedAt = restarted!.readyAt;
      const values = await withAdmin(restarted!.broker.address, (admin) => readTopic(admin, output, 1, 'read_committed')).then((rs) => rs.map((r) => r.value));
      const seen = new Set(values);
      const expected: string[] = [];
      for (let p = 0; p < PARTITIONS; p++) for (let i = 0; i < PER_PARTITION; i++) expected.push(`out(${p}:${i})`);
      const missing = expected.filter((v) => !seen.has(v));
      const dupes = duplicates(values);
      const line =
        `consume → transactional() → retry(): ${PARTITIONS * PER_PARTITION} inputs, crash after 600 committed; ${aborted.length} aborted transactions ` +
        `(first: ${String((aborted[0] as Error | undefined)?.message).slice(0, 160)}); read_committed ${values.length} outputs, ${seen.size} distinct, ` +
        `${dupes.size} more than once, ${missing.length} missing; broker back at +${resumedAt - restarted!.killedAt} ms`;
      process.stderr.write(`${line}\n`);
      expect({ line, aborted: aborted.length > 0 }).toEqual({ line, aborted: true });
      for (const error of aborted) expect(error).toBeInstanceOf(TransactionAbortedError);
      // rivvend checkpoints group offsets every 50 commits, so the crash took the few commits made
      // so far with it: the pipeline redid every input after the restart, and each is committed.
      expect({ line, missing: missing.length }).toEqual({ line, missing: 0 });
      for (let p = 0; p < PARTITIONS; p++) {
        const offset = await withAdmin(restarted!.broker.address, (admin) => firstValueFrom(admin.getOffset$(groupId, input, p)));
        expect(offset).toBe(BigInt(PER_PARTITION));
      }
    } finally {
      subscription?.unsubscribe();
      await consumer.close().catch(() => undefined);
      await producer.close().catch(() => undefined);
    }
  });
});
