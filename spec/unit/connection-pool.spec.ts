/**
 * The per-server connection pool in virtual time: lazy, bounded, shared by pipelining, recycled
 * after its lifetime (in-flight requests finish first), idle eviction, broken connections
 * replaced, one event per incident.
 */
import { concat, filter, firstValueFrom, lastValueFrom, map, of, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { ConnectionPool, type PoolEvent } from '../../src/client/connection-pool';
import { ConnectionError } from '../../src/errors';
import type { RequestInput } from '../../src/protocol/request-schema';
import { VirtualBroker, type VirtualConnection } from '../support/virtual-broker';

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

function pool(ts: TestScheduler, broker: VirtualBroker, options: Partial<{ maxSize: number; maxLifetimeMs: number; idleTimeoutMs: number }> = {}) {
  return new ConnectionPool({
    address: { host: '127.0.0.1', port: 1 },
    maxSize: options.maxSize ?? 3,
    maxLifetimeMs: options.maxLifetimeMs ?? 300_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 0,
    scheduler: ts,
    connect: () => broker.connect$({ requestTimeoutMs: 0 }),
  });
}

const ping: RequestInput = { type: 'Ping' };
const slow: RequestInput = { type: 'ListTopics' };
const LETTERS: Partial<Record<PoolEvent['type'], string>> = { opened: 'o', retired: 'r', closed: 'x', broken: 'b', 'connect-failed': 'f' };

function letters(p: ConnectionPool) {
  return p.events$.pipe(
    filter((e) => e.type !== 'usage'),
    map((e) => LETTERS[e.type]!),
  );
}

describe('ConnectionPool', () => {
  it('opens nothing until a request needs it, then reuses the idle connection', () => {
    const ts = scheduler();
    const broker = new VirtualBroker(ts, '127.0.0.1:1');
    ts.run(({ expectObservable }) => {
      const p = pool(ts, broker);
      ts.schedule(() => expect(broker.connectAttempts).toBe(0), 50);
      const request = () => p.use$((c) => c.request$(ping));
      ts.schedule(() => request().subscribe(), 100);
      ts.schedule(() => request().subscribe(), 200);
      ts.schedule(() => request().subscribe(), 300);
      expectObservable(letters(p), '^ 400ms !').toBe('101ms o');
    });
    expect(broker.connectAttempts).toBe(1);
    expect(broker.requests.map((r) => [r.at, r.connection])).toEqual([
      [101, 1],
      [200, 1],
      [300, 1],
    ]);
  });

  it('grows to maxSize under concurrency, never beyond, and pipelines the rest on the open connections', () => {
    const ts = scheduler();
    const broker = new VirtualBroker(ts, '127.0.0.1:1', { replyDelay: 10 });
    const replies: string[] = [];
    ts.run(() => {
      const p = pool(ts, broker, { maxSize: 3 });
      for (let i = 0; i < 20; i++) p.use$((c) => c.request$(ping)).subscribe((r) => replies.push(r.type));
      ts.schedule(() => expect(p.snapshot()).toMatchObject({ size: 3, busy: 3, inFlight: 20 }), 5);
      ts.schedule(() => expect(p.snapshot()).toMatchObject({ size: 3, idle: 3, busy: 0, inFlight: 0 }), 50);
    });
    expect(replies).toHaveLength(20);
    expect(broker.connectAttempts).toBe(3);
    const perConnection = [1, 2, 3].map((id) => broker.requests.filter((r) => r.connection === id).length);
    expect(perConnection.reduce((a, b) => a + b)).toBe(20);
    expect(Math.min(...perConnection)).toBeGreaterThan(0);
  });

  it('recycles a connection after maxLifetimeMs: in-flight requests finish first, new ones go to a fresh connection (marbles)', () => {
    const ts = scheduler();
    const broker = new VirtualBroker(ts, '127.0.0.1:1', { replyDelay: (r) => (r.type === 'ListTopics' ? 600 : 1) });
    let slowReply: string | undefined;
    ts.run(({ expectObservable }) => {
      const p = pool(ts, broker, { maxLifetimeMs: 1000 });
      ts.schedule(() => p.use$((c) => c.request$(ping)).subscribe(), 0); // opens #1 at 1
      ts.schedule(() => p.use$((c) => c.request$(slow)).subscribe((r) => (slowReply = r.type)), 900); // #1, answered at 1500
      ts.schedule(() => p.use$((c) => c.request$(ping)).subscribe(), 1200); // #1 retired at 1001 → opens #2
      ts.schedule(() => expect(p.snapshot()).toMatchObject({ retiring: 1, size: 2 }), 1300);
      // opened #1 @1, retired #1 @1001, opened #2 @1201, closed #1 @1500 once its request finished
      expectObservable(letters(p), '^ 2000ms !').toBe('1ms o 999ms r 199ms o 298ms x');
    });
    expect(slowReply).toBe('Topics'); // the slow request finished on the retired connection
    expect(broker.requests.map((r) => [r.at, r.type, r.connection])).toEqual([
      [1, 'Ping', 1],
      [900, 'ListTopics', 1],
      [1201, 'Ping', 2],
    ]);
    expect(broker.connections[0]!.closedAt).toBe(1500);
    expect(broker.connections[1]!.closedAt).toBe(2201); // and #2 is recycled in turn, 1000 after it opened
  });

  it('closes a connection idle for idleTimeoutMs, and keeps one that is used', () => {
    const ts = scheduler();
    const broker = new VirtualBroker(ts, '127.0.0.1:1');
    ts.run(({ expectObservable }) => {
      const p = pool(ts, broker, { idleTimeoutMs: 100 });
      ts.schedule(() => p.use$((c) => c.request$(ping)).subscribe(), 0); // done at 2 → idle timer to 102
      ts.schedule(() => p.use$((c) => c.request$(ping)).subscribe(), 50); // done at 51 → idle timer to 151
      expectObservable(letters(p), '^ 400ms !').toBe('1ms o 149ms x');
    });
    expect(broker.connections[0]!.closedAt).toBe(151);
  });

  it('replaces a broken connection on the next request, reporting the break once for all its requests', () => {
    const ts = scheduler();
    const broker = new VirtualBroker(ts, '127.0.0.1:1', { replyDelay: 100 });
    const errors: unknown[] = [];
    ts.run(({ expectObservable }) => {
      const p = pool(ts, broker, { maxSize: 1 });
      for (let i = 0; i < 5; i++) p.use$((c) => c.request$(ping)).subscribe({ error: (e) => errors.push(e) });
      ts.schedule(() => broker.connections[0]!.break(), 50);
      ts.schedule(() => p.use$((c) => c.request$(ping)).subscribe(), 60);
      expectObservable(letters(p), '^ 300ms !').toBe('1ms o 48ms b 10ms o');
    });
    expect(errors).toHaveLength(5);
    for (const e of errors) expect(e).toBeInstanceOf(ConnectionError);
    expect(broker.connectAttempts).toBe(2);
    expect(broker.requests.at(-1)).toMatchObject({ at: 61, connection: 2 });
  });

  it('one failed connect fails every request waiting for it with one event', () => {
    const ts = scheduler();
    const broker = new VirtualBroker(ts, '127.0.0.1:1', { connectDelay: 5 });
    broker.fault = 'refuse';
    const errors: unknown[] = [];
    ts.run(({ expectObservable }) => {
      const p = pool(ts, broker, { maxSize: 1 });
      for (let i = 0; i < 4; i++) p.use$((c) => c.request$(ping)).subscribe({ error: (e) => errors.push(e) });
      expectObservable(letters(p), '^ 20ms !').toBe('5ms f');
    });
    expect(broker.connectAttempts).toBe(1);
    expect(errors).toHaveLength(4);
    expect((errors[0] as Error).message).toMatch(/ECONNREFUSED/);
  });

  it('gives a long poll (heavy) its own connection so other requests are not queued behind it', () => {
    const ts = scheduler();
    const broker = new VirtualBroker(ts, '127.0.0.1:1', { replyDelay: (r) => (r.type === 'Consume' ? 5000 : 1) });
    ts.run(() => {
      const p = pool(ts, broker, { maxSize: 2 });
      const consume: RequestInput = { type: 'Consume', topic: 't', partition: 0, offset: 0n, maxMessages: 1, maxWaitMs: 5000n };
      ts.schedule(() => p.use$((c) => c.request$(consume), { heavy: true }).subscribe(), 0);
      for (const t of [10, 20, 30]) ts.schedule(() => p.use$((c) => c.request$(ping)).subscribe(), t);
    });
    const consumeConnection = broker.requestsOf('Consume')[0]!.connection;
    expect(broker.requestsOf('Ping').map((r) => r.connection)).toEqual(Array(3).fill(consumeConnection === 1 ? 2 : 1));
  });

  it('an unsubscribed waiter leaves the queue and holds nothing', () => {
    const ts = scheduler();
    const broker = new VirtualBroker(ts, '127.0.0.1:1', { connectDelay: 10 });
    ts.run(() => {
      const p = pool(ts, broker, { maxSize: 1 });
      const sub = p.use$((c) => c.request$(ping)).subscribe();
      ts.schedule(() => sub.unsubscribe(), 5);
      ts.schedule(() => expect(p.snapshot()).toMatchObject({ size: 1, idle: 1, inFlight: 0 }), 20);
    });
    expect(broker.requests).toHaveLength(0);
  });

  it('close() closes every connection, fails waiters, completes events$, refuses new work', async () => {
    const ts = scheduler();
    const broker = new VirtualBroker(ts, '127.0.0.1:1', { connectDelay: 10 });
    const waiterErrors: unknown[] = [];
    const p = pool(ts, broker, { maxSize: 2 });
    const events = lastValueFrom(concat(p.events$.pipe(filter((e) => e.type !== 'usage')), of({ type: 'end' })).pipe(toArray()));
    ts.run(() => {
      p.use$((c) => c.request$(ping)).subscribe();
      ts.schedule(() => {
        p.use$((c) => c.request$(ping)).subscribe({ error: (e) => waiterErrors.push(e) });
        p.use$((c) => c.request$(ping)).subscribe({ error: (e) => waiterErrors.push(e) });
      }, 15);
      ts.schedule(() => void p.close(), 16); // one open (idle) connection, one still connecting with waiters
    });
    await p.close();
    expect(broker.connections.map((c: VirtualConnection) => c.state)).toEqual(['closed']);
    expect(waiterErrors.length + broker.requests.length).toBe(3);
    await expect(firstValueFrom(p.use$((c) => c.request$(ping)))).rejects.toBeInstanceOf(ConnectionError);
    expect((await events).map((e) => e.type)).toEqual(['opened', 'closed', 'end']);
  });
});

describe('ConnectionPool with a misbehaving factory', () => {
  it('treats a factory that throws like a failed connect: the request errors, nothing is left connecting', () => {
    const ts = scheduler();
    const errors: unknown[] = [];
    let p: ConnectionPool | undefined;
    ts.run(() => {
      p = new ConnectionPool({
        address: { host: '127.0.0.1', port: 1 },
        maxSize: 2,
        maxLifetimeMs: 1000,
        idleTimeoutMs: 0,
        scheduler: ts,
        connect: () => {
          throw new ConnectionError('no sockets today');
        },
      });
      p.use$((c) => c.request$(ping)).subscribe({ error: (e) => errors.push(e) });
    });
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('no sockets today');
    expect(p!.snapshot()).toMatchObject({ size: 0, connecting: 0 });
  });
});
