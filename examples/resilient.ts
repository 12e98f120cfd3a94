/**
 * Resilience: one ResilientClient over two "servers", with a live health$ dashboard line while one
 * of them is cut and restored. Calls keep succeeding on the other server; the cut one's circuit
 * opens (no more connection attempts), then after the recovery timeout one probe goes out and the
 * circuit closes again.
 *
 * To run against a single broker, the two servers are two in-process TCP relays to it; cutting a
 * relay resets every connection through it and refuses new ones, as a dead server would.
 *
 *   RIVVEN_BOOTSTRAP=127.0.0.1:9092 node .examples-build/examples/resilient.js
 *   (or `npm run example -- resilient`, which starts a local broker for you)
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { distinctUntilChanged, filter, firstValueFrom, map, merge, sampleTime, timeout } from 'rxjs';
import { ResilientClient, formatHealth, type ResilientHealth } from 'rivven-rx';

const bootstrap = process.env.RIVVEN_BOOTSTRAP ?? '127.0.0.1:9092';

/** A TCP relay to the broker that can be cut (every connection reset, new ones refused) and restored. */
class Relay {
  private readonly sockets = new Set<Socket>();
  private cut = false;
  private constructor(private readonly server: Server) {}

  static start(target: string): Promise<Relay> {
    const at = target.lastIndexOf(':');
    const host = target.slice(0, at);
    const port = Number(target.slice(at + 1));
    const server = createServer();
    const relay = new Relay(server);
    server.on('connection', (client) => {
      client.on('error', () => undefined);
      if (relay.cut) {
        client.resetAndDestroy();
        return;
      }
      const upstream = connect({ host, port, noDelay: true });
      upstream.on('error', () => undefined);
      for (const s of [client, upstream]) {
        relay.sockets.add(s);
        s.on('close', () => {
          relay.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(relay)));
  }

  get address(): string {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? `127.0.0.1:${address.port}` : '';
  }

  setCut(cut: boolean): void {
    this.cut = cut;
    if (cut) for (const socket of this.sockets) socket.resetAndDestroy();
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function main(): Promise<void> {
  const relayA = await Relay.start(bootstrap);
  const relayB = await Relay.start(bootstrap);
  const client = new ResilientClient({
    bootstrapServers: [relayA.address, relayB.address],
    clientId: 'resilient-example',
    circuitBreakerFailureThreshold: 2,
    circuitBreakerRecoveryTimeoutMs: 2_000,
    healthCheckIntervalMs: 500,
    healthEmitIntervalMs: 200,
    retry: { initialDelayMs: 20 },
    connectionTimeoutMs: 2_000,
    requestTimeoutMs: 3_000,
  });

  let phase = 'both up';
  // The dashboard: a line whenever a circuit changes state, and a refresh every second.
  const breakers = (h: ResilientHealth) => h.servers.map((s) => s.breaker).join(',');
  const dashboard = merge(client.health$.pipe(distinctUntilChanged((a, b) => breakers(a) === breakers(b))), client.health$.pipe(sampleTime(1_000)))
    .pipe(map((h) => `${phase.padEnd(10)} ${formatHealth(h)}`))
    .subscribe((line) => console.log(line));

  const waitFor = (predicate: (h: ResilientHealth) => boolean) =>
    firstValueFrom(client.health$.pipe(filter(predicate), timeout(15_000)));

  // Steady traffic: four callers pinging and listing topics back to back.
  let running = true;
  let callerErrors = 0;
  const callers = Array.from({ length: 4 }, async (_, i) => {
    while (running) {
      try {
        if (i % 2 === 0) await firstValueFrom(client.ping$());
        else await firstValueFrom(client.listTopics$());
      } catch {
        callerErrors++;
      }
    }
  });

  await new Promise((resolve) => setTimeout(resolve, 1_500));

  phase = 'B cut';
  relayB.setCut(true);
  await waitFor((h) => h.servers[1]!.breaker === 'open');
  await new Promise((resolve) => setTimeout(resolve, 1_000));

  phase = 'B back';
  relayB.setCut(false);
  await waitFor((h) => h.servers[1]!.breaker === 'closed');
  await new Promise((resolve) => setTimeout(resolve, 1_000));

  running = false;
  await Promise.all(callers);
  const final = client.health();
  console.log(
    `calls: ${final.requests}, succeeded: ${final.successes}, failed: ${final.failures}, retried: ${final.retries}; errors seen by callers: ${callerErrors}`,
  );
  dashboard.unsubscribe();
  await client.close();
  await relayA.close();
  await relayB.close();
  console.log('done');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
