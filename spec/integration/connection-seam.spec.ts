/**
 * The fake seam of the one connection layer: `Producer.create(options, { connect })` and
 * `Consumer.create(options, { connect })` get every lane connection from the injected connector
 * (pinned-lanes.ts). Through it: the producer opens at most `connections` lanes and pins each
 * partition to one; the consumer opens its coordinator and fetch lanes by name and, when a lane's
 * first connection attempt fails, reconnects through the same seam and still delivers every record.
 */
import { Observable, firstValueFrom, take, toArray } from 'rxjs';
import { Client } from '../../src/client/client';
import type { LaneConnector } from '../../src/client/pinned-lanes';
import { Consumer } from '../../src/consumer/consumer';
import { ConnectionError } from '../../src/errors';
import { Producer } from '../../src/producer/producer';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

jest.setTimeout(60_000);


/** A connector that records each connection it opens (and what the lane is called) and can refuse some. */
function recordingConnector(refuse: (clientId: string, attempt: number) => boolean = () => false) {
  const opened: string[] = [];
  const attempts = new Map<string, number>();
  const clients: Client[] = [];
  const connect: LaneConnector = (server, options) => {
    const clientId = options.clientId ?? '';
    const attempt = (attempts.get(clientId) ?? 0) + 1;
    attempts.set(clientId, attempt);
    if (refuse(clientId, attempt)) return new Observable<Client>((subscriber) => subscriber.error(new ConnectionError(`refused by the spec (${clientId} #${attempt})`)));
    opened.push(clientId);
    return new Observable<Client>((subscriber) =>
      Client.connect$(server, options).subscribe({
        next: (client) => {
          clients.push(client);
          subscriber.next(client);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
  };
  return { connect, opened, attempts, clients };
}

let admin: Client;
beforeAll(async () => {
  admin = await firstValueFrom(Client.connect$({ bootstrapServers: testBroker().address }));
});
afterAll(() => admin?.close());

it('Producer: every lane comes through the seam, at most `connections` of them, and a partition always uses the same one', async () => {
  const topic = unique('seam-producer');
  await firstValueFrom(admin.createTopic$(topic, 6));
  const seam = recordingConnector();
  const producer = Producer.create({ bootstrapServers: testBroker().address, connections: 2, logger: null }, seam);
  try {
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 6 }, (_, partition) => firstValueFrom(producer.send$({ topic, partition, value: `r${round}p${partition}` }))));
    }
    expect(seam.opened.length).toBeGreaterThanOrEqual(1);
    expect(seam.opened.length).toBeLessThanOrEqual(2);
    // Three rounds over six partitions opened nothing more: each partition kept its lane.
    expect(seam.clients.every((c) => c.state === 'ready')).toBe(true);
  } finally {
    await producer.close();
  }
  expect(seam.clients.every((c) => c.state === 'closed')).toBe(true);
});

it('Consumer: coordinator and fetch lanes by name; a refused first attempt is retried through the seam and every record arrives', async () => {
  const topic = unique('seam-consumer');
  await firstValueFrom(admin.createTopic$(topic, 2));
  for (let p = 0; p < 2; p++) await firstValueFrom(admin.publishBatch$(topic, Array.from({ length: 5 }, (_, i) => ({ value: `p${p}-${i}` })), { partition: p }));
  // The first connection attempt of every lane is refused.
  const seam = recordingConnector((_clientId, attempt) => attempt === 1);
  const consumer = Consumer.create(
    { bootstrapServers: testBroker().address, clientId: 'seam', groupId: unique('g'), assign: { [topic]: [0, 1] }, fetchConnections: 2, ackMode: 'onEmit', retry: { initialDelayMs: 10, maxDelayMs: 50 }, logger: null },
    seam,
  );
  try {
    const values = (await firstValueFrom(consumer.records$.pipe(take(10), toArray()))).map((r) => r.value.toString()).sort();
    expect(values).toEqual([...Array.from({ length: 5 }, (_, i) => `p0-${i}`), ...Array.from({ length: 5 }, (_, i) => `p1-${i}`)].sort());
    expect(new Set(seam.opened)).toEqual(new Set(['seam-coordinator', 'seam-fetch-0', 'seam-fetch-1']));
    for (const lane of seam.opened) expect(seam.attempts.get(lane)).toBeGreaterThanOrEqual(2);
  } finally {
    await consumer.close();
  }
});

it('Consumer: a commit whose coordinator connection broke and whose first reconnect round finds no server is tried once more, and lands', async () => {
  const topic = unique('seam-commit');
  await firstValueFrom(admin.createTopic$(topic, 1));
  await firstValueFrom(admin.publishBatch$(topic, Array.from({ length: 3 }, (_, i) => ({ value: `v${i}` })), { partition: 0 }));
  // The coordinator's second connection attempt (the first reconnect) is refused; every other attempt connects.
  const seam = recordingConnector((clientId, attempt) => clientId === 'seam-coordinator' && attempt === 2);
  const groupId = unique('g');
  const consumer = Consumer.create(
    { bootstrapServers: testBroker().address, clientId: 'seam', groupId, assign: { [topic]: [0] }, ackMode: 'onEmit', enableAutoCommit: false, retry: { initialDelayMs: 10, maxDelayMs: 50 }, logger: null },
    seam,
  );
  try {
    await firstValueFrom(consumer.records$.pipe(take(3), toArray()));
    // The coordinator connection breaks (as a broker restart would break it).
    const coordinator = seam.clients[seam.opened.indexOf('seam-coordinator')]!;
    await coordinator.close();
    const committed = await firstValueFrom(consumer.commit$());
    expect(committed.offsets).toEqual([{ topic, partition: 0, offset: 3n }]);
    expect(seam.attempts.get('seam-coordinator')).toBe(3);
    expect(await firstValueFrom(admin.getOffset$(groupId, topic, 0))).toBe(3n);
  } finally {
    await consumer.close();
  }
});
