/**
 * Every public entry of the client/transport layer checks its arguments before anything starts
 * (issue 17, item 2): a bad address or option is a ConfigError (not retriable), and a failed
 * attempt leaves no timer, socket or subscription behind — nothing that could throw later.
 * (Before: `Client.connect$(9092)` rejected with Node's untyped TypeError, and 10 s later the
 * connection-timeout timer crashed the process with an uncaught TypeError in `formatAddress`.)
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { Client } from '../../src/client/client';
import { PipelinedClient } from '../../src/client/pipelined-client';
import { ResilientClient } from '../../src/client/resilient-client';
import { AllServersUnavailableError, ConfigError, ConnectionError } from '../../src/errors';
import { Connection } from '../../src/transport/connection';
import { rejection } from '../support/rejection';

/** Sockets by kind as Node reports them (timers are tracked exactly instead: jest keeps its own). */
function sockets(): number {
  return process.getActiveResourcesInfo().filter((kind) => /TCP|Socket|Pipe/i.test(kind) && kind !== 'PipeWrap').length;
}

/** Every timer created while `run` is set up and not yet fired or cleared. */
function trackTimers(): { live: Set<unknown>; restore(): void } {
  const live = new Set<unknown>();
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  globalThis.setTimeout = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const timer = realSet(() => {
      live.delete(timer);
      callback(...args);
    }, ms);
    live.add(timer);
    return timer;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((timer: NodeJS.Timeout | undefined) => {
    live.delete(timer);
    realClear(timer);
  }) as typeof clearTimeout;
  return {
    live,
    restore: () => {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    },
  };
}

/**
 * Catch the failure: no timer of the attempt may be left at that moment; then wait past the
 * connection timeout: nothing may throw, and no socket may be left open.
 */
async function failsCleanly(attempt: () => Promise<unknown>, connectionTimeoutMs: number): Promise<Error> {
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  process.on('uncaughtException', onUncaught);
  const socketsBefore = sockets();
  const timers = trackTimers();
  try {
    const error = await rejection(attempt());
    expect(timers.live.size).toBe(0);
    timers.restore();
    await new Promise((resolve) => setTimeout(resolve, connectionTimeoutMs + 50));
    expect(uncaught).toEqual([]);
    expect(sockets()).toBeLessThanOrEqual(socketsBefore);
    return error;
  } finally {
    timers.restore();
    process.off('uncaughtException', onUncaught);
  }
}

describe('argument checks at every client/transport entry', () => {
  it('Client.connect$(9092): a ConfigError that says how to write the address, and nothing fires later', async () => {
    const error = await failsCleanly(() => firstValueFrom(Client.connect$(9092 as never, { connectionTimeoutMs: 300 })), 300);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).retriable).toBe(false);
    expect(error.message).toMatch(/expected 'host:port' or \{ host, port \}, got number 9092.*'127\.0\.0\.1:9092'/);
  });

  it.each([
    ['a number', 9092, /got number 9092/],
    ['null', null, /got null/],
    ['an object without host', { port: 9092 }, /address\.host/],
    ['a port out of range', { host: 'localhost', port: 70_000 }, /address\.port/],
    ['a string without port', 'localhost', /expected host:port/],
  ])('Connection.connect$ refuses %s as the address', async (_, address, message) => {
    const error = await failsCleanly(() => firstValueFrom(Connection.connect$(address as never, { connectionTimeoutMs: 200 })), 200);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(message);
  });

  it.each([
    ['an unknown key (with the closest one)', { requestTimeout: 100 }, /no option 'requestTimeout'; did you mean 'requestTimeoutMs'/],
    ['a negative timeout', { connectionTimeoutMs: -1 }, /connectionTimeoutMs/],
    ['a string timeout', { requestTimeoutMs: '100' }, /requestTimeoutMs/],
    ['a socket factory without open()', { socketFactory: { kind: 'x' } }, /socketFactory/],
    ['a non-boolean quickAck', { quickAck: 'yes' }, /quickAck/],
    ['a bad response limit', { responseLimits: { maxHeadersPerRecord: 0 } }, /responseLimits\.maxHeadersPerRecord/],
    ['an unknown response limit', { responseLimits: { maxHeaders: 5 } }, /responseLimits\.maxHeaders/],
  ])('Client.connect$ refuses %s', async (_, options, message) => {
    const error = await failsCleanly(() => firstValueFrom(Client.connect$('127.0.0.1:1', options as never)), 100);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(message);
  });

  it('Client.connect$({ ... }) refuses the same, and a typo of requestTimeoutMs names requestTimeoutMs', async () => {
    const cases: [unknown, RegExp][] = [
      [{ bootstrapServers: '127.0.0.1:1', requestTimeout: 3000 }, /Client has no option 'requestTimeout'; did you mean 'requestTimeoutMs'/],
      [{ bootstrapServers: '127.0.0.1:1', healthInterval: 5 }, /did you mean 'healthIntervalMs'/],
      [{ bootstrapServers: '127.0.0.1:1', retry: { maxAttempt: 2 } }, /did you mean 'maxAttempts'/],
      [{ bootstrapServers: '127.0.0.1:1', retry: { maxAttempts: 0 } }, /retry\.maxAttempts/],
      [{ bootstrapServers: '127.0.0.1:1', healthIntervalMs: -1 }, /healthIntervalMs/],
      [{ bootstrapServers: [] }, /bootstrapServers/],
      [{ bootstrapServers: ['127.0.0.1:1', 9092] }, /bootstrapServers\[1\]/],
      [{ clientId: 'no servers' }, /bootstrapServers/],
    ];
    for (const [options, message] of cases) {
      const error = await failsCleanly(() => firstValueFrom(Client.connect$(options as never)), 50);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toMatch(message);
    }
    const typo = await rejection(firstValueFrom(Client.connect$({ bootstrapServers: '127.0.0.1:1', requestTimeout: 3000 } as never)));
    expect(typo).toMatchObject({ option: 'requestTimeout' });
  });

  it('Client.connect$ given an address and bootstrapServers refuses both', async () => {
    const error = await rejection(firstValueFrom(Client.connect$('127.0.0.1:1', { bootstrapServers: '127.0.0.1:2' } as never)));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ option: 'bootstrapServers' });
  });

  it('PipelinedClient.connect$ checks its address, its own options and its connection options', async () => {
    const cases: [unknown, unknown, RegExp][] = [
      [9092, {}, /got number 9092/],
      ['127.0.0.1:1', { maxInflight: 5 }, /did you mean 'maxInFlight'/],
      ['127.0.0.1:1', { connectionTimeoutMs: 'soon' }, /connectionTimeoutMs/],
      ['127.0.0.1:1', null, /options object/],
      [{ bootstrapServers: '127.0.0.1:1', requestTimeout: 3000 }, undefined, /PipelinedClient has no option 'requestTimeout'; did you mean 'requestTimeoutMs'/],
      [{ bootstrapServers: '127.0.0.1:1', quickAck: 'yes' }, undefined, /quickAck/],
      [{ bootstrapServers: ['nowhere'] }, undefined, /bootstrapServers\[0\]/],
    ];
    for (const [address, options, message] of cases) {
      const error = await failsCleanly(() => firstValueFrom(PipelinedClient.connect$(address as never, options as never)), 50);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toMatch(message);
    }
  });

  it('ResilientClient checks its servers, its options and its connection options in the constructor', () => {
    expect(() => new ResilientClient({ bootstrapServers: [9092 as never] })).toThrow(ConfigError);
    expect(() => new ResilientClient({ bootstrapServers: ['127.0.0.1:1'], requestTimeout: 5 } as never)).toThrow(/did you mean 'requestTimeoutMs'/);
    expect(() => new ResilientClient({ bootstrapServers: ['127.0.0.1:1'], clientId: 42 as never })).toThrow(/clientId/);
    expect(() => new ResilientClient({ bootstrapServers: ['127.0.0.1:1'], connection: { responseLimits: { maxItemsPerResponse: -1 } } })).toThrow(
      /responseLimits\.maxItemsPerResponse/,
    );
  });

  it('a socket factory that throws fails the attempt with a typed error and leaves no timer', async () => {
    const socketFactory = {
      kind: 'broken',
      open(): never {
        throw new TypeError('cannot open sockets today');
      },
    };
    const error = await failsCleanly(
      () => firstValueFrom(Connection.connect$('127.0.0.1:1', { socketFactory: socketFactory as never, connectionTimeoutMs: 300 })),
      300,
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.message).toMatch(/cannot open sockets today/);
  });

  it('a failed connection attempt (nothing listening) leaves no timer or socket', async () => {
    // The deprecated address form fails with its one server's own error...
    const error = await failsCleanly(() => firstValueFrom(Client.connect$('127.0.0.1:1', { connectionTimeoutMs: 300 })), 300);
    expect(error).toBeInstanceOf(ConnectionError);
    // ...a server list, when none answers, with one naming each server's.
    const none = await failsCleanly(
      () => firstValueFrom(Client.connect$({ bootstrapServers: ['127.0.0.1:1', '127.0.0.1:2'], connectionTimeoutMs: 300 })),
      300,
    );
    expect(none).toBeInstanceOf(AllServersUnavailableError);
    expect(none.message).toMatch(/127\.0\.0\.1:1: .*; 127\.0\.0\.1:2: /);
    expect((none as AllServersUnavailableError).cause).toBeInstanceOf(ConnectionError);
  });

  it('unsubscribing while a server list is tried abandons the attempt: no other server is tried, nothing is left behind', async () => {
    const accepted: string[] = [];
    let silentAccepted!: () => void;
    const silentConnected = new Promise<void>((resolve) => (silentAccepted = resolve));
    // The first server accepts and never answers the handshake; the second counts connections.
    const serverOf = (name: string, onAccept: () => void = () => undefined) =>
      createServer((socket) => {
        accepted.push(name);
        socket.resume(); // read, so the client's close is seen and server.close() can finish
        socket.on('error', () => undefined);
        onAccept();
      });
    const silent = serverOf('silent', () => silentAccepted());
    const counting = serverOf('counting');
    await Promise.all([silent, counting].map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
    const addressOf = (server: Server) => `127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const error = await failsCleanly(async () => {
        const subscription = Client.connect$({ bootstrapServers: [addressOf(silent), addressOf(counting)], connectionTimeoutMs: 300 }).subscribe();
        await silentConnected;
        subscription.unsubscribe();
        throw new Error('unsubscribed');
      }, 300);
      expect(error.message).toBe('unsubscribed');
      expect(accepted).toEqual(['silent']);
    } finally {
      await Promise.all([silent, counting].map((server) => new Promise((resolve) => server.close(resolve))));
    }
  });

  it('request$ and execute$ refuse what is not a request, before sending anything', async () => {
    const client = new ResilientClient({ bootstrapServers: ['127.0.0.1:1'], healthCheckEnabled: false });
    for (const bad of [null, 42, 'Ping', { type: 'toString' }]) {
      const error = await rejection(firstValueFrom(client.execute$(bad as never)));
      expect(error).toBeInstanceOf(ConfigError);
    }
    expect(client.health().servers[0]!.pool.opened + client.health().servers[0]!.requests).toBe(0);
    await client.close();

    const fakeConnection = Object.create(Connection.prototype) as Connection;
    expect(await rejection(firstValueFrom(fakeConnection.request$(null as never)))).toBeInstanceOf(ConfigError);
    expect(await rejection(firstValueFrom(fakeConnection.request$({ type: 'Ping' }, { timeoutMs: 'soon' as never })))).toBeInstanceOf(ConfigError);
  });
});
