/**
 * rivvend 0.0.22's own transaction semantics that bound what exactly-once can promise, each as a
 * reproducible scenario against the real broker, driven with the raw transaction requests of
 * `Client` (TransactionalProducer is built around these limits, so it cannot show them). These tests
 * pin the broker's CURRENT behaviour (docs/exactly-once.md, "Transactions", cites them): if one
 * fails after a broker upgrade, the broker changed — update docs/exactly-once.md and the producer,
 * do not just flip the assertion.
 *
 * Sources: rivvend-0.0.22 src/handler/{transaction,consume}.rs, rivven-core-0.0.22 src/transaction.rs.
 */
import { firstValueFrom } from 'rxjs';
import { Client } from '../../src/client/client';
import type { IsolationLevel, ProducerIdentity } from '../../src/client/client-types';
import { startBroker, type BrokerProcess } from '../support/broker-process';
import { readPartition } from '../support/eos-read';
import { unique } from '../support/names';

jest.setTimeout(60_000);

let broker: BrokerProcess;
let admin: Client;

beforeAll(async () => {
  broker = await startBroker();
  admin = await firstValueFrom(Client.connect$(broker.address));
});
afterAll(async () => {
  await admin?.close();
  await broker?.stop();
});

/** One producer id's transactions, request by request, with sequences per partition number as the broker keeps them. */
class RawTransactions {
  private readonly sequences = new Map<number, number>();
  constructor(
    readonly client: Client,
    readonly identity: ProducerIdentity,
    readonly txnId: string = unique('txn'),
  ) {}

  static async open(client = admin, previousProducerId?: bigint): Promise<RawTransactions> {
    return new RawTransactions(client, await firstValueFrom(client.initProducerId$(previousProducerId)));
  }

  async begin(timeoutMs?: number): Promise<void> {
    await firstValueFrom(this.client.beginTransaction$(this.txnId, this.identity, timeoutMs), { defaultValue: undefined });
  }

  async write(records: { topic: string; partition: number; value: string }[]): Promise<void> {
    await firstValueFrom(this.client.addPartitionsToTxn$(this.txnId, this.identity, records.map((r) => [r.topic, r.partition] as [string, number])));
    for (const r of records) {
      const sequence = this.sequences.get(r.partition) ?? 0;
      this.sequences.set(r.partition, sequence + 1);
      await firstValueFrom(this.client.transactionalPublish$(this.txnId, r.topic, { value: r.value, partition: r.partition }, this.identity, sequence));
    }
  }

  async commit(): Promise<void> {
    await firstValueFrom(this.client.commitTransaction$(this.txnId, this.identity), { defaultValue: undefined });
  }

  async abort(): Promise<void> {
    await firstValueFrom(this.client.abortTransaction$(this.txnId, this.identity), { defaultValue: undefined });
  }
}

const values = async (topic: string, partition: number, isolation: IsolationLevel, client = admin) =>
  (await readPartition(client, topic, partition, isolation)).map((r) => r.value);

async function topic(partitions: number): Promise<string> {
  const name = unique('limits');
  await firstValueFrom(admin.createTopic$(name, partitions));
  return name;
}

describe('rivvend 0.0.22 transaction limits', () => {
  it('read_committed shows the records of a transaction that is still open (there is no last-stable-offset)', async () => {
    const t = await topic(1);
    const p = await RawTransactions.open();
    await p.begin();
    await p.write([{ topic: t, partition: 0, value: 'not-yet-committed' }]);
    expect(await values(t, 0, 'read_committed')).toEqual(['not-yet-committed']);
    await p.abort();
    expect(await values(t, 0, 'read_committed')).toEqual([]);
  });

  it('a transaction left open by a vanished producer stays visible until the reaper aborts it: its timeout plus up to 5 s', async () => {
    const t = await topic(1);
    const timeoutMs = 1_000;
    const client = await firstValueFrom(Client.connect$(broker.address));
    const identity: ProducerIdentity = await firstValueFrom(client.initProducerId$());
    const txnId = unique('orphan');
    await firstValueFrom(client.beginTransaction$(txnId, identity, timeoutMs), { defaultValue: undefined });
    await firstValueFrom(client.addPartitionsToTxn$(txnId, identity, [[t, 0]]));
    await firstValueFrom(client.transactionalPublish$(txnId, t, { value: 'orphan', partition: 0 }, identity, 0));
    const lastActivity = Date.now();
    await client.close(); // as a SIGKILL: no abort is sent; the broker does not tie transactions to connections
    expect(await values(t, 0, 'read_committed')).toEqual(['orphan']);
    // Nothing to await: the broker reaps on its own 5 s tick. Poll the observable effect.
    let hiddenAfter: number | undefined;
    while (hiddenAfter === undefined && Date.now() - lastActivity < timeoutMs + 15_000) {
      if ((await values(t, 0, 'read_committed')).length === 0) hiddenAfter = Date.now() - lastActivity;
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(hiddenAfter).toBeGreaterThanOrEqual(timeoutMs);
    expect(hiddenAfter).toBeLessThan(timeoutMs + 5_000 + 2_000);
  });

  it('aborted range: an abort hides committed records of the same producer id in OTHER partitions whose offsets fall in its range', async () => {
    const t = await topic(2);
    await firstValueFrom(admin.publishBatch$(t, Array.from({ length: 50 }, (_, i) => ({ value: `plain-${i}` })), { partition: 0 }));
    const p = await RawTransactions.open();
    // Aborted: writes p0@50 and p1@0, so the broker records [0, 50] as aborted for this producer id,
    // with no partition attached (AbortedTransactionIndex is one list per broker).
    await p.begin();
    await p.write([{ topic: t, partition: 0, value: 'aborted-0' }, { topic: t, partition: 1, value: 'aborted-1' }]);
    await p.abort();
    // Committed afterwards by the same producer id: p1@2 (after aborted-1 and the abort marker).
    await p.begin();
    await p.write([{ topic: t, partition: 1, value: 'committed-1' }]);
    await p.commit();
    expect(await values(t, 1, 'read_uncommitted')).toEqual(['aborted-1', 'committed-1']);
    expect(await values(t, 1, 'read_committed')).toEqual([]); // committed-1 is lost to read_committed readers
    // The same commit from a fresh producer id is visible: the range is per producer id.
    const fresh = await RawTransactions.open();
    await fresh.begin();
    await fresh.write([{ topic: t, partition: 1, value: 'committed-by-fresh' }]);
    await fresh.commit();
    expect(await values(t, 1, 'read_committed')).toEqual(['committed-by-fresh']);
  });

  it('fencing is enforced on publishes only: after the epoch was bumped, the old epoch can still begin, add offsets and commit', async () => {
    const input = await topic(1);
    await firstValueFrom(admin.publishBatch$(input, Array.from({ length: 10 }, (_, i) => ({ value: `in-${i}` })), { partition: 0 }));
    const group = unique('zombie-group');
    const zombie = await RawTransactions.open();
    // A successor resumes the id: InitProducerId with it bumps the epoch.
    const successor = await firstValueFrom(admin.initProducerId$(zombie.identity.producerId));
    expect(successor.producerId).toBe(zombie.identity.producerId);
    expect(successor.producerEpoch).toBeGreaterThan(zombie.identity.producerEpoch);
    // A publish with the old epoch is fenced ...
    await zombie.begin();
    const fenced = await zombie.write([{ topic: input, partition: 0, value: 'zombie' }]).catch((e: Error) => e);
    expect(String(fenced)).toMatch(/PRODUCER_FENCED/);
    // ... but offsets and the commit with the old epoch are accepted.
    await firstValueFrom(admin.addOffsetsToTxn$(zombie.txnId, zombie.identity, group, [[input, 0, 5n]]), { defaultValue: undefined });
    await zombie.commit();
    expect(await firstValueFrom(admin.getOffset$(group, input, 0))).toBe(5n);
  });

  it('at most 5 transactions can be open on the whole broker at once', async () => {
    const open = await Promise.all(Array.from({ length: 5 }, () => RawTransactions.open()));
    await Promise.all(open.map((p) => p.begin()));
    const sixth = await RawTransactions.open();
    const refused = await sixth.begin().catch((e: Error) => e);
    expect(String(refused)).toMatch(/TooManyTransactions/);
    await Promise.all(open.map((p) => p.abort()));
    await sixth.begin();
    await sixth.abort();
  });

  it('a transaction its own producer finds timed out is never aborted: its records stay visible to read_committed for good', async () => {
    // The reaper (5 s tick) aborts timed-out transactions properly; but a request of the producer
    // that arrives after the timeout and before the reaper marks the transaction Dead, which the
    // reaper skips and which can no longer be aborted. An attempt where the reaper came first is
    // retried (it answers INVALID_TXN_ID instead); a 300 ms window of a 5 s tick makes that rare.
    const timeoutMs = 500;
    for (let attempt = 1; ; attempt++) {
      const t = await topic(1);
      const client = await firstValueFrom(Client.connect$(broker.address));
      try {
        const identity = await firstValueFrom(client.initProducerId$());
        const txnId = unique('idle');
        await firstValueFrom(client.beginTransaction$(txnId, identity, timeoutMs), { defaultValue: undefined });
        await firstValueFrom(client.addPartitionsToTxn$(txnId, identity, [[t, 0]]));
        await firstValueFrom(client.transactionalPublish$(txnId, t, { value: 'idle-too-long', partition: 0 }, identity, 0));
        // The scenario itself: the producer stays idle past the transaction timeout.
        await new Promise((resolve) => setTimeout(resolve, timeoutMs + 300));
        const late = await firstValueFrom(client.transactionalPublish$(txnId, t, { value: 'late', partition: 0 }, identity, 1)).catch((e: Error) => e);
        if (attempt < 5 && late instanceof Error && /INVALID_TXN_ID/.test(late.message)) continue; // the reaper was first
        expect(String(late)).toMatch(/TransactionTimeout/);
        const abort = await firstValueFrom(client.abortTransaction$(txnId, identity), { defaultValue: undefined }).catch((e: Error) => e);
        expect(String(abort)).toMatch(/INVALID_TXN_STATE/);
        // Past any reaper tick: still visible.
        await new Promise((resolve) => setTimeout(resolve, 5_500));
        expect(await values(t, 0, 'read_committed')).toEqual(['idle-too-long']);
        return;
      } finally {
        await client.close();
      }
    }
  });

  it('a broker restart forgets which transactions aborted: their records become visible to read_committed', async () => {
    const own = await startBroker();
    try {
      const t = unique('restart');
      const client = await firstValueFrom(Client.connect$(own.address));
      await firstValueFrom(client.createTopic$(t, 1));
      const aborted = await RawTransactions.open(client);
      await aborted.begin();
      await aborted.write([{ topic: t, partition: 0, value: 'aborted-before-restart' }]);
      await aborted.abort();
      const committed = await RawTransactions.open(client);
      await committed.begin();
      await committed.write([{ topic: t, partition: 0, value: 'committed' }]);
      await committed.commit();
      expect(await values(t, 0, 'read_committed', client)).toEqual(['committed']);
      await client.close();

      await own.stop({ keepData: true });
      const restarted = await startBroker({ port: own.port, dataDir: own.dataDir });
      const after = await firstValueFrom(Client.connect$(restarted.address));
      try {
        expect(await values(t, 0, 'read_committed', after)).toEqual(['aborted-before-restart', 'committed']);
      } finally {
        await after.close();
        await restarted.stop();
      }
    } finally {
      await own.stop().catch(() => undefined);
    }
  });
});
