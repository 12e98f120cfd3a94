/**
 * The consumer's lane connections (consumer-connections.ts) against fake brokers: a failed
 * connection is never handed out again, and reconnecting starts at the server after the one
 * that failed; the reconnect delay is jittered.
 */
import { ConsumerConnections, consumerBackoff } from '../../src/consumer/consumer-connections';
import { FakeBroker } from '../support/fake-broker';
import { until } from '../support/wait';

describe('ConsumerConnections', () => {
  let a: FakeBroker;
  let b: FakeBroker;
  beforeEach(async () => {
    a = await FakeBroker.start();
    b = await FakeBroker.start();
  });
  afterEach(async () => {
    await a.stop();
    await b.stop();
  });

  it('drops a connection the moment it fails and reconnects to the next server, not the first', async () => {
    const unreachable: string[] = [];
    const connections = new ConsumerConnections<string>({
      bootstrapServers: [a.address, b.address],
      clientId: 'spec',
      auth: undefined,
      tls: undefined,
      socketFactory: undefined,
      requestTimeoutMs: 1_000,
      onUnreachable: (_error, servers) => unreachable.push(servers.join(',')),
    });
    try {
      const first = await connections.get('coordinator');
      expect(await connections.get('coordinator')).toBe(first);
      expect(a.peers).toHaveLength(1);
      a.peers[0]!.socket.destroy();
      await until(() => first.state === 'failed', 5_000, 'the first connection to fail');
      const second = await connections.get('coordinator');
      expect(second).not.toBe(first);
      expect(second.state).toBe('ready');
      // The next attempt started after the server that failed: A was not tried again.
      expect(a.peers).toHaveLength(1);
      expect(b.peers).toHaveLength(1);
      // Other lanes follow to the working server.
      await connections.get('fetch-0');
      expect(b.peers).toHaveLength(2);
      expect(unreachable).toEqual([]);
    } finally {
      await connections.closeAll();
    }
  });

  it('tries every server once per round and reports when none answers', async () => {
    const servers = [a.address, b.address];
    await a.stop();
    await b.stop();
    const unreachable: string[] = [];
    const connections = new ConsumerConnections<string>({
      bootstrapServers: servers,
      clientId: 'spec',
      auth: undefined,
      tls: undefined,
      socketFactory: undefined,
      requestTimeoutMs: 1_000,
      onUnreachable: (_error, tried) => unreachable.push(tried.join(',')),
    });
    await expect(connections.get('coordinator')).rejects.toMatchObject({ code: 'CONNECTION' });
    expect(unreachable).toEqual([servers.join(',')]);
    await connections.closeAll();
    // Restart them for afterEach.
    a = await FakeBroker.start();
    b = await FakeBroker.start();
  });
});

describe('consumerBackoff', () => {
  it('is exponential, capped, and jittered by ±25 %', () => {
    expect(consumerBackoff(1, 100, 10_000, () => 0.5)).toBe(100);
    expect(consumerBackoff(3, 100, 10_000, () => 0.5)).toBe(400);
    expect(consumerBackoff(30, 100, 10_000, () => 0.5)).toBe(10_000);
    expect(consumerBackoff(3, 100, 10_000, () => 0)).toBe(300);
    expect(consumerBackoff(3, 100, 10_000, () => 0.999999)).toBe(500);
  });
});
