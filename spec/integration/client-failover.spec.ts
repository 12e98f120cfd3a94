/**
 * `Client.connect$({ bootstrapServers, ... })`: the settings every component takes, and the one
 * failover rule (server-rotation.ts): each server once, in order; an error that every server
 * would give (TLS, credentials, an incompatible broker) stops at once; `retry.maxAttempts` rounds,
 * with backoff between them, when asked for.
 */
import { firstValueFrom } from 'rxjs';
import { Client } from '../../src/client/client';
import { AllServersUnavailableError, ConfigError, IncompatibleBrokerError } from '../../src/errors';
import { FakeBroker, politeHandler, type FakeHandler } from '../support/fake-broker';
import { pingLatency } from '../support/ping';
import { rejection } from '../support/rejection';
import { testBroker } from '../support/test-broker';

describe('Client.connect$ with the shared connection settings', () => {
  it('given a dead server first and the live broker second, connects to the live one', async () => {
    const client = await firstValueFrom(Client.connect$({ bootstrapServers: ['127.0.0.1:1', testBroker().address], clientId: 'client-failover' }));
    try {
      await pingLatency(client, () => client.health().requestsSucceeded);
      expect(client.health()).toMatchObject({ address: testBroker().address, clientId: 'client-failover', state: 'ready' });
    } finally {
      await client.close();
    }
  });

  it('a typo (requestTimeout) is a ConfigError naming requestTimeoutMs', async () => {
    const error = await rejection(firstValueFrom(Client.connect$({ bootstrapServers: testBroker().address, requestTimeout: 3000 } as never)));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ option: 'requestTimeout', retriable: false });
    expect(error.message).toMatch(/did you mean 'requestTimeoutMs'/);
  });

  it('an error every server would give stops at once: the next server is not tried', async () => {
    const incompatible = await FakeBroker.start((request, id, peer) =>
      request.type === 'Handshake' ? { type: 'HandshakeResult', serverVersion: 9, compatible: false, message: 'protocol 9 only' } : politeHandler(request, id, peer),
    );
    const next = await FakeBroker.start();
    try {
      const error = await rejection(firstValueFrom(Client.connect$({ bootstrapServers: [incompatible.address, next.address], logger: null })));
      expect(error).toBeInstanceOf(IncompatibleBrokerError);
      expect(next.peers).toHaveLength(0);
    } finally {
      await incompatible.stop();
      await next.stop();
    }
  });

  describe('retry', () => {
    let handshakes = 0;
    /** Drops the connection at the handshake `drops` times, then answers. */
    const flaky =
      (drops: number): FakeHandler =>
      (request, id, peer) => {
        if (request.type === 'Handshake' && ++handshakes <= drops) {
          peer.socket.destroy();
          return undefined;
        }
        return politeHandler(request, id, peer);
      };
    let broker: FakeBroker;
    beforeEach(async () => {
      handshakes = 0;
      broker = await FakeBroker.start(flaky(2));
    });
    afterEach(async () => {
      await broker.stop();
    });

    it('by default one round: a server that drops the connection fails connect$ (AllServersUnavailableError naming it)', async () => {
      const error = await rejection(firstValueFrom(Client.connect$({ bootstrapServers: broker.address, logger: null })));
      expect(error).toBeInstanceOf(AllServersUnavailableError);
      expect(error.message).toContain(`${broker.address}: `);
      expect(handshakes).toBe(1);
    });

    it('retry.maxAttempts: 3 makes up to three rounds, with the backoff between them', async () => {
      const started = performance.now();
      const client = await firstValueFrom(
        Client.connect$({ bootstrapServers: broker.address, retry: { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 100, jitter: 0 }, logger: null }),
      );
      try {
        expect(handshakes).toBe(3);
        expect(performance.now() - started).toBeGreaterThanOrEqual(2 * 100 - 5);
        await pingLatency(client, () => broker.received.filter((r) => r.type === 'Ping').length);
      } finally {
        await client.close();
      }
    });
  });
});
