/**
 * The consumer's connections: one per named lane (the coordinator, each fetch lane), opened on
 * first use and shared by everything that uses the lane.
 *
 * A connection that failed or closed is never handed out again: it is forgotten the moment its
 * state leaves `ready` (and checked again on every use), so the next request opens a fresh one.
 * Connecting tries the bootstrap servers in turn, starting after the last one that failed rather
 * than always at the first, so a dead first server costs one attempt, not one per reconnect.
 * Callers back off between rounds (jittered, see `consumerBackoff`).
 */
import { firstValueFrom, type Subscription } from 'rxjs';
import { backoffDelay } from '../client/backoff.js';
import { Client } from '../client/client.js';
import { ConnectionError } from '../errors.js';
import type { AuthOptions } from '../transport/authenticator.js';
import type { SocketFactory } from '../transport/socket-factory.js';
import type { TlsOptions } from '../transport/tls.js';

export interface ConsumerConnectionsOptions {
  bootstrapServers: readonly string[];
  clientId: string;
  auth: AuthOptions | undefined;
  tls: TlsOptions | undefined;
  socketFactory: SocketFactory | undefined;
  /** Default timeout of each request on these connections. */
  requestTimeoutMs: number;
  /** Time allowed to open a connection. */
  connectionTimeoutMs?: number;
  /** Every server was tried and none answered (the error of the last one). */
  onUnreachable?(error: unknown, servers: readonly string[]): void;
  /** A connection was opened (clears an "unreachable" warning). */
  onConnected?(server: string): void;
}

interface Lane {
  pending: Promise<Client>;
  /** Set once connected. */
  client?: Client;
  serverIndex?: number;
  watch?: Subscription;
}

/** Jittered exponential reconnect delay before retry number `failures` (1-based). */
export function consumerBackoff(failures: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  return backoffDelay(Math.max(0, failures - 1), { initialDelay: initialMs, maxDelay: maxMs, multiplier: 2, jitter: 0.25 }, random);
}

export class ConsumerConnections<K extends string> {
  private readonly lanes = new Map<K, Lane>();
  /** Where the next connection attempt starts: after the server that failed last. */
  private nextServer = 0;
  private closed = false;

  constructor(private readonly options: ConsumerConnectionsOptions) {}

  /** The lane's connection, opening one if there is none or the last one failed or closed. */
  get(kind: K): Promise<Client> {
    const lane = this.lanes.get(kind);
    if (lane !== undefined && (lane.client === undefined || lane.client.state === 'ready')) return lane.pending;
    if (lane !== undefined) this.forget(kind, lane);
    const fresh: Lane = { pending: this.connect(kind) };
    this.lanes.set(kind, fresh);
    fresh.pending.then(
      (client) => {
        if (this.lanes.get(kind) !== fresh) {
          void client.close().catch(() => undefined);
          return;
        }
        fresh.client = client;
        fresh.serverIndex = this.indexOf(client);
        // Forget it as soon as it fails: the next use reconnects instead of meeting "is failed".
        fresh.watch = client.state$.subscribe((state) => {
          if (state === 'failed' || state === 'closed' || state === 'closing') this.forget(kind, fresh);
        });
      },
      () => {
        if (this.lanes.get(kind) === fresh) this.lanes.delete(kind);
      },
    );
    return fresh.pending;
  }

  /** Close the lane's connection (a protocol violation or a timeout left it in doubt); the next use reconnects. */
  drop(kind: K): void {
    const lane = this.lanes.get(kind);
    if (lane === undefined) return;
    this.forget(kind, lane);
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    const lanes = [...this.lanes.entries()];
    this.lanes.clear();
    await Promise.all(
      lanes.map(async ([, lane]) => {
        lane.watch?.unsubscribe();
        try {
          await (await lane.pending).close();
        } catch {
          // Failed to connect, or already failed: nothing to close.
        }
      }),
    );
  }

  private forget(kind: K, lane: Lane): void {
    if (this.lanes.get(kind) === lane) this.lanes.delete(kind);
    lane.watch?.unsubscribe();
    lane.watch = undefined;
    // A server whose connection failed is where the next attempt does not start.
    if (lane.serverIndex !== undefined && lane.client !== undefined && lane.client.state === 'failed' && this.nextServer === lane.serverIndex) {
      this.nextServer = (lane.serverIndex + 1) % this.options.bootstrapServers.length;
    }
    lane.pending.then((c) => c.close()).catch(() => undefined);
  }

  private indexOf(client: Client): number | undefined {
    const { host, port } = client.address;
    const i = this.options.bootstrapServers.findIndex((s) => s === `${host}:${port}` || s === `[${host}]:${port}`);
    return i < 0 ? undefined : i;
  }

  private async connect(kind: K): Promise<Client> {
    if (this.closed) throw new ConnectionError('the consumer is closed');
    const servers = this.options.bootstrapServers;
    let lastError: unknown;
    const start = this.nextServer;
    for (let i = 0; i < servers.length; i++) {
      const index = (start + i) % servers.length;
      const server = servers[index]!;
      try {
        const client = await firstValueFrom(
          Client.connect$(server, {
            clientId: `${this.options.clientId}-${kind}`,
            auth: this.options.auth,
            tls: this.options.tls,
            socketFactory: this.options.socketFactory,
            requestTimeoutMs: this.options.requestTimeoutMs,
            ...(this.options.connectionTimeoutMs === undefined ? {} : { connectionTimeoutMs: this.options.connectionTimeoutMs }),
            healthIntervalMs: 60_000,
          }),
        );
        if (this.closed) {
          await client.close();
          throw new ConnectionError('the consumer is closed');
        }
        this.nextServer = index;
        this.options.onConnected?.(server);
        return client;
      } catch (error) {
        lastError = error;
        this.nextServer = (index + 1) % servers.length;
        if (this.closed) break;
      }
    }
    if (!this.closed) this.options.onUnreachable?.(lastError, servers);
    throw lastError;
  }
}
