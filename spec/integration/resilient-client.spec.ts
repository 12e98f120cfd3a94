/**
 * ResilientClient against real brokers and real faults: two rivvend processes, each behind a
 * fault-injecting TCP proxy. Cut one → callers see no errors; cut both → AllServersUnavailable,
 * fast, with no connection attempts reaching the proxies; restore → Half-Open probe → Closed in
 * health$. A broker process killed and restarted is recovered by the same client.
 */
import { rmSync } from 'node:fs';
import { distinctUntilChanged, filter, firstValueFrom, map, timeout, type Observable } from 'rxjs';
import { Client } from '../../src/client/client';
import { ResilientClient } from '../../src/client/resilient-client';
import type { ResilientClientConfig } from '../../src/client/resilient-config';
import type { ResilientHealth } from '../../src/client/resilient-health';
import { AllServersUnavailableError, ConnectionError } from '../../src/errors';
import type { SocketFactory } from '../../src/connection-settings';
import { tcpSocketFactory } from '../../src/transport/sockets';
import { startBroker, type BrokerProcess } from '../support/broker-process';
import { FaultProxy, type Fault } from '../support/fault-proxy';
import { unique } from '../support/names';
import { pingLatency } from '../support/ping';
import { testBroker } from '../support/test-broker';
import { rejection } from '../support/rejection';

jest.setTimeout(60_000);

const topic = unique('resilient');
let second: BrokerProcess;
let pA: FaultProxy;
let pB: FaultProxy;
const clients: ResilientClient[] = [];

beforeAll(async () => {
  second = await startBroker();
  // The same topic on both brokers, so either can serve the requests below.
  for (const address of [testBroker().address, second.address]) {
    const client = await firstValueFrom(Client.connect$(address));
    await firstValueFrom(client.createTopic$(topic, 1));
    await firstValueFrom(client.publish$(topic, { value: 'seed', partition: 0 }));
    await client.close();
  }
}, 90_000);

afterAll(async () => {
  await second?.kill();
  if (second) rmSync(second.dataDir, { recursive: true, force: true });
  if (second) rmSync(second.logFile, { force: true });
});

beforeEach(async () => {
  pA = await FaultProxy.start(testBroker().address);
  pB = await FaultProxy.start(second.address);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await pA.close();
  await pB.close();
});

function resilient(options: Partial<ResilientClientConfig> = {}): ResilientClient {
  const client = new ResilientClient({
    bootstrapServers: [pA.address, pB.address],
    retry: { initialDelayMs: 10, maxDelayMs: 100 },
    connectionTimeoutMs: 1_000,
    requestTimeoutMs: 2_000,
    healthCheckIntervalMs: 200,
    healthEmitIntervalMs: 50,
    ...options,
  });
  clients.push(client);
  return client;
}

function until(client: ResilientClient, predicate: (h: ResilientHealth) => boolean, ms = 10_000): Promise<ResilientHealth> {
  return firstValueFrom(client.health$.pipe(filter(predicate), timeout(ms)));
}

const breakers = (h: ResilientHealth) => h.servers.map((s) => s.breaker);

/** `concurrency` loops calling `op` back to back until stopped; counts successes and errors. */
function load(concurrency: number, op: () => Observable<unknown>) {
  let running = true;
  let ok = 0;
  const errors: Error[] = [];
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        await firstValueFrom(op(), { defaultValue: undefined });
        ok++;
      } catch (error) {
        errors.push(error as Error);
      }
    }
  });
  return {
    get ok() {
      return ok;
    },
    errors,
    async stop() {
      running = false;
      await Promise.all(loops);
      return { ok, errors };
    },
  };
}


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ResilientClient against real brokers behind fault proxies', () => {
  it.each<[string, Fault, boolean]>([
    ['reset', { kind: 'reset' }, true],
    ['refuse', { kind: 'refuse' }, true],
    ['blackhole', { kind: 'blackhole' }, true],
    ['close after N bytes (truncated replies)', { kind: 'close-after', bytes: 6, direction: 'to-client' }, true],
    ['latency', { kind: 'latency', ms: 150 }, false],
  ])('fault on one server (%s): every call keeps succeeding, no error reaches the caller', async (_name, fault, opens) => {
    const client = resilient({ circuitBreakerFailureThreshold: 2, circuitBreakerRecoveryTimeoutMs: 60_000, requestTimeoutMs: 500 });
    const ops = [
      () => client.ping$(),
      () => client.listTopics$(),
      () => client.consume$(topic, { partition: 0, offset: 0n, maxMessages: 10 }),
      () => client.getOffsetBounds$(topic, 0),
    ];
    let i = 0;
    const traffic = load(6, () => ops[i++ % ops.length]!());
    await pA.until((s) => s.framesToClient > 5);
    await pB.until((s) => s.framesToClient > 5);
    await pA.setFault(fault);
    if (opens) await until(client, (h) => h.servers[0]!.breaker === 'open');
    else await sleep(600);
    const atCut = traffic.ok;
    const bBefore = pB.stats().framesToClient;
    await pB.until((s) => s.framesToClient > bBefore + 40);
    const { ok, errors } = await traffic.stop();
    expect(errors).toEqual([]);
    expect(ok).toBeGreaterThan(atCut);
    const health = client.health();
    expect(health.failures).toBe(0);
    expect(health.servers[1]!.breaker).toBe('closed');
    if (opens) {
      expect(health.servers[0]!.breaker).toBe('open');
      expect(health.servers[0]!.lastError).toBeDefined();
      expect(health.retries).toBeGreaterThan(0);
    } else {
      expect(breakers(health)).toEqual(['closed', 'closed']);
    }
  });

  it('cut both: AllServersUnavailable fast with no connection attempts; restore: Half-Open probe → Closed in health$', async () => {
    const client = resilient({ circuitBreakerFailureThreshold: 2, circuitBreakerRecoveryTimeoutMs: 1_500 });
    const historyA: string[] = [];
    client.health$
      .pipe(
        map((h) => h.servers[0]!.breaker),
        distinctUntilChanged(),
      )
      .subscribe((s) => historyA.push(s));
    await firstValueFrom(client.ping$());
    await firstValueFrom(client.ping$());

    await pA.reset();
    await pB.reset();
    const traffic = load(2, () => client.ping$());
    await until(client, (h) => h.healthyServers === 0 && breakers(h).every((s) => s === 'open'));
    await traffic.stop();

    const attemptsBefore = pA.stats().connectionsAccepted + pB.stats().connectionsAccepted;
    const started = performance.now();
    const errors = await Promise.all(Array.from({ length: 50 }, () => rejection(firstValueFrom(client.listTopics$()))));
    const elapsed = performance.now() - started;
    for (const error of errors) expect(error).toBeInstanceOf(AllServersUnavailableError);
    expect(elapsed).toBeLessThan(250); // no connect, no backoff: a failed connect plus retries would take longer
    await sleep(400); // two health-check intervals: open circuits are not pinged either
    expect(pA.stats().connectionsAccepted + pB.stats().connectionsAccepted).toBe(attemptsBefore);

    await pA.restore();
    await pB.restore();
    const healed = await until(client, (h) => breakers(h).every((s) => s === 'closed'), 10_000);
    expect(healed.healthyServers).toBe(2);
    expect(historyA.slice(-3)).toEqual(['open', 'half-open', 'closed']);
    await pingLatency(client, () => client.health().servers.reduce((n, s) => n + s.requests, 0)); // health pings are not requests
  });

  it('does not retry a publish that may have reached the broker; an idempotent read in the same spot fails over', async () => {
    // No background health checks: the round-robin order below must be exactly the calls made here.
    const client = resilient({ circuitBreakerFailureThreshold: 100, healthCheckEnabled: false });
    await firstValueFrom(client.ping$()); // → A
    await firstValueFrom(client.ping$()); // → B
    const bounds = async (address: string) => {
      const c = await firstValueFrom(Client.connect$(address));
      const b = await firstValueFrom(c.getOffsetBounds$(topic, 0));
      await c.close();
      return b.latest;
    };
    const latestB = await bounds(second.address);
    await pA.blackhole(); // A takes requests and never answers
    const publish = rejection(firstValueFrom(client.publish$(topic, { value: 'once', partition: 0 }))); // → A
    const consume = firstValueFrom(client.consume$(topic, { partition: 0, offset: 0n, maxMessages: 1 })); // → B, fine
    const consumeOnA = firstValueFrom(client.getOffsetBounds$(topic, 0)); // → A
    await pA.until((s) => s.readsFromClient.length >= 3);
    await pA.reset(); // the connection dies with both in flight
    expect(await publish).toBeInstanceOf(ConnectionError);
    expect((await consume).length).toBe(1);
    expect((await consumeOnA).latest).toBeGreaterThanOrEqual(1n); // retried on B
    expect(await bounds(second.address)).toBe(latestB); // the publish was not repeated on B
  });

  it('retries a publish whose connection could not be opened (it never left the client)', async () => {
    const client = resilient({ circuitBreakerFailureThreshold: 100 });
    await pA.reset();
    for (let i = 0; i < 4; i++) {
      const meta = await firstValueFrom(client.publish$(topic, { value: `p${i}`, partition: 0 }));
      expect(meta.partition).toBe(0);
    }
    expect(client.health()).toMatchObject({ successes: 4, failures: 0 });
    expect(client.health().retries).toBeGreaterThanOrEqual(2);
  });

  it('recycles connections after maxConnectionLifetimeMs with no failed calls', async () => {
    const client = resilient({ maxConnectionLifetimeMs: 300, healthCheckEnabled: false });
    const traffic = load(4, () => client.ping$());
    await sleep(1_200);
    const { ok, errors } = await traffic.stop();
    expect(errors).toEqual([]);
    expect(ok).toBeGreaterThan(20);
    const health = client.health();
    expect(health.servers[0]!.pool.recycled + health.servers[1]!.pool.recycled).toBeGreaterThanOrEqual(4);
    expect(pA.stats().connectionsAccepted).toBeGreaterThanOrEqual(3);
  });

  it('opens every pooled connection with the shared settings (socket factory, client id)', async () => {
    let opened = 0;
    const factory: SocketFactory = {
      kind: 'tcp-counting',
      open(address, onReady) {
        opened++;
        return tcpSocketFactory.open(address, onReady);
      },
    };
    const client = resilient({ socketFactory: factory, clientId: 'resilient-spec', healthCheckEnabled: false });
    await Promise.all(Array.from({ length: 12 }, () => firstValueFrom(client.listTopics$())));
    const health = client.health();
    expect(opened).toBe(health.servers[0]!.pool.opened + health.servers[1]!.pool.opened);
    expect(opened).toBeGreaterThanOrEqual(2);
  });
});

describe('ResilientClient with the shared connection settings', () => {
  it('serves requests from bootstrapServers whose first server is dead, with clientId and timeouts at top level', async () => {
    const client = new ResilientClient({
      bootstrapServers: ['127.0.0.1:1', testBroker().address],
      clientId: 'resilient-bootstrap-spec',
      connectionTimeoutMs: 1_000,
      requestTimeoutMs: 2_000,
      retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
      healthCheckEnabled: false,
    });
    clients.push(client);
    for (let i = 0; i < 6; i++) {
      const topics = await firstValueFrom(client.listTopics$());
      expect(topics).toContain(topic);
    }
    const health = client.health();
    expect(health).toMatchObject({ successes: 6, failures: 0 });
    expect(health.retries).toBeGreaterThan(0); // round robin started some calls at the dead server
    expect(health.servers[0]).toMatchObject({ address: '127.0.0.1:1', answered: 0, lastError: { code: 'CONNECTION' } });
    expect(health.servers[1]!.answered).toBe(6);
  });
});

describe('ResilientClient and a broker process that dies', () => {
  it('recovers after the broker is killed and restarted, without being recreated', async () => {
    const broker = await startBroker();
    let restarted: BrokerProcess | undefined;
    try {
      const client = new ResilientClient({
        bootstrapServers: [broker.address],
        circuitBreakerFailureThreshold: 2,
        circuitBreakerRecoveryTimeoutMs: 500,
        healthCheckIntervalMs: 200,
        healthEmitIntervalMs: 50,
        connectionTimeoutMs: 1_000,
        retry: { initialDelayMs: 10 },
      });
      clients.push(client);
      const killTopic = `${topic}-kill`;
      await firstValueFrom(client.createTopic$(killTopic, 1));
      await firstValueFrom(client.publish$(killTopic, { value: 'before', partition: 0 }));

      await broker.kill();
      const failure = await rejection(firstValueFrom(client.ping$()));
      expect(failure.name).toMatch(/ConnectionError|AllServersUnavailableError|RivvenTimeoutError/);
      await until(client, (h) => h.servers[0]!.breaker === 'open');
      expect(await rejection(firstValueFrom(client.ping$()))).toBeInstanceOf(AllServersUnavailableError);

      restarted = await startBroker({ port: broker.port, dataDir: broker.dataDir });
      const healed = await until(client, (h) => h.servers[0]!.breaker === 'closed', 15_000);
      expect(healed.servers[0]!.pool.broken + healed.servers[0]!.failures).toBeGreaterThan(0);
      await pingLatency(client, () => client.health().servers[0]!.requests);
      const meta = await firstValueFrom(client.publish$(killTopic, { value: 'after', partition: 0 }));
      expect(meta.topic).toBe(killTopic);
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await restarted?.kill();
      await broker.kill();
      rmSync(broker.dataDir, { recursive: true, force: true });
      rmSync(broker.logFile, { force: true });
    }
  });
});
