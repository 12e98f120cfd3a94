/**
 * The chaos proxy helper (spec/support/fault-proxy.ts: FaultProxy.setConnectionLifetime and
 * ChaosProxy), against a local echo server: connections really end within their lifetime, data
 * flows while they live, pause() lets them live, and episodes come and go.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { ChaosProxy } from '../support/chaos-proxy';
import { FaultProxy } from '../support/fault-proxy';

let echo: Server;
let echoAddress: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  echo = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  const address = echo.address();
  echoAddress = `127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

/** Connect through `address`; resolves with the time the connection ended and what was echoed. */
function session(address: string, send: string): { opened: Promise<void>; ended: Promise<{ at: number; echoed: string }> } {
  const at = address.lastIndexOf(':');
  const socket = connect({ host: address.slice(0, at), port: Number(address.slice(at + 1)) });
  let echoed = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (echoed += chunk));
  socket.on('error', () => undefined);
  const opened = new Promise<void>((resolve) => socket.once('connect', () => (socket.write(send), resolve())));
  const ended = new Promise<{ at: number; echoed: string }>((resolve) => socket.once('close', () => resolve({ at: Date.now(), echoed })));
  return { opened, ended };
}

it('ends every connection within its lifetime, after forwarding what it carried', async () => {
  const proxy = await FaultProxy.start(echoAddress, { lifetime: { minMs: 200, maxMs: 400 } });
  try {
    const started = Date.now();
    const sessions = Array.from({ length: 5 }, (_, i) => session(proxy.address, `hello ${i}`));
    await Promise.all(sessions.map((s) => s.opened));
    const ended = await Promise.all(sessions.map((s) => s.ended));
    for (const [i, e] of ended.entries()) {
      expect(e.echoed).toBe(`hello ${i}`);
      expect(e.at - started).toBeGreaterThanOrEqual(190);
      expect(e.at - started).toBeLessThan(2_000);
    }
    expect(proxy.connectionsKilled).toBe(5);
  } finally {
    await proxy.close();
  }
});

it('without a lifetime (the default, or after setConnectionLifetime(undefined)) connections live', async () => {
  const proxy = await FaultProxy.start(echoAddress, { lifetime: { minMs: 100, maxMs: 100 } });
  try {
    proxy.setConnectionLifetime(undefined);
    const s = session(proxy.address, 'still here');
    await s.opened;
    const outcome = await Promise.race([s.ended.then(() => 'ended'), new Promise((resolve) => setTimeout(() => resolve('alive'), 500))]);
    expect(outcome).toBe('alive');
    expect(proxy.connectionsKilled).toBe(0);
  } finally {
    await proxy.close();
  }
});

it('ChaosProxy: kills by lifetime while active, not while paused, and runs episodes', async () => {
  const chaos = await ChaosProxy.start(echoAddress, {
    lifetime: { minMs: 100, maxMs: 200 },
    episodes: { everyMs: { minMs: 50, maxMs: 50 }, choices: [{ kind: 'latency', ms: 5, durationMs: 50 }] },
  });
  try {
    const first = session(chaos.address, 'a');
    await first.opened;
    await first.ended;
    expect(chaos.stats().connectionsKilled).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(chaos.stats().episodes.latency).toBeGreaterThanOrEqual(1);

    await chaos.pause();
    expect(chaos.proxy.currentFault.kind).toBe('pass');
    const second = session(chaos.address, 'b');
    await second.opened;
    const outcome = await Promise.race([second.ended.then(() => 'ended'), new Promise((resolve) => setTimeout(() => resolve('alive'), 400))]);
    expect(outcome).toBe('alive');
    expect(chaos.stats().connectionsKilled).toBe(1);
  } finally {
    await chaos.close();
  }
});
