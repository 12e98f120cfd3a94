/**
 * A dropped connection alone does not rebalance the group (issue 20 §1.8).
 *
 * rivvend 0.0.22 starts a rebalance on every JoinGroup, even one repeating a known member id
 * (rivven-core `ConsumerGroup::add_member` → `transition_to_preparing_rebalance`), while a closed
 * connection costs a member nothing (members leave only by LeaveGroup or the session timeout). So a
 * member whose connections are cut must reconnect and heartbeat on with the same member id and
 * generation. Two members against the real broker, one of them behind a fault proxy whose every
 * connection (coordinator and fetch lanes) is reset three times: the group keeps its generation,
 * no partition is revoked, and both members go on consuming.
 *
 * The same holds half-way through a round: a follower whose connection is cut after the leader
 * synced repeats its cut request as the same member (keptMembership), takes the generation's
 * assignment, and the group does not rebalance a second time.
 */
import { firstValueFrom, type Subscription } from 'rxjs';
import { Client } from '../../src/client/client';
import { Consumer } from '../../src/consumer/consumer';
import type { ConsumerRecord, RebalanceEvent, TopicPartition } from '../../src/consumer/consumer-record';
import type { Logger } from '../../src/observability/log';
import { FaultProxy } from '../support/fault-proxy';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

jest.setTimeout(90_000);

const PARTITIONS = 4;
const HEARTBEAT_MS = 500;
const SESSION_TIMEOUT_MS = 6_000;
const KILLS = 3;

let client: Client;
let proxy: FaultProxy;

beforeAll(async () => {
  client = await firstValueFrom(Client.connect$(testBroker().address, { clientId: 'group-connection-loss-spec' }));
  proxy = await FaultProxy.start(testBroker().address);
});
afterAll(async () => {
  await proxy?.close();
  await client?.close();
});

async function eventually(predicate: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function produce(topic: string, round: number, perPartition: number): Promise<void> {
  for (let p = 0; p < PARTITIONS; p++) {
    await firstValueFrom(client.publishBatch$(topic, Array.from({ length: perPartition }, (_, i) => ({ value: `r${round}-p${p}-${i}` })), { partition: p }));
  }
}

interface Member {
  name: string;
  consumer: Consumer;
  owned: TopicPartition[];
  events: RebalanceEvent[];
  /** Values delivered (and acknowledged, or held). */
  values: Set<string>;
  /** Records delivered while acknowledgements were held. */
  held: ConsumerRecord[];
  subscriptions: Subscription[];
}

interface MemberOptions {
  /** While it returns true, records are held (acknowledged later by `release`). */
  holdAcks?: () => boolean;
  logger?: Logger;
}

function member(name: string, bootstrap: string, topic: string, groupId: string, options: MemberOptions = {}): Member {
  const consumer = Consumer.create({
    bootstrapServers: [bootstrap],
    clientId: `loss-${name}`,
    groupId,
    topics: [topic],
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    heartbeatIntervalMs: HEARTBEAT_MS,
    autoCommitIntervalMs: 500,
    maxPollRecords: 50,
    rebalanceTimeoutMs: 20_000,
    ...(options.logger === undefined ? {} : { logger: options.logger, logLevel: 'debug' as const }),
  });
  const m: Member = { name, consumer, owned: [], events: [], values: new Set(), held: [], subscriptions: [] };
  m.subscriptions.push(
    consumer.rebalances$.subscribe((event) => m.events.push(event)),
    consumer.assignments$.subscribe((owned) => (m.owned = owned)),
    consumer.records$.subscribe((record) => {
      m.values.add(record.value.toString());
      if (options.holdAcks?.() === true) m.held.push(record);
      else record.ack();
    }),
  );
  return m;
}

it(`a member whose connections are reset ${KILLS} times keeps its membership: same generation, no partition revoked, consumption goes on`, async () => {
  const topic = unique('conn-loss');
  const groupId = unique('g-conn-loss');
  await firstValueFrom(client.createTopic$(topic, PARTITIONS));
  await produce(topic, 0, 20);
  // The victim reaches the broker only through the proxy; the other member directly.
  const victim = member('victim', proxy.address, topic, groupId);
  const other = member('other', testBroker().address, topic, groupId);
  const members = [victim, other];
  const describe = () =>
    members.map((m) => `${m.name}: generation ${m.consumer.generationId}, owns [${m.owned.map((tp) => tp.partition).join(',')}], events ${JSON.stringify(m.events.map((e) => `${e.type}@${e.generationId}`))}, ${m.values.size} values, health ${JSON.stringify({ state: m.consumer.health().state, coordinatorReconnects: m.consumer.health().coordinatorReconnects, lastError: m.consumer.health().lastError?.message })}`).join(' | ');
  try {
    await eventually(
      () => members.every((m) => m.owned.length === PARTITIONS / 2 && m.consumer.health().state === 'stable') && members.every((m) => m.values.size > 0) && victim.values.size + other.values.size === PARTITIONS * 20,
      30_000,
      () => `two stable members sharing the partitions and the first records: ${describe()}`,
    );
    const generation = victim.consumer.generationId;
    expect(other.consumer.generationId).toBe(generation);
    const eventsBefore = members.map((m) => m.events.length);
    const ownedBefore = members.map((m) => JSON.stringify(m.owned));

    for (let kill = 1; kill <= KILLS; kill++) {
      const accepted = proxy.stats().connectionsAccepted;
      // RST every connection of the victim (coordinator and fetch lanes), then let new ones through.
      await proxy.reset();
      await proxy.restore();
      // The victim reconnects (its heartbeats and fetches need the broker)...
      await proxy.until((s) => s.connectionsAccepted > accepted && s.connectionsOpen > 0, 10_000);
      // ...and has heartbeated over its new coordinator connection: several heartbeat intervals
      // with the group's answer in. (A rejoin shows at once as a 'revoked' event: the wait ends early.)
      const quietUntil = Date.now() + 4 * HEARTBEAT_MS;
      await eventually(
        () => Date.now() >= quietUntil || members.some((m, i) => m.events.length > eventsBefore[i]!),
        10_000,
        () => `kill ${kill}: ${describe()}`,
      );
      expect({ kill, events: members.map((m) => m.events.slice(eventsBefore[members.indexOf(m)]!)) }).toEqual({ kill, events: [[], []] });
    }

    // Both members consume on: new records of every partition reach their owners.
    await produce(topic, 1, 20);
    await eventually(() => victim.values.size + other.values.size === PARTITIONS * 40, 20_000, () => `the records produced after the kills: ${describe()}`);

    process.stdout.write(`connection loss: ${describe()}\n`);
    expect(members.map((m) => m.consumer.generationId)).toEqual([generation, generation]);
    expect(members.map((m) => m.events.length)).toEqual(eventsBefore);
    expect(members.map((m) => JSON.stringify(m.owned))).toEqual(ownedBefore);
    // The coordinator connection was really replaced, and the membership kept over it.
    expect(victim.consumer.health().coordinatorReconnects).toBeGreaterThanOrEqual(KILLS);
    expect(other.consumer.health().coordinatorReconnects).toBe(0);
  } finally {
    for (const m of members) for (const s of m.subscriptions) s.unsubscribe();
    await Promise.all(members.map((m) => m.consumer.close()));
  }
});

/** A Logger that keeps the lines (for awaiting one) and writes nothing. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (fields: object, message: string) => lines.push(`${message} ${JSON.stringify(fields)}`);
  return { lines, debug: keep, info: keep, warn: keep, error: keep };
}

it('a follower whose connection is cut after the leader synced takes that generation\'s assignment: no second rebalance', async () => {
  const topic = unique('conn-loss-round');
  const groupId = unique('g-conn-loss-round');
  await firstValueFrom(client.createTopic$(topic, PARTITIONS));
  await produce(topic, 0, 20);
  let holding = false;
  // The leader is the first member (rivvend keeps the first joiner as leader): it joins alone first.
  const leader = member('leader', testBroker().address, topic, groupId, { holdAcks: () => holding });
  const victimLog = recordingLogger();
  const members = [leader];
  const describe = () =>
    members.map((m) => `${m.name}: generation ${m.consumer.generationId}, owns [${m.owned.map((tp) => tp.partition).join(',')}], events ${JSON.stringify(m.events.map((e) => `${e.type}@${e.generationId}`))}, health ${JSON.stringify({ state: m.consumer.health().state, coordinatorReconnects: m.consumer.health().coordinatorReconnects })}`).join(' | ');
  try {
    await eventually(() => leader.owned.length === PARTITIONS && leader.consumer.health().state === 'stable' && leader.values.size === PARTITIONS * 20, 30_000, () => `the leader alone: ${describe()}`);
    const victim = member('victim', proxy.address, topic, groupId, { logger: victimLog });
    members.push(victim);
    await eventually(
      () => members.every((m) => m.owned.length === PARTITIONS / 2 && m.consumer.health().state === 'stable'),
      30_000,
      () => `two stable members: ${describe()}`,
    );
    const generation = leader.consumer.generationId;

    // The leader holds records unacknowledged: its revoke, and so the next round, waits for them.
    holding = true;
    await produce(topic, 1, 5);
    await eventually(() => leader.held.length > 0, 10_000, () => `records held by the leader: ${describe()}`);
    // A third member starts the round (generation + 1).
    const third = member('third', testBroker().address, topic, groupId);
    members.push(third);
    const ready = (line: string) => line.startsWith('told the group it is ready for the generation ') && line.includes(`"generation":${generation + 1}`);
    await eventually(() => victimLog.lines.some(ready), 20_000, () => `the victim ready for generation ${generation + 1}: ${describe()}; victim log: ${victimLog.lines.slice(-5).join(' / ')}`);
    // The leader's revoke of this generation belongs to the round too: it begins when the leader's
    // heartbeat hears of the rebalance, which on a loaded machine can come after the victim is ready.
    await eventually(
      () => leader.events.some((e) => e.type === 'revoked' && e.generationId === generation),
      20_000,
      () => `the leader revoking generation ${generation}: ${describe()}`,
    );

    // The victim waits for the leader; its traffic now goes nowhere. The leader finishes and syncs.
    await proxy.blackhole();
    const eventsBefore = members.map((m) => m.events.length);
    for (const record of leader.held.splice(0)) record.ack();
    holding = false;
    await eventually(
      () => [leader, third].every((m) => m.consumer.generationId === generation + 1 && m.consumer.health().state === 'stable'),
      30_000,
      () => `the leader and the third member synced: ${describe()}`,
    );
    // The victim's connections are cut while it waits; new ones go through.
    await proxy.reset();
    await proxy.restore();
    await eventually(() => victim.consumer.health().state === 'stable' && victim.owned.length > 0, 30_000, () => `the victim synced: ${describe()}`);

    process.stdout.write(`cut mid-round: ${describe()}\n`);
    // One round: everyone on generation + 1, and no member revoked anything after it.
    expect(members.map((m) => m.consumer.generationId)).toEqual([generation + 1, generation + 1, generation + 1]);
    expect(members.map((m, i) => m.events.slice(eventsBefore[i]!).filter((e) => e.type === 'revoked'))).toEqual([[], [], []]);
    expect(victim.consumer.health().coordinatorReconnects).toBeGreaterThanOrEqual(1);
    // Every partition is owned by exactly one member.
    const owned = members.flatMap((m) => m.owned.map((tp) => tp.partition)).sort();
    expect(owned).toEqual(Array.from({ length: PARTITIONS }, (_, p) => p));
  } finally {
    await proxy.restore();
    for (const m of members) for (const s of m.subscriptions) s.unsubscribe();
    await Promise.all(members.map((m) => m.consumer.close()));
  }
});
