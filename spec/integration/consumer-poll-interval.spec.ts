/**
 * maxPollIntervalMs (Kafka's max.poll.interval) against the real broker, with a group of two: a
 * member whose subscriber sits on its records without acknowledging them for longer than the
 * interval leaves the group — its partition goes to the live member, which reads it — and the
 * member rejoins as soon as its subscriber acknowledges again.
 */
import { Subject, filter, firstValueFrom, timeout, type Observable } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import type { ConsumerRecord, RebalanceEvent } from '../../src/consumer/consumer-record';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

let client: Client;

beforeAll(async () => {
  client = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'consumer-poll-interval-spec' }));
});
afterAll(async () => {
  await client.close();
});

/** The first value matching `predicate`, or a failure naming what did not happen. */
function when<T>(source$: Observable<T>, predicate: (value: T) => boolean, what: string, ms = 20_000): Promise<T> {
  return firstValueFrom(source$.pipe(filter(predicate), timeout({ first: ms, with: () => Promise.reject(new Error(`timed out waiting for ${what}`)) })));
}

it('a member whose subscriber stops acknowledging leaves after maxPollIntervalMs, its partition moves to the live member, and it rejoins when it acknowledges again', async () => {
  const topic = unique('poll-interval');
  const groupId = unique('g');
  await firstValueFrom(client.createTopic$(topic, 2));
  const config = {
    bootstrapServers: [testBroker().address],
    groupId,
    topics: [topic],
    maxPollIntervalMs: 1_500,
    maxPollRecords: 10,
    heartbeatIntervalMs: 300,
    sessionTimeoutMs: 6_000,
    enableAutoCommit: false,
  };
  const live = Consumer.create({ ...config, clientId: 'live' });
  const stuck = Consumer.create({ ...config, clientId: 'stuck' });
  const liveSeen: ConsumerRecord[] = [];
  const held: ConsumerRecord[] = [];
  const stuckEvents: RebalanceEvent[] = [];
  stuck.rebalances$.subscribe((e) => stuckEvents.push(e));
  const liveProgress = new Subject<void>();
  const liveSub = live.records$.subscribe((r) => {
    liveSeen.push(r);
    r.ack();
    liveProgress.next();
  });
  const stuckSub = stuck.records$.subscribe((r) => held.push(r)); // takes records, never acknowledges
  try {
  await Promise.all([
    when(live.assignments$, (a) => a.length === 1, 'the live member to own one partition'),
    when(stuck.assignments$, (a) => a.length === 1, 'the stuck member to own one partition'),
  ]);
  const stuckPartition = (await firstValueFrom(stuck.assignments$))[0]!.partition;

  for (let p = 0; p < 2; p++) {
    await firstValueFrom(client.publishBatch$(topic, Array.from({ length: 30 }, (_, i) => ({ value: `p${p}-${i}` })), { partition: p }));
  }
  // The stuck member's subscriber holds what it got and acknowledges none.
  const left = await when(stuck.rebalances$, (e) => e.type === 'revoked' && e.reason === 'maxPollIntervalExceeded', 'the stuck member to leave');
  expect(left.partitions).toEqual([{ topic, partition: stuckPartition }]);
  expect(stuck.health()).toMatchObject({ state: 'left', maxPollIntervalExceeded: 1 });
  // It holds more than half of maxPollRecords unacknowledged (so the partition could not fetch) and
  // never more than maxPollRecords; how many exactly depends on how much the first fetch found.
  expect(held.length).toBeGreaterThan(5);
  expect(held.length).toBeLessThanOrEqual(10);

  // The live member gets the partition and reads it from the start (nothing was committed for it).
  await when(live.assignments$, (a) => a.length === 2, 'the live member to own both partitions');
  const fromStuckPartition = () => liveSeen.filter((r) => r.partition === stuckPartition).map((r) => Number(r.offset));
  if (fromStuckPartition().length < 30) await when(liveProgress, () => fromStuckPartition().length >= 30, 'the live member to read the partition');
  expect(fromStuckPartition()).toEqual(Array.from({ length: 30 }, (_, i) => i));

  // The subscriber catches up: acknowledging (even records of the revoked partition) brings the member back.
  const rejoined = when(stuck.rebalances$, (e) => e.type === 'assigned' && e.partitions.length === 1, 'the member to rejoin');
  for (const r of held) r.ack();
  await rejoined;
  await when(live.assignments$, (a) => a.length === 1, 'the live member to give one partition back');
  expect(stuck.health().state).toBe('stable');
  expect(stuckEvents.filter((e) => e.type === 'revoked' && e.reason === 'maxPollIntervalExceeded')).toHaveLength(1);

  } finally {
    liveSub.unsubscribe();
    stuckSub.unsubscribe();
    await Promise.all([live.close(), stuck.close()]);
  }
}, 60_000);
