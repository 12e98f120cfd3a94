/**
 * One pipelined connection against the real broker: many requests in flight, cancellation,
 * write coalescing, clean close.
 */
import { filter, firstValueFrom, forkJoin, map, range, mergeMap, toArray, lastValueFrom } from 'rxjs';
import type { Socket } from 'node:net';
import { Client } from '../../src/client/client';
import { Connection } from '../../src/transport/connection';
import type { SocketFactory } from '../../src/connection-settings';
import { tcpSocketFactory } from '../../src/transport/sockets';
import { unique } from '../support/names';
import { testBroker } from '../support/test-broker';

const topic = unique('conn');

/** A TCP socket factory that counts the socket writes the kernel sees (one writev = one write). */
function countingFactory(): { factory: SocketFactory; writes: () => number } {
  let writes = 0;
  const factory: SocketFactory = {
    kind: 'tcp-counting',
    open(address, onReady) {
      const socket = tcpSocketFactory.open(address, onReady) as Socket & {
        _write: (...a: unknown[]) => void;
        _writev: (...a: unknown[]) => void;
      };
      const write = socket._write.bind(socket);
      const writev = socket._writev.bind(socket);
      socket._write = (...args) => {
        writes++;
        write(...args);
      };
      socket._writev = (...args) => {
        writes++;
        writev(...args);
      };
      return socket;
    },
  };
  return { factory, writes: () => writes };
}

beforeAll(async () => {
  const client = await firstValueFrom(Client.connect$(testBroker().address));
  await firstValueFrom(client.createTopic$(topic, 1));
  const values = Array.from({ length: 1000 }, (_, i) => ({ value: `v${i}` }));
  await firstValueFrom(client.publishBatch$(topic, values, { partition: 0 }));
  await client.close();
});

describe('Connection against the real broker', () => {
  it('completes 1,000 concurrent requests with the right replies', async () => {
    const connection = await firstValueFrom(Connection.connect$(testBroker().address));
    const replies = await lastValueFrom(
      range(0, 1000).pipe(
        mergeMap((i) =>
          connection.request$({ type: 'Consume', topic, partition: 0, offset: BigInt(i), maxMessages: 1 }).pipe(map((r) => [i, r] as const)),
        ),
        toArray(),
      ),
    );
    expect(replies).toHaveLength(1000);
    for (const [i, reply] of replies) {
      expect(reply.type).toBe('Messages');
      if (reply.type !== 'Messages') continue;
      expect(reply.messages[0]?.offset).toBe(BigInt(i));
      expect(reply.messages[0]?.value.toString()).toBe(`v${i}`);
    }
    expect(connection.stats()).toMatchObject({ requestsSent: 1001, requestsSucceeded: 1001, inFlight: 0 });
    await connection.close();
  });

  it('coalesces requests issued in the same tick into one socket write', async () => {
    const { factory, writes } = countingFactory();
    // quickAck off: its Pings are socket writes of their own, and this test counts writes.
    const connection = await firstValueFrom(Connection.connect$(testBroker().address, { socketFactory: factory, quickAck: false }));
    const before = writes();
    const pings = Array.from({ length: 100 }, () => connection.request$({ type: 'Ping' }));
    const replies = await firstValueFrom(forkJoin(pings));
    expect(replies).toHaveLength(100);
    expect(writes() - before).toBe(1);
    await connection.close();
  });

  it('drops the late reply of a request unsubscribed before it arrived', async () => {
    const connection = await firstValueFrom(Connection.connect$(testBroker().address));
    const lateReply = firstValueFrom(connection.responses$.pipe(filter((f) => f.response.type === 'Messages')));
    let emitted = false;
    const subscription = connection
      .request$({ type: 'Consume', topic, partition: 0, offset: 5000n, maxMessages: 1, maxWaitMs: 300n })
      .subscribe({ next: () => (emitted = true), error: () => (emitted = true) });
    subscription.unsubscribe();
    expect(connection.inFlight).toBe(0);
    await lateReply; // the broker answered; nobody heard it
    expect(emitted).toBe(false);
    expect(connection.state).toBe('ready');
    expect(await firstValueFrom(connection.request$({ type: 'Ping' }))).toEqual({ type: 'Pong' });
    await connection.close();
  });

  it('closes cleanly: state closed and nothing left open (Jest checks handles)', async () => {
    const connection = await firstValueFrom(Connection.connect$(testBroker().address));
    await firstValueFrom(connection.request$({ type: 'Ping' }));
    await connection.close();
    expect(connection.state).toBe('closed');
    await connection.close(); // idempotent
  });
});
