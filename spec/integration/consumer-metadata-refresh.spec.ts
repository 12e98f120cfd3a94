/**
 * metadataRefreshIntervalMs against the real broker: members re-read their topics' partition
 * counts on that interval, and partitions added with CreatePartitions trigger a rebalance that
 * gives them owners — whose records then flow.
 */
import { Subject, filter, firstValueFrom, timeout, type Observable } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import type { ConsumerRecord, RebalanceEvent, TopicPartition } from '../../src/consumer/consumer-record';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

let client: Client;

beforeAll(async () => {
  client = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'consumer-metadata-refresh-spec' }));
});
afterAll(async () => {
  await client.close();
});

function when<T>(source$: Observable<T>, predicate: (value: T) => boolean, what: string, ms = 20_000): Promise<T> {
  return firstValueFrom(source$.pipe(filter(predicate), timeout({ first: ms, with: () => Promise.reject(new Error(`timed out waiting for ${what}`)) })));
}

it('partitions added to a subscribed topic are assigned after the next metadata refresh, and consumed', async () => {
  const topic = unique('grow');
  await firstValueFrom(client.createTopic$(topic, 2));
  const config = {
    bootstrapServers: [testBroker().address],
    groupId: unique('g'),
    topics: [topic],
    metadataRefreshIntervalMs: 500,
    heartbeatIntervalMs: 300,
    sessionTimeoutMs: 6_000,
    enableAutoCommit: false,
  };
  const members = [Consumer.create({ ...config, clientId: 'm0' }), Consumer.create({ ...config, clientId: 'm1' })];
  const owned: TopicPartition[][] = [[], []];
  const events: RebalanceEvent[] = [];
  const seen: ConsumerRecord[] = [];
  const progress = new Subject<void>();
  const subscriptions = members.flatMap((m, i) => [
    m.assignments$.subscribe((a) => (owned[i] = a)),
    m.rebalances$.subscribe((e) => events.push(e)),
    m.records$.subscribe((r) => {
      seen.push(r);
      r.ack();
      progress.next();
    }),
  ]);
  const ownedCount = () => owned[0]!.length + owned[1]!.length;
  try {
    await Promise.all(members.map((m, i) => when(m.assignments$, (a) => a.length === 1, `member ${i} to own one partition`)));

    expect(await firstValueFrom(client.createPartitions$(topic, 4))).toBe(4);
    await Promise.all(members.map((m, i) => when(m.assignments$, (a) => a.length === 2, `member ${i} to own two partitions`)));
    expect(events.some((e) => e.type === 'revoked' && e.reason === 'metadataChanged')).toBe(true);
    expect(members.reduce((n, m) => n + m.health().metadataRebalances, 0)).toBeGreaterThan(0);
    // Every partition, the new ones included, has exactly one owner.
    const all = [...owned[0]!, ...owned[1]!].map((tp) => tp.partition).sort();
    expect(all).toEqual([0, 1, 2, 3]);
    expect(ownedCount()).toBe(4);

    for (let p = 0; p < 4; p++) await firstValueFrom(client.publish$(topic, { value: `new-${p}`, partition: p }));
    if (seen.length < 4) await when(progress, () => seen.length >= 4, 'the records of all four partitions');
    expect(seen.map((r) => r.value.toString()).sort()).toEqual(['new-0', 'new-1', 'new-2', 'new-3']);
  } finally {
    subscriptions.forEach((s) => s.unsubscribe());
    await Promise.all(members.map((m) => m.close()));
  }
}, 60_000);
