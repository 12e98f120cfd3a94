/**
 * PipelinedClient's options and presets, and its in-flight limiter, in virtual time: at most
 * `maxInFlight` run at once, the rest wait in order (never dropped, never failed), and the wait
 * shows in the limiter's counters (and so in `health()`).
 */
import { EMPTY, defer, filter, firstValueFrom, of, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { PipelinedClient } from '../../src/client/pipelined-client';
import { PipelinedClientPresets } from '../../src/client/pipelined-options';
import { InFlightLimiter } from '../../src/client/in-flight-limiter';
import { resolvePipelinedClientConfig } from '../../src/client/pipelined-options';
import { AllServersUnavailableError, ConfigError, ConnectionError, RivvenTimeoutError } from '../../src/errors';
import { FakeBroker, politeHandler } from '../support/fake-broker';
import { pingLatency } from '../support/ping';
import { configError, rejection } from '../support/rejection';

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

const resolved = (options: object) => resolvePipelinedClientConfig({ bootstrapServers: '127.0.0.1:1', ...options }).config;

describe('PipelinedClient options and presets', () => {
  it('match rivven-client’s PipelineConfig presets; the defaults are its defaults', () => {
    expect(resolved({})).toEqual({
      bootstrapServers: ['127.0.0.1:1'],
      clientId: 'rivven-rx',
      connectionTimeoutMs: 10_000,
      tls: undefined,
      auth: undefined,
      socketFactory: undefined,
      logger: undefined,
      logLevel: undefined,
      maxInFlight: 100,
      batchLingerUs: 1000,
      maxBatchSize: 64,
      requestTimeoutMs: 30_000,
      closeTimeoutMs: 5_000,
      healthIntervalMs: 1_000,
      retry: { maxAttempts: Number.POSITIVE_INFINITY, initialDelayMs: 100, maxDelayMs: 5_000, multiplier: 2, jitter: 0.25 },
    });
    expect(resolved(PipelinedClientPresets.highThroughput)).toMatchObject({
      maxInFlight: 1000,
      batchLingerUs: 5000,
      maxBatchSize: 256,
      requestTimeoutMs: 60_000,
      closeTimeoutMs: 10_000,
    });
    expect(resolved(PipelinedClientPresets.lowLatency)).toMatchObject({
      maxInFlight: 32,
      batchLingerUs: 0,
      maxBatchSize: 1,
      requestTimeoutMs: 10_000,
      closeTimeoutMs: 3_000,
    });
  });

  it('presets are frozen plain objects, overridden by spreading', () => {
    expect(Object.isFrozen(PipelinedClientPresets)).toBe(true);
    expect(Object.isFrozen(PipelinedClientPresets.lowLatency)).toBe(true);
    expect(Object.isFrozen(PipelinedClientPresets.highThroughput)).toBe(true);
    expect(resolved({ ...PipelinedClientPresets.lowLatency, maxInFlight: 8 })).toMatchObject({ maxInFlight: 8, maxBatchSize: 1 });
  });

  it('the batching options become the connection’s write batching; retry is the shared policy', () => {
    const { connection, config } = resolvePipelinedClientConfig({
      bootstrapServers: ['127.0.0.1:1', '127.0.0.1:2'],
      batchLingerUs: 250,
      maxBatchSize: 8,
      clientId: 'pipe',
      retry: { initialDelayMs: 20, maxAttempts: 3 },
    });
    expect(connection).toMatchObject({ writeLingerUs: 250, maxWriteBatch: 8, clientId: 'pipe', requestTimeoutMs: 30_000, closeTimeoutMs: 5_000 });
    expect(connection).not.toHaveProperty('bootstrapServers');
    expect(connection).not.toHaveProperty('retry');
    expect(connection).not.toHaveProperty('maxInFlight');
    expect(config.bootstrapServers).toEqual(['127.0.0.1:1', '127.0.0.1:2']);
    expect(config.retry).toEqual({ maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 5_000, multiplier: 2, jitter: 0.25 });
  });

  it.each([
    [{ maxInFlight: 0 }, 'maxInFlight'],
    [{ maxInFlight: 1.5 }, 'maxInFlight'],
    [{ batchLingerUs: -1 }, 'batchLingerUs'],
    [{ maxBatchSize: 0 }, 'maxBatchSize'],
    [{ requestTimeoutMs: -5 }, 'requestTimeoutMs'],
    [{ closeTimeoutMs: Number.NaN }, 'closeTimeoutMs'],
    [{ healthIntervalMs: 2 ** 31 }, 'healthIntervalMs'],
    [{ retry: { initialDelayMs: -1 } }, 'retry.initialDelayMs'],
    [{ retry: { initialDelayMs: 200, maxDelayMs: 100 } }, 'retry.maxDelayMs'],
    [{ retry: { initialDelay: 200 } }, 'initialDelay'],
    [{ bootstrapServers: [] }, 'bootstrapServers'],
    [{ bootstrapServers: ['127.0.0.1:1', 'nope'] }, 'bootstrapServers[1]'],
  ])('rejects %j with a ConfigError naming %s', async (bad, option) => {
    expect(() => resolved(bad)).toThrow(ConfigError);
    // connect$ reports it as an error, before opening anything
    await expect(
      new Promise((resolve, reject) => PipelinedClient.connect$({ bootstrapServers: '127.0.0.1:1', ...bad } as never).subscribe({ next: resolve, error: reject })),
    ).rejects.toMatchObject({ option });
  });

  it.each([
    ['requestTimeout', 'requestTimeoutMs'],
    ['closeTimeout', 'closeTimeoutMs'],
    ['healthInterval', 'healthIntervalMs'],
  ])('the duration without Ms (%s) is a ConfigError naming %s', async (typo, meant) => {
    const error = await rejection(firstValueFrom(PipelinedClient.connect$({ bootstrapServers: '127.0.0.1:1', [typo]: 3000 } as never)));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ option: typo });
    expect(error.message).toContain(`did you mean '${meant}'?`);
  });

  it('refuses a nested `connection` (the options sit at the top level) and names its own batching options for the Connection’s', () => {
    expect(configError(() => resolved({ connection: { quickAck: false } }))).toMatchObject({ option: 'connection' });
    expect(() => resolved({ writeLingerUs: 5 })).toThrow(/no option 'writeLingerUs'; use 'batchLingerUs'/);
    expect(() => resolved({ maxWriteBatch: 5 })).toThrow(/no option 'maxWriteBatch'; use 'maxBatchSize'/);
  });

  it('the deprecated address form takes the same options, but not a second server list', async () => {
    expect(resolvePipelinedClientConfig('127.0.0.1:1', { maxInFlight: 3 })).toMatchObject({ addressForm: true, config: { bootstrapServers: ['127.0.0.1:1'], maxInFlight: 3 } });
    expect(resolvePipelinedClientConfig({ host: '::1', port: 9 }).config.bootstrapServers).toEqual(['[::1]:9']);
    const error = await rejection(firstValueFrom(PipelinedClient.connect$('127.0.0.1:1', { bootstrapServers: ['127.0.0.1:2'] } as never)));
    expect(error).toMatchObject({ option: 'bootstrapServers' });
  });
});

describe('InFlightLimiter (virtual time)', () => {
  it('runs at most `limit` at once; the rest start in order as slots free (marbles)', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const limiter = new InFlightLimiter(2, ts);
      const sources = ['--a|', '----b|', '-c|', '--d|', 'e|'].map((m) => cold(m));
      const runs = sources.map((s) => limiter.run$(s));
      runs.forEach((run, i) => expectObservable(run).toBe(['--a|', '----b|', '----c|', '-------d|', '-----e|'][i]!));
      expectSubscriptions(sources[0]!.subscriptions).toBe('^--!');
      expectSubscriptions(sources[1]!.subscriptions).toBe('^----!');
      expectSubscriptions(sources[2]!.subscriptions).toBe('---^-!'); // a's slot frees at 3
      expectSubscriptions(sources[3]!.subscriptions).toBe('-----^--!'); // b's at 5
      expectSubscriptions(sources[4]!.subscriptions).toBe('-----^!'); // c's, also at 5
    });
  });

  it('never drops or fails waiting work, and reports the wait', () => {
    const ts = scheduler();
    let stats: ReturnType<InFlightLimiter['stats']> | undefined;
    const finished: number[] = [];
    ts.run(({ cold }) => {
      const limiter = new InFlightLimiter(3, ts);
      for (let i = 0; i < 10; i++) limiter.run$(cold('----------(x|)', { x: i })).subscribe((x) => finished.push(x));
      ts.schedule(() => expect(limiter.stats()).toMatchObject({ active: 3, queued: 7, peakActive: 3, peakQueued: 7 }), 5);
      ts.schedule(() => (stats = limiter.stats()), 100);
    });
    expect(finished).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // 3 waited 10 ms, 3 waited 20 ms, 1 waited 30 ms
    expect(stats).toEqual({ active: 0, queued: 0, peakActive: 3, peakQueued: 7, waited: 7, totalWaitMs: 3 * 10 + 3 * 20 + 30, maxWaitMs: 30 });
  });

  it('an unsubscribed waiter leaves the queue without being started', () => {
    const ts = scheduler();
    ts.run(({ cold, expectSubscriptions }) => {
      const limiter = new InFlightLimiter(1, ts);
      const first = cold('-----|');
      const second = cold('-|');
      const third = cold('-|');
      limiter.run$(first).subscribe();
      const waiting = limiter.run$(second).subscribe();
      limiter.run$(third).subscribe();
      ts.schedule(() => waiting.unsubscribe(), 2);
      ts.schedule(() => expect(limiter.queued).toBe(1), 3);
      expectSubscriptions(second.subscriptions).toBe([]);
      expectSubscriptions(third.subscriptions).toBe('-----^!');
    });
  });

  it('an unsubscribed running one frees its slot at once', () => {
    const ts = scheduler();
    ts.run(({ cold, expectSubscriptions }) => {
      const limiter = new InFlightLimiter(1, ts);
      const long = cold('--------|');
      const next = cold('-|');
      const running = limiter.run$(long).subscribe();
      limiter.run$(next).subscribe();
      ts.schedule(() => running.unsubscribe(), 3);
      expectSubscriptions(long.subscriptions).toBe('^--!');
      expectSubscriptions(next.subscriptions).toBe('---^!');
    });
  });

  it('errors free the slot like completions', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const limiter = new InFlightLimiter(1, ts);
      expectObservable(limiter.run$(cold('--#'))).toBe('--#');
      expectObservable(limiter.run$(cold('-a|'))).toBe('---a|');
    });
  });

  it('drains 20,000 synchronously finishing runs without growing the stack', () => {
    const limiter = new InFlightLimiter(1);
    let gate: (() => void) | undefined;
    const blocker: Observable<never> = defer(() => new Promise<never>((_, reject) => (gate = () => reject(new Error('done')))));
    limiter.run$(blocker).subscribe({ error: () => undefined });
    let completed = 0;
    for (let i = 0; i < 20_000; i++) limiter.run$(of(i)).subscribe({ complete: () => completed++ });
    expect(limiter.queued).toBe(20_000);
    return new Promise<void>((resolve) => {
      gate!();
      setImmediate(() => {
        expect(completed).toBe(20_000);
        expect(limiter.stats()).toMatchObject({ active: 0, queued: 0 });
        resolve();
      });
    });
  });

  it('rejectQueued fails what never started with the given error and leaves the running alone', () => {
    const ts = scheduler();
    const outcomes: string[] = [];
    ts.run(({ cold }) => {
      const limiter = new InFlightLimiter(1, ts);
      limiter.run$(cold('---(a|)')).subscribe({ next: (v) => outcomes.push(`next ${v}`) });
      limiter.run$(EMPTY).subscribe({ error: (e) => outcomes.push((e as Error).constructor.name) });
      limiter.run$(EMPTY).subscribe({ error: (e) => outcomes.push((e as Error).constructor.name) });
      ts.schedule(() => limiter.rejectQueued(new ConnectionError('closed')), 1);
    });
    expect(outcomes).toEqual(['ConnectionError', 'ConnectionError', 'next a']);
  });
});

describe('PipelinedClient reconnection (fake broker)', () => {
  it('a broker that accepts and drops every connection is not hammered: replacements that never answered back off', async () => {
    const handshakes: number[] = [];
    const broker = await FakeBroker.start((request, id, peer) => {
      if (request.type === 'Handshake') {
        handshakes.push(performance.now());
        return politeHandler(request, id, peer);
      }
      if (handshakes.length > 1) peer.socket.destroy(); // the first connection serves; later ones drop at the first request
      return politeHandler(request, id, peer);
    });
    const client = await firstValueFrom(
      PipelinedClient.connect$({ bootstrapServers: broker.address, retry: { initialDelayMs: 50, maxDelayMs: 400 }, quickAck: false, logger: null }),
    );
    try {
      await pingLatency(client, () => broker.received.filter((r) => r.type === 'Ping').length);
      broker.peers[0]!.socket.destroy();
      await firstValueFrom(client.state$.pipe(filter((s) => s === 'failed')));
      // Back to back for ~1.5 s, as a caller retrying on its own would: each one reconnects, is
      // sent, and fails with ConnectionError when the connection drops.
      const errors: unknown[] = [];
      const until = performance.now() + 1_500;
      while (performance.now() < until) errors.push(await rejection(firstValueFrom(client.request$({ type: 'Ping' }, { timeoutMs: 2_000 }))));
      for (const error of errors) expect(error).toBeInstanceOf(ConnectionError);
      const gaps = handshakes.slice(2).map((t, i) => t - handshakes[i + 1]!);
      // The first replacement is immediate (the broken connection had served); then 50, 100, 200,
      // 320, 320… ms ±25 % (never above maxDelayMs 400, jitter included): about 6 in 1.5 s, not one per request.
      expect(handshakes.length - 1).toBeGreaterThanOrEqual(3);
      expect(handshakes.length - 1).toBeLessThanOrEqual(10);
      expect(gaps[0]).toBeGreaterThanOrEqual(50 * 0.75 - 5);
      expect(gaps.at(-1)!).toBeGreaterThanOrEqual((400 / 1.25) * 0.75 - 5);
      expect(client.health()).toMatchObject({ reconnects: handshakes.length - 1, connectionsLost: handshakes.length }); // the first one and every replacement
    } finally {
      await client.close();
      await broker.stop();
    }
  });

  it('a request waiting for a connection that a non-retriable error refuses fails at once with that error', async () => {
    let first = true;
    const broker = await FakeBroker.start((request, id, peer) => {
      if (request.type === 'Handshake' && !first) return { type: 'HandshakeResult', serverVersion: 9, compatible: false, message: 'protocol 9 only' };
      first = false;
      return politeHandler(request, id, peer);
    });
    const client = await firstValueFrom(PipelinedClient.connect$({ bootstrapServers: broker.address, quickAck: false, logger: null }));
    try {
      broker.peers[0]!.socket.destroy();
      await firstValueFrom(client.state$.pipe(filter((s) => s === 'failed')));
      const started = performance.now();
      const error = await rejection(firstValueFrom(client.ping$()));
      expect(error).toMatchObject({ retriable: false });
      expect(error).not.toBeInstanceOf(RivvenTimeoutError);
      expect(performance.now() - started).toBeLessThan(2_000); // not the 30 s request timeout
      expect(client.state).toBe('failed');
      expect(client.health()).toMatchObject({ reconnectFailures: 1, requestsSent: 0, requestsFailed: 1, awaitingConnection: 0 });
    } finally {
      await client.close();
      await broker.stop();
    }
  });

  it('a replacement goes to the server that answered last, and to the next one of bootstrapServers when that one is gone', async () => {
    const a = await FakeBroker.start();
    const b = await FakeBroker.start();
    const client = await firstValueFrom(PipelinedClient.connect$({ bootstrapServers: [a.address, b.address], quickAck: false, logger: null }));
    try {
      expect(client.health()).toMatchObject({ address: a.address, clientId: 'rivven-rx' });
      a.peers[0]!.socket.destroy(); // the connection breaks, the server is still there
      await firstValueFrom(client.state$.pipe(filter((s) => s === 'failed')));
      await pingLatency(client, () => a.received.filter((r) => r.type === 'Ping').length);
      expect([a.peers.length, b.peers.length]).toEqual([2, 0]);
      await a.stop(); // now the server is gone
      await firstValueFrom(client.state$.pipe(filter((s) => s === 'failed')));
      await pingLatency(client, () => b.received.filter((r) => r.type === 'Ping').length);
      expect(b.peers).toHaveLength(1);
      expect(client.health()).toMatchObject({ address: b.address, state: 'ready', connectionsLost: 2, reconnects: 2, reconnectFailures: 0 });
    } finally {
      await client.close();
      await b.stop();
    }
  });

  it('retry.maxAttempts bounds the rounds a waiting request sits through: it fails with AllServersUnavailableError, not at its timeout', async () => {
    const broker = await FakeBroker.start();
    const address = broker.address;
    const client = await firstValueFrom(
      PipelinedClient.connect$({ bootstrapServers: [address], retry: { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 20 }, quickAck: false, logger: null }),
    );
    try {
      await broker.stop();
      await firstValueFrom(client.state$.pipe(filter((s) => s === 'failed')));
      const started = performance.now();
      const error = await rejection(firstValueFrom(client.request$({ type: 'Ping' }, { timeoutMs: 20_000 })));
      expect(error).toBeInstanceOf(AllServersUnavailableError);
      expect(error.message).toContain(address);
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(client.health()).toMatchObject({ state: 'failed', reconnectFailures: 3, requestsSent: 0, requestsFailed: 1, awaitingConnection: 0 });
      expect(client.health().lastError?.code).toBe('ALL_SERVERS_UNAVAILABLE');
    } finally {
      await client.close();
    }
  });
});
