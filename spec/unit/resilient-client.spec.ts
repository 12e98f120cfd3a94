/**
 * ResilientClient routing in virtual time, against virtual brokers that take the same faults as
 * the TCP proxy: failover, backoff timing, the retry rules for idempotent and non-idempotent
 * requests, breaker transitions end to end, health-check cadence, and health$.
 */
import { catchError, distinctUntilChanged, filter, firstValueFrom, map, of, toArray, lastValueFrom, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { ResilientClient } from '../../src/client/resilient-client';
import { RESILIENT_DEFAULTS, resolveResilientConfig, type ResilientClientConfig } from '../../src/client/resilient-config';
import type { ResilientHealth } from '../../src/client/resilient-health';
import { formatHealth } from '../../src/client/resilient-health';
import { AllServersUnavailableError, ConfigError, ConnectionError, type ServerError, ThrottledError } from '../../src/errors';
import type { Response } from '../../src/protocol/response-schema';
import { VirtualBroker, virtualFactory } from '../support/virtual-broker';
import { configError } from '../support/rejection';

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

function setup(
  ts: TestScheduler,
  options: Partial<ResilientClientConfig> & { brokers?: number; replyDelay?: number | ((r: { type: string }) => number); connectDelay?: number } = {},
) {
  const { brokers: count = 2, replyDelay, connectDelay, ...clientOptions } = options;
  const brokers = Array.from({ length: count }, (_, i) => new VirtualBroker(ts, `127.0.0.1:${9001 + i}`, { replyDelay, connectDelay }));
  const client = new ResilientClient({
    bootstrapServers: brokers.map((b) => b.address),
    scheduler: ts,
    connectionFactory: virtualFactory(brokers),
    random: () => 0.5, // jitter factor exactly 1: delays are the plain exponential sequence
    healthCheckEnabled: false,
    healthEmitIntervalMs: 0,
    ...clientOptions,
  });
  return { brokers, client, a: brokers[0]!, b: brokers[1]! };
}

/** A marble string with `letter` at each of `times` (sorted, distinct), for expectObservable. */
function marbleAt(times: number[], letter: string): string {
  let marble = '';
  let frame = 0;
  for (const t of times) {
    const gap = t - frame;
    if (gap > 0) marble += `${gap}ms `;
    marble += `${letter} `;
    frame = t + 1;
  }
  return marble;
}

function outcome<T>(source: Observable<T>): Observable<string> {
  return source.pipe(
    map(() => 'ok'),
    catchError((e: { code?: string }) => of(e.code ?? 'error')),
  );
}

describe('ResilientClient configuration', () => {
  it('has the defaults of rivven-client’s ResilientClientConfig table', () => {
    const config = resolveResilientConfig({ bootstrapServers: ['127.0.0.1:9092'] });
    expect(config).toMatchObject({
      poolSizePerServer: 10,
      connectionTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      // 1 attempt + rivven-client's 3 retries
      retry: { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 5_000, multiplier: 2.0, jitter: 0.25 },
      circuitBreakerFailureThreshold: 5,
      circuitBreakerRecoveryTimeoutMs: 30_000,
      circuitBreakerInitialRecoveryTimeoutMs: 1_000,
      maxConnectionLifetimeMs: 300_000,
      idleTimeoutMs: 60_000,
      healthCheckEnabled: true,
      healthCheckIntervalMs: 30_000,
      healthEmitIntervalMs: 1_000,
      retryNonIdempotent: false,
    });
    expect(RESILIENT_DEFAULTS.poolSizePerServer).toBe(10);
    expect(Object.isFrozen(RESILIENT_DEFAULTS) && Object.isFrozen(RESILIENT_DEFAULTS.retry)).toBe(true);
  });

  it('takes one server as a string, like every component', () => {
    expect(resolveResilientConfig({ bootstrapServers: '127.0.0.1:9092' }).servers).toEqual([{ host: '127.0.0.1', port: 9092 }]);
  });

  it('gives every pooled connection the shared settings from the top level and the advanced knobs from `connection`', () => {
    const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
    const config = resolveResilientConfig({
      bootstrapServers: ['127.0.0.1:9092'],
      clientId: 'svc',
      logger,
      logLevel: 'info',
      connectionTimeoutMs: 1_234,
      requestTimeoutMs: 5_678,
      connection: { writeLingerUs: 500, quickAck: false },
    });
    expect(config.connection).toMatchObject({
      clientId: 'svc',
      logger,
      logLevel: 'info',
      connectionTimeoutMs: 1_234,
      requestTimeoutMs: 5_678,
      writeLingerUs: 500,
      quickAck: false,
    });
  });

  it.each([
    [{ bootstrapServers: [] }, 'bootstrapServers'],
    [{ bootstrapServers: ['no-port'] }, 'bootstrapServers[0]'],
    [{ bootstrapServers: ['127.0.0.1:1', '127.0.0.1:1'] }, 'bootstrapServers[1]'],
    [{ poolSizePerServer: 0 }, 'poolSizePerServer'],
    [{ poolSizePerServer: 2.5 }, 'poolSizePerServer'],
    [{ connectionTimeoutMs: 0 }, 'connectionTimeoutMs'],
    [{ requestTimeoutMs: -1 }, 'requestTimeoutMs'],
    [{ requestTimeoutMs: Number.NaN }, 'requestTimeoutMs'],
    [{ requestTimeoutMs: 2 ** 31 }, 'requestTimeoutMs'],
    [{ retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
    [{ retry: { initialDelayMs: -100 } }, 'retry.initialDelayMs'],
    [{ retry: { maxDelayMs: -1 } }, 'retry.maxDelayMs'],
    [{ retry: { initialDelayMs: 500, maxDelayMs: 100 } }, 'retry.maxDelayMs'],
    [{ retry: { multiplier: 0.5 } }, 'retry.multiplier'],
    [{ retry: { multiplier: Number.POSITIVE_INFINITY } }, 'retry.multiplier'],
    [{ retry: { jitter: 1.5 } }, 'retry.jitter'],
    [{ circuitBreakerFailureThreshold: 0 }, 'circuitBreakerFailureThreshold'],
    [{ circuitBreakerRecoveryTimeoutMs: -1 }, 'circuitBreakerRecoveryTimeoutMs'],
    [{ circuitBreakerInitialRecoveryTimeoutMs: -1 }, 'circuitBreakerInitialRecoveryTimeoutMs'],
    [{ maxConnectionLifetimeMs: 0 }, 'maxConnectionLifetimeMs'],
    [{ idleTimeoutMs: -1 }, 'idleTimeoutMs'],
    [{ healthCheckIntervalMs: 0 }, 'healthCheckIntervalMs'],
    [{ healthEmitIntervalMs: -1 }, 'healthEmitIntervalMs'],
    [{ healthCheckEnabled: 'yes' }, 'healthCheckEnabled'],
    [{ clientId: '' }, 'clientId'],
    [{ logLevel: 'loud' }, 'logLevel'],
    [{ socketFactory: {} }, 'socketFactory'],
    [{ connection: { writeLingerUs: -1 } }, 'writeLingerUs'],
  ])('rejects %j at build time with a ConfigError naming %s', (bad, option) => {
    const build = () => new ResilientClient({ bootstrapServers: ['127.0.0.1:9092'], healthCheckEnabled: false, ...(bad as object) } as ResilientClientConfig);
    const error = configError(build);
    expect(error.option).toBe(option);
    expect(error.message).toContain(option);
  });

  /** The ConfigError `new ResilientClient(options)` throws (the options are a user's, typos and all). */
  const configErrorOf = (options: object) => configError(() => new ResilientClient({ healthCheckEnabled: false, ...options } as ResilientClientConfig));

  it.each([
    ['requestTimeout', 'requestTimeoutMs'],
    ['connectionTimeout', 'connectionTimeoutMs'],
    ['circuitBreakerRecoveryTimeout', 'circuitBreakerRecoveryTimeoutMs'],
    ['circuitBreakerInitialRecoveryTimeout', 'circuitBreakerInitialRecoveryTimeoutMs'],
    ['maxConnectionLifetime', 'maxConnectionLifetimeMs'],
    ['idleTimeout', 'idleTimeoutMs'],
    ['healthCheckInterval', 'healthCheckIntervalMs'],
    ['healthEmitInterval', 'healthEmitIntervalMs'],
  ])('refuses the duration without Ms (`%s: 3000`), naming %s', (old, renamed) => {
    const error = configErrorOf({ bootstrapServers: ['127.0.0.1:9092'], [old]: 3000 });
    expect(error.option).toBe(old);
    expect(error.message).toContain(`did you mean '${renamed}'?`);
  });

  it('refuses a key no name is close to by naming it and listing the options there are (`servers` lists bootstrapServers), not by a missing-server error', () => {
    const error = configErrorOf({ servers: ['127.0.0.1:9092'] });
    expect(error.option).toBe('servers');
    expect(error.message).toContain("ResilientClient has no option 'servers'");
    expect(error.message).not.toContain('did you mean');
    expect(error.message).toMatch(/its options: .*\bbootstrapServers\b.*\bretry\b/);
  });

  it('refuses a typo inside `retry` with the closest field: `retry: { maxAtempts: 3 }` names maxAttempts', () => {
    const error = configErrorOf({ bootstrapServers: ['127.0.0.1:9092'], retry: { maxAtempts: 3 } });
    expect(error.option).toBe('maxAtempts');
    expect(error.message).toContain("did you mean 'maxAttempts'?");
  });

  it.each(['clientId', 'tls', 'auth', 'socketFactory', 'logger', 'logLevel', 'connectionTimeoutMs', 'requestTimeoutMs', 'scheduler'])(
    'refuses the shared setting `%s` inside `connection`, saying to set it at top level',
    (key) => {
      const error = configErrorOf({ bootstrapServers: ['127.0.0.1:9092'], connection: { [key]: undefined } });
      expect(error.option).toBe(`connection.${key}`);
      expect(error.message).toContain('set it at top level');
    },
  );

  it('refuses a typo inside `connection` with the closest knob', () => {
    const error = configErrorOf({ bootstrapServers: ['127.0.0.1:9092'], connection: { writeLinger: 5 } });
    expect(error.message).toContain("did you mean 'writeLingerUs'?");
  });

  it('refuses connection-scoped requests (handshake, auth) with a ConfigError', async () => {
    const client = new ResilientClient({ bootstrapServers: ['127.0.0.1:9092'], healthCheckEnabled: false });
    await expect(firstValueFrom(client.execute$({ type: 'Handshake', protocolVersion: 2, clientId: 'x' }))).rejects.toThrow(/connection/);
    await expect(firstValueFrom(client.execute$({ type: 'ScramClientFirst', message: Buffer.from('n,,n=u,r=x') }))).rejects.toBeInstanceOf(ConfigError);
    await client.close();
  });
});

describe('ResilientClient routing (virtual time)', () => {
  it('spreads requests round-robin over healthy servers', async () => {
    const ts = scheduler();
    const { client, a, b } = setup(ts);
    ts.run(() => {
      for (let i = 0; i < 6; i++) ts.schedule(() => client.ping$().subscribe(), i * 10);
      ts.schedule(() => void client.close(), 100);
    });
    await client.close();
    expect([a.requestsOf('Ping').length, b.requestsOf('Ping').length]).toEqual([3, 3]);
  });

  it('fails over: with one server refusing, every request succeeds on the other and its breaker opens after the threshold', async () => {
    const ts = scheduler();
    // A flat recovery delay (no doubling from 1 s): this test is about routing while the circuit stays open.
    const { client, a, b } = setup(ts, { circuitBreakerFailureThreshold: 3, circuitBreakerRecoveryTimeoutMs: 60_000, circuitBreakerInitialRecoveryTimeoutMs: 60_000 });
    a.setFault('refuse');
    const results: string[] = [];
    let health: ResilientHealth | undefined;
    ts.run(() => {
      for (let i = 0; i < 20; i++) ts.schedule(() => outcome(client.getMetadata$('t')).subscribe((r) => results.push(r)), i * 1000);
      ts.schedule(() => (health = client.health()), 29_999);
      ts.schedule(() => void client.close(), 30_000);
    });
    await client.close();
    expect(results).toEqual(Array(20).fill('ok'));
    // Three failed connects opened A's circuit; after that A was skipped without connecting.
    expect(a.connectAttempts).toBe(3);
    expect(b.requestsOf('GetMetadata')).toHaveLength(20);
    if (health === undefined) throw new Error('no health');
    expect(health.servers.map((s) => s.breaker)).toEqual(['open', 'closed']);
    expect(health).toMatchObject({ requests: 20, successes: 20, failures: 0, retries: 3, healthyServers: 1 });
    expect(health.servers[0]).toMatchObject({ consecutiveFailures: 3, failures: 3, lastError: { code: 'CONNECTION' } });
  });

  it('retries on the next server with exponential backoff: 100, 200, 400 ms, then gives up with the last error', async () => {
    const ts = scheduler();
    const { client, a, b } = setup(ts, { circuitBreakerFailureThreshold: 100, connectDelay: 1 });
    a.setFault('refuse');
    b.setFault('refuse');
    ts.run(({ expectObservable }) => {
      // attempt at 0 (A) fails at 1, +100 → 101 (B) fails at 102, +200 → 302 (A), +400 → 703 (B) fails at 704
      expectObservable(outcome(client.listTopics$())).toBe('704ms (e|)', { e: 'CONNECTION' });
      ts.schedule(() => void client.close(), 1000);
    });
    await client.close();
    expect(a.connectTimes).toEqual([0, 302]);
    expect(b.connectTimes).toEqual([101, 703]);
    expect(client.health()).toMatchObject({ retries: 3, failures: 1 });
  });

  it('applies the jitter: ±25 % around each delay', async () => {
    const ts = scheduler();
    const randoms = [0, 0.999999, 0];
    let i = 0;
    const { client, a, b } = setup(ts, { circuitBreakerFailureThreshold: 100, connectDelay: 0, random: () => randoms[i++] ?? 0.5 });
    a.setFault('refuse');
    b.setFault('refuse');
    ts.run(() => {
      client.ping$().subscribe({ error: () => undefined });
      ts.schedule(() => void client.close(), 2000);
    });
    await client.close();
    // 0, +75 (100 − 25 %), +250 (200 + 25 %), +300 (400 − 25 %)
    expect([...a.connectTimes, ...b.connectTimes].sort((x, y) => x - y)).toEqual([0, 75, 325, 625]);
  });

  it('once every breaker is open, fails fast with AllServersUnavailable and makes no connection attempts', async () => {
    const ts = scheduler();
    const { client, a, b } = setup(ts, { circuitBreakerFailureThreshold: 2, circuitBreakerRecoveryTimeoutMs: 10_000, retry: { maxAttempts: 2 } });
    a.setFault('refuse');
    b.setFault('refuse');
    let attemptsBefore = 0;
    let error: unknown;
    ts.run(({ expectObservable }) => {
      for (let t = 0; t < 5; t++) ts.schedule(() => client.ping$().subscribe({ error: () => undefined }), t * 500);
      ts.schedule(() => {
        expect(client.health().servers.map((s) => s.breaker)).toEqual(['open', 'open']);
        attemptsBefore = a.connectAttempts + b.connectAttempts;
      }, 2999);
      // Subscribed at 3000, fails in the same frame: no connect, no waiting.
      expectObservable(outcome(client.ping$()), '3000ms ^').toBe('3000ms (e|)', { e: 'ALL_SERVERS_UNAVAILABLE' });
      ts.schedule(() => client.ping$().subscribe({ error: (e) => (error = e) }), 3001);
      ts.schedule(() => void client.close(), 4000);
    });
    await client.close();
    expect(a.connectAttempts + b.connectAttempts).toBe(attemptsBefore);
    expect(error).toBeInstanceOf(AllServersUnavailableError);
    expect((error as Error).message).toMatch(/127\.0\.0\.1:9001 open.*127\.0\.0\.1:9002 open/);
    expect((error as AllServersUnavailableError).retriable).toBe(true);
  });

  it('Half-Open lets exactly one probe through; others are refused until it succeeds; then traffic flows', async () => {
    const ts = scheduler();
    const { client, a } = setup(ts, { brokers: 1, circuitBreakerFailureThreshold: 1, circuitBreakerRecoveryTimeoutMs: 100, replyDelay: 10, retry: { maxAttempts: 1 } });
    a.setFault('refuse');
    const results: string[] = [];
    ts.run(() => {
      client.execute$({ type: 'Ping' }, { idempotent: false }).subscribe({ error: () => undefined }); // opens the circuit at 1
      ts.schedule(() => a.setFault('pass'), 50);
      ts.schedule(() => {
        for (let i = 0; i < 5; i++) outcome(client.listTopics$()).subscribe((r) => results.push(r));
      }, 150); // Half-Open since 101: the first is the probe, the other four fail fast
      ts.schedule(() => outcome(client.listTopics$()).subscribe((r) => results.push(`after:${r}`)), 200);
      ts.schedule(() => void client.close(), 300);
    });
    await client.close();
    expect(results).toEqual(['ALL_SERVERS_UNAVAILABLE', 'ALL_SERVERS_UNAVAILABLE', 'ALL_SERVERS_UNAVAILABLE', 'ALL_SERVERS_UNAVAILABLE', 'ok', 'after:ok']);
    expect(a.connectTimes).toEqual([0, 150]);
    expect(a.requestsOf('ListTopics').map((r) => r.at)).toEqual([151, 200]);
  });

  it('restore → Half-Open probe (a health-check ping) → Closed, visible in health$ (marbles)', async () => {
    const ts = scheduler();
    const { client, a } = setup(ts, {
      circuitBreakerFailureThreshold: 1,
      circuitBreakerRecoveryTimeoutMs: 1000,
      healthCheckEnabled: true,
      healthCheckIntervalMs: 60_000,
    });
    ts.run(({ expectObservable }) => {
      ts.schedule(() => client.ping$().subscribe(), 0); // A up: opens a connection at 1
      ts.schedule(() => a.setFault('reset'), 100); // cut: the connection breaks → A opens at 100
      ts.schedule(() => a.setFault('pass'), 500); // restored while open
      // 1100: Half-Open → the probe ping connects at 1100, is answered at 1102 → Closed
      const states = client.health$.pipe(
        map((h) => h.servers[0]!.breaker[0]),
        distinctUntilChanged(),
      );
      expectObservable(states, '^ 2000ms !').toBe('c 99ms o 999ms h 1ms c');
      ts.schedule(() => void client.close(), 2000);
    });
    await client.close();
    expect(a.connectTimes).toEqual([0, 1100]);
    expect(a.requestsOf('Ping').map((r) => r.at)).toEqual([1, 1101]);
  });

  it('a failed probe reopens the circuit and the next probe comes a recovery timeout later', async () => {
    const ts = scheduler();
    const { client, a } = setup(ts, { brokers: 1, circuitBreakerFailureThreshold: 1, circuitBreakerRecoveryTimeoutMs: 1000, healthCheckEnabled: true, healthCheckIntervalMs: 600_000 });
    a.setFault('refuse');
    ts.run(({ expectObservable }) => {
      ts.schedule(() => client.ping$().subscribe({ error: () => undefined }), 0);
      ts.schedule(() => a.setFault('pass'), 1500);
      const states = client.health$.pipe(map((h) => h.servers[0]!.breaker[0]), distinctUntilChanged());
      // open at 1; probe at 1001 fails at 1002 → open; probe at 2002 succeeds at 2004 → closed
      expectObservable(states, '^ 3000ms !').toBe('c o 999ms h o 999ms h 1ms c');
      ts.schedule(() => void client.close(), 3000);
    });
    await client.close();
    expect(a.connectTimes).toEqual([0, 1001, 2002]);
  });

  it('does not retry a publish that may have reached the broker, but retries idempotent requests and opted-in ones', async () => {
    const ts = scheduler();
    const { client, a, b } = setup(ts, { replyDelay: 50, circuitBreakerFailureThreshold: 100 });
    const results: Record<string, string> = {};
    ts.run(() => {
      // Each goes to A (round-robin cursor at A for the first, then B, …): line them up explicitly.
      ts.schedule(() => outcome(client.publish$('t', { value: 'x' })).subscribe((r) => (results.publish = r)), 0); // → A
      ts.schedule(() => client.ping$().subscribe(), 1); // → B (moves the cursor back to A)
      ts.schedule(() => outcome(client.consume$('t', { partition: 0, offset: 0n, maxMessages: 1 })).subscribe((r) => (results.consume = r)), 2); // → A
      ts.schedule(() => client.ping$().subscribe(), 3); // → B
      ts.schedule(
        () =>
          outcome(client.execute$({ type: 'Publish', topic: 't', value: Buffer.from('y') }, { idempotent: true })).subscribe(
            (r) => (results.optedIn = r),
          ),
        4,
      ); // → A
      ts.schedule(() => a.setFault('reset'), 20); // all three are in flight on A: the connection breaks
      ts.schedule(() => void client.close(), 500);
    });
    await client.close();
    expect(results).toEqual({ publish: 'CONNECTION', consume: 'ok', optedIn: 'ok' });
    expect(a.requestsOf('Publish')).toHaveLength(2);
    expect(b.requestsOf('Publish')).toHaveLength(1); // only the opted-in one was retried
    expect(b.requestsOf('Consume')).toHaveLength(1);
  });

  it('retries a publish whose connection could not be opened (it certainly never left the client)', async () => {
    const ts = scheduler();
    const { client, a, b } = setup(ts);
    a.setFault('refuse');
    let result: string | undefined;
    ts.run(() => {
      outcome(client.publish$('t', { value: 'x' })).subscribe((r) => (result = r));
      ts.schedule(() => void client.close(), 500);
    });
    await client.close();
    expect(result).toBe('ok');
    expect(a.requestsOf('Publish')).toHaveLength(0);
    expect(b.requestsOf('Publish')).toHaveLength(1);
  });

  it('fails at once on a non-retriable broker error, retries a retriable one, and neither opens a breaker', async () => {
    const ts = scheduler();
    const { client, a, b } = setup(ts, { circuitBreakerFailureThreshold: 1 });
    const handler = (request: { type: string }): Response =>
      request.type === 'IdempotentPublish'
        ? { type: 'Error', message: 'PRODUCER_FENCED: epoch 3 is stale' }
        : { type: 'Error', message: 'INTERNAL_ERROR: response send failed' };
    a.handler = handler;
    b.handler = handler;
    const errors: unknown[] = [];
    ts.run(() => {
      client
        .idempotentPublish$('t', { value: 'x', partition: 0 }, { producerId: 1n, producerEpoch: 1 }, 0)
        .subscribe({ error: (e) => errors.push(e) });
      ts.schedule(() => client.getMetadata$('nope').subscribe({ error: (e) => errors.push(e) }), 100);
      ts.schedule(() => void client.close(), 2000);
    });
    await client.close();
    expect(errors.map((e) => (e as ServerError).serverCode)).toEqual(['PRODUCER_FENCED', 'INTERNAL_ERROR']);
    expect(a.requestsOf('IdempotentPublish').length + b.requestsOf('IdempotentPublish').length).toBe(1);
    expect(a.requestsOf('GetMetadata').length + b.requestsOf('GetMetadata').length).toBe(4); // retry.maxAttempts (default 4)
    expect(client.health().servers.map((s) => s.breaker)).toEqual(['closed', 'closed']);
  });

  it('a request timeout counts against the server and the request fails over', async () => {
    const ts = scheduler();
    const { client, a, b } = setup(ts, { requestTimeoutMs: 200, circuitBreakerFailureThreshold: 5 });
    let result: string | undefined;
    ts.run(() => {
      ts.schedule(() => client.ping$().subscribe(), 0); // A: opens a connection
      ts.schedule(() => client.ping$().subscribe(), 1); // B
      ts.schedule(() => a.setFault('blackhole'), 10);
      ts.schedule(() => outcome(client.listTopics$()).subscribe((r) => (result = r)), 20); // A: times out at 220 → B
      ts.schedule(() => void client.close(), 1000);
    });
    await client.close();
    expect(result).toBe('ok');
    expect(b.requestsOf('ListTopics').map((r) => r.at)).toEqual([320]); // 220 + 100 ms backoff
    expect(client.health().servers[0]).toMatchObject({ consecutiveFailures: 1, failures: 1, lastError: { code: 'TIMEOUT' } });
  });

  it('closing during a backoff wait fails the call at once', async () => {
    const ts = scheduler();
    const { client, a, b } = setup(ts, { retry: { initialDelayMs: 1000, maxDelayMs: 1000 }, circuitBreakerFailureThreshold: 100 });
    a.setFault('refuse');
    b.setFault('refuse');
    ts.run(({ expectObservable }) => {
      expectObservable(outcome(client.ping$())).toBe('50ms (e|)', { e: 'CONNECTION' });
      ts.schedule(() => void client.close(), 50);
    });
    await client.close();
    expect(a.connectAttempts + b.connectAttempts).toBe(1);
  });
});

describe('ResilientClient throttling (virtual time)', () => {
  const throttled = (ms: bigint): Response => ({ type: 'Throttled', throttleTimeMs: ms, quotaType: 'request_rate', entity: 'c' });

  it('waits out a throttle that fits in the deadline, and fails with ThrottledError once the next one would not', async () => {
    const ts = scheduler();
    const { client, a } = setup(ts, { brokers: 1, requestTimeoutMs: 1_000 });
    a.handler = () => throttled(800n);
    let failedAt: number | undefined;
    let error: unknown;
    ts.run(() => {
      client.ping$().subscribe({ error: (e) => ((error = e), (failedAt = ts.now())) });
      ts.schedule(() => void client.close(), 10_000);
    });
    await client.close();
    expect(error).toBeInstanceOf(ThrottledError);
    // Throttled at 0 (800 ms fits in 1,000), again at ~800 (only ~200 left): no third attempt.
    expect(a.requestsOf('Ping')).toHaveLength(2);
    expect(failedAt).toBeLessThan(1_000);
  });

  it('without a request timeout, a throttle wait is capped at 5 minutes: 2^40 ms fails at once', async () => {
    const ts = scheduler();
    const { client, a } = setup(ts, { brokers: 1, requestTimeoutMs: 0 });
    a.handler = () => throttled(2n ** 40n);
    let failedAt: number | undefined;
    let error: unknown;
    ts.run(() => {
      client.ping$().subscribe({ error: (e) => ((error = e), (failedAt = ts.now())) });
      ts.schedule(() => void client.close(), 1_000);
    });
    await client.close();
    expect(error).toBeInstanceOf(ThrottledError);
    expect(failedAt).toBeLessThan(10);
    expect(a.requestsOf('Ping')).toHaveLength(1);
  });
});

describe('ResilientClient health (virtual time)', () => {
  it('pings every server every healthCheckIntervalMs, skips open circuits, probes at Half-Open (marbles)', async () => {
    const ts = scheduler();
    const { client, a, b } = setup(ts, {
      healthCheckEnabled: true,
      healthCheckIntervalMs: 1000,
      circuitBreakerFailureThreshold: 1,
      circuitBreakerRecoveryTimeoutMs: 1800,
      circuitBreakerInitialRecoveryTimeoutMs: 1800,
    });
    ts.run(({ expectObservable }) => {
      ts.schedule(() => a.setFault('refuse'), 2500); // breaks A's connection: A opens at 2500
      ts.schedule(() => a.setFault('pass'), 5000);
      ts.schedule(() => void client.close(), 8500);
      const pings = (broker: VirtualBroker) => broker.received$.pipe(filter((r) => r.type === 'Ping'), map(() => 'p'));
      // A: connects at 1000, pings at 1001, 2000; open from 2500 (3000, 4000 skipped); probe at 4300
      // fails (still refused) → open; probe at 6101 connects, pings at 6102 → closed; 7000, 8000.
      expectObservable(pings(a), '^ 8500ms !').toBe(marbleAt([1001, 2000, 6102, 7000, 8000], 'p'));
      expectObservable(pings(b), '^ 8500ms !').toBe(marbleAt([1001, 2000, 3000, 4000, 5000, 6000, 7000, 8000], 'p'));
    });
    await client.close();
    expect(a.connectTimes).toEqual([1000, 4300, 6101]);
    expect(client.health().servers.map((s) => s.breaker)).toEqual(['closed', 'closed']);
  });

  it('health$ emits when something changes, not on a timer', async () => {
    const ts = scheduler();
    const { client } = setup(ts, { healthEmitIntervalMs: 1000 });
    const emissions: number[] = [];
    ts.run(() => {
      client.health$.subscribe(() => emissions.push(ts.now()));
      ts.schedule(() => client.ping$().subscribe(), 3_600_000); // an hour of silence first
      ts.schedule(() => void client.close(), 7_200_000);
    });
    await client.close();
    // The initial value; then nothing for an hour; the ping's connection opening and its counters
    // (throttled: leading and trailing); the idle connection closing a minute later; then silence.
    expect(emissions[0]).toBe(0);
    expect(emissions.filter((t) => t > 0 && t < 3_600_000)).toEqual([]);
    expect(emissions.filter((t) => t >= 3_600_000 && t <= 3_601_000).length).toBeGreaterThanOrEqual(2);
    expect(emissions.filter((t) => t > 3_601_000 && t < 7_200_000)).toEqual([3_600_002 + 60_000]);
    expect(client.health().connections).toBe(0);
  });

  it('health$ shows per server breaker, pool idle/busy, failures, last error, latency; totals; completes on close', async () => {
    const ts = scheduler();
    const { client, a } = setup(ts, { replyDelay: 100, circuitBreakerFailureThreshold: 2, circuitBreakerRecoveryTimeoutMs: 100_000 });
    a.setFault('refuse');
    let during: ResilientHealth | undefined;
    const all = lastValueFrom(client.health$.pipe(toArray()));
    ts.run(() => {
      for (let i = 0; i < 4; i++) client.listTopics$().subscribe();
      ts.schedule(() => (during = client.health()), 50);
      ts.schedule(() => void client.close(), 1000);
    });
    await client.close();
    expect(during).toMatchObject({
      totalServers: 2,
      healthyServers: 1,
      inFlight: 4,
      servers: [
        { address: '127.0.0.1:9001', breaker: 'open', consecutiveFailures: 2, lastError: { code: 'CONNECTION' }, pool: { size: 0 } },
        // Two went to B directly (a connection each: the pool grows under concurrency); the two that
        // failed on A wait for their backoff (100 ms).
        { address: '127.0.0.1:9002', breaker: 'closed', consecutiveFailures: 0, pool: { size: 2, busy: 2, idle: 0, inFlight: 2 } },
      ],
    });
    const history = await all;
    const last = history.at(-1)!;
    expect(last).toMatchObject({ closed: true, requests: 4, successes: 4, failures: 0, successRate: 1 });
    expect(last.servers[1]!.latencyP50Ms).toEqual(expect.any(Number));
    expect(last.servers[1]!.answered).toBe(4);
    expect(history.some((h) => h.servers[1]!.pool.busy > 0)).toBe(true);
    expect(formatHealth(last)).toMatch(
      /^\[1\/2 up\] 127\.0\.0\.1:9001 OPEN conns 0 fails 2 last CONNECTION \| 127\.0\.0\.1:9002 CLOSED conns 0 p50 [\d.]+ms p99 [\d.]+ms \|\| calls 4 ok 4 err 0 retries 2 \(100\.0% ok\) CLOSED$/,
    );
  });

  it('a new client opens nothing and has a full picture before any request', async () => {
    const ts = scheduler();
    const { client, a, b } = setup(ts);
    const first = await firstValueFrom(client.health$);
    expect(first).toMatchObject({ totalServers: 2, healthyServers: 2, requests: 0, successRate: 1, connections: 0, closed: false });
    expect(a.connectAttempts + b.connectAttempts).toBe(0);
    await client.close();
    await expect(firstValueFrom(client.ping$())).rejects.toBeInstanceOf(ConnectionError);
  });
});
