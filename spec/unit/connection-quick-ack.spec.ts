/**
 * quickAck against a peer that behaves like rivvend 0.0.22 under Nagle: it writes a reply in two
 * parts and holds the second until the client sends something (in TCP, until the client's ACK
 * arrives — which the client's kernel delays up to 40 ms when it has nothing to send). The test
 * makes the hold indefinite, so only the client's own nudge can release it.
 */
import { firstValueFrom } from 'rxjs';
import { RivvenTimeoutError } from '../../src/errors';
import { encodeResponseFrame } from '../../src/protocol/frame';
import { Connection } from '../../src/transport/connection';
import { FakeBroker, politeHandler, type FakeHandler } from '../support/fake-broker';
import { rejection } from '../support/rejection';

/** Replies to GetMetadata with the length prefix first and the rest only after more client bytes. */
function nagleBroker(): { handler: FakeHandler; pingsSeen: () => number } {
  let held: { write(): void } | undefined;
  let pings = 0;
  const handler: FakeHandler = (request, correlationId, peer) => {
    // Any bytes from the client stand for the ACK that releases the held part.
    if (held !== undefined) {
      const release = held;
      held = undefined;
      release.write();
    }
    if (request.type === 'Ping') pings++;
    if (request.type === 'GetMetadata') {
      const frame = encodeResponseFrame({ type: 'Metadata', name: request.topic, partitions: 3 }, correlationId);
      peer.raw(frame.subarray(0, 4));
      held = { write: () => peer.raw(frame.subarray(4)) };
      return undefined;
    }
    return politeHandler(request, correlationId, peer);
  };
  return { handler, pingsSeen: () => pings };
}

describe('Connection quickAck', () => {
  let fake: FakeBroker;
  afterEach(async () => fake.stop());

  it('gets a reply whose second part waits for the client to send something (default on)', async () => {
    const broker = nagleBroker();
    fake = await FakeBroker.start(broker.handler);
    const connection = await firstValueFrom(Connection.connect$(fake.address, { requestTimeoutMs: 5_000 }));
    const before = connection.stats();
    for (let i = 0; i < 5; i++) {
      const reply = await firstValueFrom(connection.request$({ type: 'GetMetadata', topic: `t${i}` }));
      expect(reply).toEqual({ type: 'Metadata', name: `t${i}`, partitions: 3 });
    }
    // The nudges were Pings, answered and dropped: not counted as the caller's requests, no errors.
    // One nudge per held reply here; never a runaway (each nudge's own reply is whole, and once
    // nothing waits, nothing more is sent).
    expect(broker.pingsSeen()).toBeGreaterThanOrEqual(5);
    expect(broker.pingsSeen()).toBeLessThanOrEqual(10);
    const stats = connection.stats();
    expect(stats.requestsSent - before.requestsSent).toBe(5);
    expect(stats.requestsSucceeded - before.requestsSucceeded).toBe(5);
    expect(stats.lastError).toBeUndefined();
    expect(connection.state).toBe('ready');
    await connection.close();
  });

  it('without quickAck the held part never comes and the request times out', async () => {
    const broker = nagleBroker();
    fake = await FakeBroker.start(broker.handler);
    const connection = await firstValueFrom(Connection.connect$(fake.address, { requestTimeoutMs: 300, quickAck: false }));
    const error = await rejection(firstValueFrom(connection.request$({ type: 'GetMetadata', topic: 't' })));
    expect(error).toBeInstanceOf(RivvenTimeoutError);
    expect(broker.pingsSeen()).toBe(0);
    await connection.close();
  });
});
