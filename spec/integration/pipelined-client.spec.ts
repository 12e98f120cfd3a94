/**
 * PipelinedClient against the real broker, watched through the fault proxy: the in-flight bound
 * holds at the broker's door, everything completes, writes are batched, faults surface as typed
 * errors, and a broken connection is replaced on demand (requests waiting for a slot are sent on the
 * new one; those in flight fail with a retriable ConnectionError).
 */
import { filter, firstValueFrom, forkJoin, lastValueFrom, mergeMap, range, reduce, toArray } from 'rxjs';
import { PipelinedClient } from '../../src/client/pipelined-client';
import { PipelinedClientPresets } from '../../src/client/pipelined-options';
import { Client } from '../../src/client/client';
import { ConfigError, ConnectionError, ServerError, RivvenTimeoutError } from '../../src/errors';
import { startBroker, type BrokerProcess } from '../support/broker-process';
import { FaultProxy } from '../support/fault-proxy';
import { unique } from '../support/names';
import { pingLatency } from '../support/ping';
import { testBroker } from '../support/test-broker';
import { rejection } from '../support/rejection';

const PING_FRAME_BYTES = 10; // [len 4][format 1][correlation 4][variant 1]

let proxy: FaultProxy;
beforeEach(async () => {
  proxy = await FaultProxy.start(testBroker().address);
});
afterEach(async () => {
  await proxy.close();
});


describe('PipelinedClient against the real broker', () => {
  it('sends 10,000 requests with maxInFlight 32: never more than 32 outstanding at the broker, all complete, writes batched', async () => {
    // quickAck off: this test counts frames at the proxy, and quick-ACK Pings would add to them.
    const client = await firstValueFrom(
      PipelinedClient.connect$({ bootstrapServers: proxy.address, maxInFlight: 32, quickAck: false }),
    );
    proxy.resetStats(); // forget the handshake
    const replies = await lastValueFrom(
      range(0, 10_000).pipe(
        mergeMap(() => client.request$({ type: 'Ping' })), // all 10,000 subscribed at once: 9,968 wait
        reduce((n, r) => (r.type === 'Pong' ? n + 1 : n), 0),
      ),
    );
    expect(replies).toBe(10_000);

    const seen = proxy.stats();
    expect(seen.framesToBroker).toBe(10_000);
    expect(seen.framesToClient).toBe(10_000);
    expect(seen.maxOutstanding).toBeLessThanOrEqual(32);
    expect(seen.maxOutstanding).toBeGreaterThanOrEqual(16); // and the pipeline was actually used

    const health = client.health();
    expect(health).toMatchObject({ requestsSent: 10_000, requestsCompleted: 10_000, requestsFailed: 0, inFlight: 0, queued: 0, successRate: 1 });
    expect(health.peakInFlight).toBe(32);
    expect(health.peakQueued).toBeGreaterThanOrEqual(9_968);
    expect(health.requestsWaited).toBeGreaterThanOrEqual(9_968);

    // Batching, seen by the client (frames per socket write) and at the proxy (bytes per read).
    const bytesPerRead = seen.bytesToBroker / seen.readsFromClient.length;
    expect(health.averageBatchSize).toBeGreaterThan(4);
    expect(bytesPerRead).toBeGreaterThan(4 * PING_FRAME_BYTES);
    await client.close();
  });

  it('PipelinedClientPresets.lowLatency writes every request on its own (batch size 1)', async () => {
    // quickAck off: the proxy's outstanding count would include its Pings.
    const client = await firstValueFrom(PipelinedClient.connect$({ ...PipelinedClientPresets.lowLatency, bootstrapServers: proxy.address, quickAck: false }));
    const before = client.health();
    await lastValueFrom(range(0, 200).pipe(mergeMap(() => client.ping$()), toArray()));
    const after = client.health();
    expect(after.framesWritten - before.framesWritten).toBe(200);
    expect(after.batchesWritten - before.batchesWritten).toBe(200);
    expect(proxy.stats().maxOutstanding).toBeLessThanOrEqual(32);
    await client.close();
  });

  it('runs the typed operations, with broker errors typed', async () => {
    const client = await firstValueFrom(PipelinedClient.connect$({ bootstrapServers: proxy.address, clientId: 'pipelined-spec' }));
    const topic = unique('pipelined');
    expect(await firstValueFrom(client.createTopic$(topic, 2))).toEqual({ name: topic, partitions: 2 });
    const published = await firstValueFrom(
      forkJoin(Array.from({ length: 50 }, (_, i) => client.publish$(topic, { value: `v${i}`, partition: 0 }))),
    );
    expect(published.map((p) => p.offset).sort((a, b) => Number(a - b))).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i)));
    const records = await firstValueFrom(client.consume$(topic, { partition: 0, offset: 0n, maxMessages: 100 }));
    expect(records).toHaveLength(50);
    expect(await firstValueFrom(client.getOffsetBounds$(topic, 0))).toEqual({ earliest: 0n, latest: 50n });
    const error = await rejection(firstValueFrom(client.getMetadata$(`${topic}-missing`)));
    expect(error).toBeInstanceOf(ServerError);
    expect(client.health().requestsFailed).toBe(1);
    await client.close();
  });

  it('times out requests the broker never answers (blackhole) with RivvenTimeoutError, counted in health', async () => {
    const client = await firstValueFrom(PipelinedClient.connect$({ bootstrapServers: proxy.address, requestTimeoutMs: 200, maxInFlight: 4 }));
    await proxy.blackhole();
    const errors = await Promise.all(Array.from({ length: 6 }, () => rejection(firstValueFrom(client.ping$()))));
    for (const error of errors) expect(error).toBeInstanceOf(RivvenTimeoutError);
    expect(client.health()).toMatchObject({ requestsTimedOut: 6, requestsFailed: 6, peakInFlight: 4 });
    await client.close();
  });

  it('a reset fails the requests in flight with ConnectionError; the ones waiting for a slot go out on a new connection', async () => {
    const client = await firstValueFrom(PipelinedClient.connect$({ bootstrapServers: proxy.address, maxInFlight: 2, quickAck: false }));
    await proxy.latency(200);
    const outcomes = Array.from({ length: 5 }, () => firstValueFrom(client.ping$()).then(() => 'pong', (e: unknown) => e));
    await proxy.until((s) => s.framesToBroker >= 2);
    expect(client.health()).toMatchObject({ inFlight: 2, queued: 3 });
    await proxy.reset(); // RSTs the open connection...
    await proxy.restore(); // ...and lets the next one through
    const results = await Promise.all(outcomes);
    expect(results.slice(0, 2).every((e) => e instanceof ConnectionError && e.retriable)).toBe(true);
    expect(results.slice(2)).toEqual(['pong', 'pong', 'pong']);
    expect(proxy.stats().connectionsAccepted).toBe(2);
    expect(client.state).toBe('ready');
    expect(client.health()).toMatchObject({ connectionsLost: 1, reconnects: 1, requestsFailed: 2, requestsCompleted: 3, awaitingConnection: 0 });
    await client.close();
  });

  it('after a break the client stays down until a request needs it, then reconnects without the caller doing anything', async () => {
    const client = await firstValueFrom(PipelinedClient.connect$({ bootstrapServers: proxy.address, healthIntervalMs: 0 }));
    const states: string[] = [];
    client.state$.subscribe((s) => states.push(s));
    await proxy.reset();
    await proxy.restore();
    await firstValueFrom(client.state$.pipe(filter((s) => s === 'failed')));
    expect(proxy.stats().connectionsAccepted).toBe(1); // nothing reconnects on its own
    await pingLatency(client, () => proxy.stats().framesToBroker);
    expect(proxy.stats().connectionsAccepted).toBe(2);
    expect(states).toEqual(['ready', 'failed', 'connecting', 'ready']);
    expect(client.health()).toMatchObject({ state: 'ready', connectionsLost: 1, reconnects: 1 });
    await client.close();
    expect(states.at(-1)).toBe('closed');
  });

  it('while the broker cannot be reached, a request waits at most its own timeout (RivvenTimeoutError, not sent) and attempts back off', async () => {
    const client = await firstValueFrom(PipelinedClient.connect$({ bootstrapServers: proxy.address, retry: { initialDelayMs: 50, maxDelayMs: 400 } }));
    await proxy.reset(); // every connection, this one and the next ones, is reset at once
    await firstValueFrom(client.state$.pipe(filter((s) => s === 'failed')));
    const started = performance.now();
    const error = await rejection(firstValueFrom(client.request$({ type: 'Ping' }, { timeoutMs: 1_500 })));
    const waitedMs = performance.now() - started;
    expect(error).toBeInstanceOf(RivvenTimeoutError);
    expect(error.message).toMatch(/no connection to 127\.0\.0\.1:\d+ within 1500 ms for Ping \(it was not sent; \d+ reconnection attempts failed/);
    expect(waitedMs).toBeGreaterThanOrEqual(1_400);
    expect(waitedMs).toBeLessThan(5_000);
    // Backoff 50, 100, 200, 400, 400… ms (±25 %): about 6 attempts in 1.5 s, not hundreds.
    const attempts = proxy.stats().connectionsAccepted - 1;
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(attempts).toBeLessThanOrEqual(10);
    expect(client.health()).toMatchObject({ state: 'failed', requestsSent: 0, requestsTimedOut: 1, awaitingConnection: 0, reconnects: 0 });
    expect(client.health().reconnectFailures).toBe(attempts);
    // A round over the servers that found none: the error names each one's.
    expect(client.health().lastError).toMatchObject({ code: 'ALL_SERVERS_UNAVAILABLE', message: expect.stringContaining(`${proxy.address}: `) });
    await proxy.restore();
    await pingLatency(client, () => proxy.stats().framesToBroker);
    expect(client.health()).toMatchObject({ state: 'ready', reconnects: 1, requestsSent: 1, requestsCompleted: 1 });
    await client.close();
  });

  it('close() during a reconnection fails the requests waiting for it with ConnectionError and stops reconnecting', async () => {
    const client = await firstValueFrom(PipelinedClient.connect$({ bootstrapServers: proxy.address, healthIntervalMs: 0, retry: { initialDelayMs: 10_000, maxDelayMs: 10_000 } }));
    await proxy.reset();
    await firstValueFrom(client.state$.pipe(filter((s) => s === 'failed')));
    const waiting = rejection(firstValueFrom(client.ping$()));
    await firstValueFrom(client.health$.pipe(filter((s) => s.awaitingConnection === 1 && s.reconnectFailures >= 1)));
    await client.close(); // the 10 s backoff timer must not keep the process alive (--detectOpenHandles)
    const error = await waiting;
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.message).toMatch(/closed before the request could be sent \(it waited for a new connection\)/);
    expect(client.state).toBe('closed');
  });

  it('close() lets in-flight requests finish and fails the ones still waiting for a slot', async () => {
    const client = await firstValueFrom(PipelinedClient.connect$({ bootstrapServers: proxy.address, maxInFlight: 2 }));
    await proxy.latency(100);
    const inFlight = [firstValueFrom(client.ping$()), firstValueFrom(client.ping$())];
    const waiting = [rejection(firstValueFrom(client.ping$())), rejection(firstValueFrom(client.ping$()))];
    const closing = client.close();
    expect((await Promise.all(inFlight)).every((ms) => ms >= 0)).toBe(true);
    for (const error of await Promise.all(waiting)) expect(error).toBeInstanceOf(ConnectionError);
    await closing;
    expect(client.state).toBe('closed');
    expect(await rejection(firstValueFrom(client.ping$()))).toBeInstanceOf(ConnectionError);
  });

  it('health$ starts with the current value and completes on close', async () => {
    const client = await firstValueFrom(PipelinedClient.connect$({ bootstrapServers: proxy.address, healthIntervalMs: 0 }));
    const all = lastValueFrom(client.health$.pipe(toArray()));
    await firstValueFrom(client.ping$());
    await client.close();
    const history = await all;
    expect(history[0]!.requestsSent).toBe(0);
    expect(history.at(-1)).toMatchObject({ state: 'closed', requestsSent: 1, requestsCompleted: 1 });
  });

  it('speaks to the same broker as Client (sanity: pings through the proxy)', async () => {
    const plain = await firstValueFrom(Client.connect$(proxy.address));
    await pingLatency(plain, () => proxy.stats().framesToBroker);
    await plain.close();
  });

  it('given bootstrapServers with a dead server first, connects to the live one', async () => {
    const client = await firstValueFrom(PipelinedClient.connect$({ bootstrapServers: ['127.0.0.1:1', testBroker().address], clientId: 'pipelined-failover' }));
    try {
      await pingLatency(client, () => client.health().requestsCompleted);
      expect(client.health()).toMatchObject({ address: testBroker().address, clientId: 'pipelined-failover', state: 'ready' });
    } finally {
      await client.close();
    }
  });

  it('a typo (requestTimeout) is a ConfigError naming requestTimeoutMs, before any connection', async () => {
    const error = await rejection(firstValueFrom(PipelinedClient.connect$({ bootstrapServers: proxy.address, requestTimeout: 3000 } as never)));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/did you mean 'requestTimeoutMs'/);
    expect(proxy.stats().connectionsAccepted).toBe(0);
  });
});

describe('PipelinedClient over two real brokers', () => {
  let brokers: BrokerProcess[] = [];
  beforeAll(async () => {
    brokers = await Promise.all([startBroker(), startBroker()]);
  });
  afterAll(async () => {
    await Promise.all(brokers.map((broker) => broker.stop()));
  });

  it('when its broker dies, the next request reconnects to the other server of bootstrapServers', async () => {
    const [first, second] = brokers as [BrokerProcess, BrokerProcess];
    const client = await firstValueFrom(PipelinedClient.connect$({ bootstrapServers: [first.address, second.address], retry: { initialDelayMs: 50, maxDelayMs: 200 } }));
    try {
      await pingLatency(client, () => client.health().requestsCompleted);
      expect(client.health().address).toBe(first.address);
      await first.kill(); // a crash, not a goodbye
      await firstValueFrom(client.state$.pipe(filter((s) => s === 'failed')));
      expect(await firstValueFrom(client.request$({ type: 'Ping' }, { timeoutMs: 10_000 }))).toMatchObject({ type: 'Pong' });
      expect(client.health()).toMatchObject({ address: second.address, state: 'ready', connectionsLost: 1, reconnects: 1 });
    } finally {
      await client.close();
    }
  });
});
