/**
 * The one connection layer (pinned-lanes.ts, server-rotation.ts) against fake brokers: a failed
 * connection is never handed out again, reconnecting starts at the server after the one that
 * failed, a dead first server is passed over once its breaker opens, an error that every server
 * would give stops at once, and connections come from an injectable connector (the fake seam).
 */
import { Observable, throwError } from 'rxjs';
import { Client } from '../../src/client/client';
import { PinnedLanes, type LaneConnector } from '../../src/client/pinned-lanes';
import { ServerRotation, connectToAny } from '../../src/client/server-rotation';
import { AllServersUnavailableError, AuthenticationError, ConnectionError } from '../../src/errors';
import { FakeBroker } from '../support/fake-broker';
import { until } from '../support/wait';

function lanes(servers: string[], extra: Partial<ConstructorParameters<typeof PinnedLanes<string>>[0]> = {}): PinnedLanes<string> {
  return new PinnedLanes<string>({ bootstrapServers: servers, client: { requestTimeoutMs: 1_000, clientId: 'spec' }, closedMessage: 'the spec is closed', ...extra });
}

describe('PinnedLanes', () => {
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
    const connections = lanes([a.address, b.address], { onUnreachable: (_error, servers) => unreachable.push(servers.join(',')) });
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
    const connections = lanes(servers, { onUnreachable: (_error, tried) => unreachable.push(tried.join(',')) });
    const error = await connections.get('coordinator').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AllServersUnavailableError);
    // Each server is named with what went wrong there.
    expect((error as Error).message).toContain(servers[0]);
    expect((error as Error).message).toContain(servers[1]);
    // Each server's own error, not a wrapper of it: the lane's one round is the only wrapping.
    expect((error as Error).message.match(/no server of bootstrapServers answered/g)).toHaveLength(1);
    expect((error as AllServersUnavailableError).cause).toBeInstanceOf(ConnectionError);
    expect(unreachable).toEqual([servers.join(',')]);
    await connections.closeAll();
    // Restart them for afterEach.
    a = await FakeBroker.start();
    b = await FakeBroker.start();
  });
});

describe('connectToAny', () => {
  const ok = (server: string) => Promise.resolve(server);
  const refused = (server: string) => Promise.reject(new ConnectionError(`connection to ${server} refused`));

  it('passes over a dead first server once its breaker opens, and tries it last instead of never', async () => {
    const rotation = new ServerRotation(['dead:1', 'live:2'], { failureThreshold: 2, recoveryTimeout: 60_000 });
    const tried: string[] = [];
    const open = (server: string) => {
      tried.push(server);
      return server === 'dead:1' ? refused(server) : ok(server);
    };
    try {
      for (let i = 0; i < 4; i++) {
        // Start every round at the dead one, as a fresh process would.
        rotation.answered(0);
        expect((await connectToAny(rotation, open)).value).toBe('live:2');
      }
      // Two failures opened dead:1's breaker: the last two rounds went straight to live:2.
      expect(tried).toEqual(['dead:1', 'live:2', 'dead:1', 'live:2', 'live:2', 'live:2']);
      // With every breaker open, the servers are still tried (a connection is wanted now).
      tried.length = 0;
      const alone = new ServerRotation(['dead:1'], { failureThreshold: 1, recoveryTimeout: 60_000 });
      await expect(connectToAny(alone, open)).rejects.toBeInstanceOf(AllServersUnavailableError);
      await expect(connectToAny(alone, open)).rejects.toBeInstanceOf(AllServersUnavailableError);
      expect(tried).toEqual(['dead:1', 'dead:1']);
      alone.dispose();
    } finally {
      rotation.dispose();
    }
  });

  it('stops at the first error every server would give (credentials), without trying the others', async () => {
    const rotation = new ServerRotation(['a:1', 'b:2']);
    const tried: string[] = [];
    const open = (server: string) => {
      tried.push(server);
      return Promise.reject(new AuthenticationError('SCRAM authentication failed: wrong password'));
    };
    await expect(connectToAny(rotation, open)).rejects.toBeInstanceOf(AuthenticationError);
    expect(tried).toEqual(['a:1']);
    rotation.dispose();
  });

  it('starts where the last connection succeeded', async () => {
    const rotation = new ServerRotation(['a:1', 'b:2', 'c:3']);
    const tried: string[] = [];
    const open = (server: string) => {
      tried.push(server);
      return server === 'c:3' ? ok(server) : refused(server);
    };
    await connectToAny(rotation, open);
    await connectToAny(rotation, open);
    expect(tried).toEqual(['a:1', 'b:2', 'c:3', 'c:3']);
    rotation.dispose();
  });
});

describe('PinnedLanes connector seam', () => {
  it('opens lanes through the injected connector, one connection per lane, shared by its users', async () => {
    const broker = await FakeBroker.start();
    const opened: string[] = [];
    const connect: LaneConnector = (server, options) => {
      opened.push(`${server} as ${options.clientId}`);
      return server === '127.0.0.1:1' ? throwError(() => new ConnectionError('refused')) : Client.connect$(server, options);
    };
    const connections = lanes(['127.0.0.1:1', broker.address], { connect, clientIdOf: (lane) => `spec-${lane}` });
    try {
      const [x, y] = await Promise.all([connections.get('fetch-0'), connections.get('fetch-0')]);
      expect(x).toBe(y);
      await connections.get('coordinator');
      expect(opened).toEqual(['127.0.0.1:1 as spec-fetch-0', `${broker.address} as spec-fetch-0`, `${broker.address} as spec-coordinator`]);
      expect(connections.connectedAll()).toHaveLength(2);
    } finally {
      await connections.closeAll();
      await broker.stop();
    }
    // After closeAll nothing opens again.
    await expect(connections.get('fetch-0')).rejects.toThrow('the spec is closed');
    expect(opened).toHaveLength(3);
  });

  it('never connects after closeAll even if a connection attempt was under way', async () => {
    let release!: (client: Client) => void;
    const broker = await FakeBroker.start();
    const connect: LaneConnector = () =>
      new Observable<Client>((subscriber) => {
        release = (client) => subscriber.next(client);
        return undefined;
      });
    const connections = lanes([broker.address], { connect });
    const pending = connections.get('coordinator');
    // closeAll waits for the attempt under way (a real one ends by connectionTimeoutMs).
    const closing = connections.closeAll();
    const client = await new Promise<Client>((resolve, reject) => Client.connect$(broker.address).subscribe({ next: resolve, error: reject }));
    release(client);
    await closing;
    await expect(pending).rejects.toThrow('the spec is closed');
    expect(client.state).not.toBe('ready');
    await broker.stop();
  });
});
