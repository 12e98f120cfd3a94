/**
 * A commitOffsets() pipeline survives a clean broker restart (issue 20 §1.7): the broker is stopped
 * with SIGTERM while the pipeline processes and commits, and started again on the same port and
 * data dir. Commits that fall into the outage are retried (OffsetStore: at least
 * COMMIT_RETRY_MIN_MS and retry.maxAttempts attempts) instead of ending the pipeline with
 * AllServersUnavailableError; after the restart the group's committed offset reaches the end.
 *
 * The consumer reaches the broker through a proxy that refuses connections from the SIGTERM until
 * the new broker is up: rivvend stops listening at SIGTERM but keeps serving open connections for
 * up to 10 s, and checkpoints its WAL (a clean restart, offsets kept) only when its clients are gone
 * by then (DESIGN §8) — as they are in a restart under the chaos proxy.
 */
import { concatMap, delay, firstValueFrom, of, type Subscription } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import { commitOffsets } from '../../src/operators/at-least-once';
import { startBroker, type BrokerProcess } from '../support/broker-process';
import { FaultProxy } from '../support/fault-proxy';
import { unique } from '../support/names';

jest.setTimeout(120_000);

const RECORDS = 60;
/** Processing time per record: the pipeline is still committing while the broker is down. */
const HANDLER_MS = 150;

let broker: BrokerProcess | undefined;
let proxy: FaultProxy | undefined;
afterAll(async () => {
  await proxy?.close();
  await broker?.stop();
});

async function eventually(predicate: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

it('commits that fall into a SIGTERM restart are retried: the pipeline does not end, the group commits the end', async () => {
  broker = await startBroker();
  const topic = unique('commit-restart');
  const groupId = `g-${topic}`;
  const admin = await firstValueFrom(Client.connect$(broker.address, { clientId: 'commit-restart-admin' }));
  await firstValueFrom(admin.createTopic$(topic, 1));
  await firstValueFrom(admin.publishBatch$(topic, Array.from({ length: RECORDS }, (_, i) => ({ value: `v${i}` })), { partition: 0 }));
  await admin.close();

  proxy = await FaultProxy.start(broker.address);
  const consumer = Consumer.create({ bootstrapServers: [proxy.address], groupId, assign: { [topic]: [0] }, enableAutoCommit: false, maxPollRecords: 1_000 });
  let processed = 0;
  let pipelineError: unknown;
  const commits: bigint[] = [];
  const subscription: Subscription = consumer.records$
    .pipe(
      concatMap((record) => of(record).pipe(delay(HANDLER_MS))),
      commitOffsets({ maxBatchSize: 5, maxIntervalMs: 200 }),
    )
    .subscribe({
      next: (batch) => {
        processed += batch.records.length;
        for (const c of batch.committed.offsets) commits.push(c.offset);
      },
      error: (error: unknown) => (pipelineError = error),
    });
  try {
    await eventually(() => commits.length > 0 || pipelineError !== undefined, 20_000, () => 'the first commit');
    const port = broker.port;
    const dataDir = broker.dataDir;
    // A clean restart: connections refused from the SIGTERM on, the exit waited for, the broker
    // started again on the same port and data dir, connections let through again.
    const stoppedAt = Date.now();
    await proxy.refuse();
    await broker.stop({ keepData: true });
    const exitedAt = Date.now();
    broker = await startBroker({ port, dataDir });
    await proxy.restore();
    const upAt = Date.now();
    const committedBefore = commits.length;
    process.stdout.write(`broker restart: SIGTERM took ${exitedAt - stoppedAt} ms, unreachable for ${upAt - stoppedAt} ms, ${committedBefore} commits before it\n`);
    await eventually(() => commits.includes(BigInt(RECORDS)) || pipelineError !== undefined, 60_000, () => `the commit of the end (commits ${commits.join(',')})`);
    expect(pipelineError).toBeUndefined();
    expect(commits[commits.length - 1]).toBe(BigInt(RECORDS));
    expect(processed).toBeGreaterThanOrEqual(RECORDS);
    // The outage fell inside the pipeline's work: it still had records to commit when the broker went away.
    expect(committedBefore).toBeLessThan(RECORDS / 5);
    const reader = await firstValueFrom(Client.connect$(broker.address, { clientId: 'commit-restart-reader' }));
    try {
      expect(await firstValueFrom(reader.getOffset$(groupId, topic, 0))).toBe(BigInt(RECORDS));
    } finally {
      await reader.close();
    }
    // The outage was seen (and retried), not missed because it fell between commits.
    expect(consumer.health().lastError?.code).toMatch(/ALL_SERVERS_UNAVAILABLE|CONNECTION|TIMEOUT/);
  } finally {
    subscription.unsubscribe();
    await consumer.close();
  }
});
