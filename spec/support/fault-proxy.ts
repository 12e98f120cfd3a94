/**
 * A fault-injecting TCP proxy for tests: sits on a loopback port in front of a real broker and
 * forwards bytes both ways — or, on command, delays them, resets connections, swallows them
 * (blackhole), refuses connections, or closes a connection after N bytes.
 *
 * Orthogonal to the fault, a connection lifetime (`setConnectionLifetime`) ends every connection a
 * random time after it was accepted (franz-go's chaos dialer); `ChaosProxy` (chaos-proxy.ts)
 * combines that with random latency / reset / blackhole episodes for chaos runs; the same faults
 * in virtual time are virtual-broker.ts.
 *
 * It also watches the traffic: connection attempts (every accepted TCP connection), bytes and
 * socket reads each way (bytes per read shows write batching), and Rivven frames each way, so a
 * test can see how many requests are outstanding at the broker at any moment.
 */
import { EventEmitter } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

export type Fault =
  | { kind: 'pass' }
  /** Delay every chunk, both ways, by `ms` (order kept). */
  | { kind: 'latency'; ms: number }
  /** RST every open connection and every new one (the proxy still counts the attempts). */
  | { kind: 'reset' }
  /** Accept and swallow: nothing is forwarded either way, nothing is answered. */
  | { kind: 'blackhole' }
  /** Stop listening: connection attempts get ECONNREFUSED (and cannot be counted). */
  | { kind: 'refuse' }
  /** Forward `bytes` more bytes in `direction` on each connection, then close it. */
  | { kind: 'close-after'; bytes: number; direction: 'to-broker' | 'to-client' };

export interface ProxyStats {
  /** TCP connections accepted (connection attempts while listening). */
  connectionsAccepted: number;
  connectionsOpen: number;
  bytesToBroker: number;
  bytesToClient: number;
  /** Sizes of the chunks read from clients (one per socket read; a batched write arrives as one). */
  readsFromClient: number[];
  framesToBroker: number;
  framesToClient: number;
  /** Requests forwarded and not yet answered, on all open connections together (a test waiting for "nothing in flight" means every connection). */
  outstanding: number;
  /** The most requests ever outstanding on any one connection (how deep a client pipelines). */
  maxOutstanding: number;
}

/** Counts length-prefixed Rivven frames in a byte stream, across chunk boundaries. */
class FrameCounter {
  private remaining = 0;
  private header = Buffer.alloc(0);

  /** Feed a chunk; returns how many frames it completed. */
  push(chunk: Buffer): number {
    let frames = 0;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - offset);
        this.remaining -= take;
        offset += take;
        if (this.remaining === 0) frames++;
        continue;
      }
      const need = 4 - this.header.length;
      const take = Math.min(need, chunk.length - offset);
      this.header = Buffer.concat([this.header, chunk.subarray(offset, offset + take)]);
      offset += take;
      if (this.header.length === 4) {
        this.remaining = this.header.readUInt32BE(0);
        this.header = Buffer.alloc(0);
        if (this.remaining === 0) frames++;
      }
    }
    return frames;
  }
}

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  outstanding: number;
  /** Bytes still allowed through by a close-after fault. */
  budget: { direction: 'to-broker' | 'to-client'; bytes: number } | undefined;
  /** The connection-lifetime timer, when a lifetime is set. */
  lifetimeTimer?: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Every connection is ended a random time in [minMs, maxMs] after it was accepted (or after the
 * lifetime was set, for connections already open): `'close'` ends both sides with a FIN,
 * `'reset'` sends the client an RST, `'mixed'` picks one of the two at random each time.
 */
export interface ConnectionLifetime {
  minMs: number;
  maxMs: number;
  how?: 'close' | 'reset' | 'mixed';
  /** A [0, 1) generator (seed it to replay a run); default Math.random. */
  random?: () => number;
}

export class FaultProxy extends EventEmitter {
  private server: Server;
  private fault: Fault = { kind: 'pass' };
  private readonly pairs = new Set<Pair>();
  private listening = false;
  private closed = false;
  private stats_: ProxyStats = FaultProxy.zero();
  private lifetime: ConnectionLifetime | undefined;
  private killed = 0;

  private constructor(
    private readonly target: { host: string; port: number },
    private port_: number,
  ) {
    super();
    this.server = this.makeServer();
  }

  /** Start a proxy to `target` (`host:port`) on a free loopback port (or `port`). */
  static async start(target: string | { host: string; port: number }, options: { port?: number; lifetime?: ConnectionLifetime } = {}): Promise<FaultProxy> {
    const parsed = typeof target === 'string' ? { host: target.slice(0, target.lastIndexOf(':')), port: Number(target.slice(target.lastIndexOf(':') + 1)) } : target;
    const proxy = new FaultProxy(parsed, options.port ?? 0);
    if (options.lifetime !== undefined) proxy.setConnectionLifetime(options.lifetime);
    await proxy.listen();
    return proxy;
  }

  get port(): number {
    return this.port_;
  }

  get address(): string {
    return `127.0.0.1:${this.port_}`;
  }

  get currentFault(): Fault {
    return this.fault;
  }

  stats(): ProxyStats {
    return { ...this.stats_, readsFromClient: [...this.stats_.readsFromClient] };
  }

  /** Zero every counter (connections stay as they are). */
  resetStats(): void {
    const { connectionsOpen, outstanding } = this.stats_;
    this.stats_ = FaultProxy.zero();
    // What is open and in flight now stays so: resetting counts must not make the sum go negative.
    this.stats_.connectionsOpen = connectionsOpen;
    this.stats_.outstanding = outstanding;
  }

  /** Apply a fault; `pass` restores normal forwarding (and listening, after `refuse`). */
  async setFault(fault: Fault): Promise<void> {
    const previous = this.fault;
    this.fault = fault;
    switch (fault.kind) {
      case 'reset':
        for (const pair of this.pairs) this.resetPair(pair);
        break;
      case 'refuse':
        for (const pair of this.pairs) this.resetPair(pair);
        await this.unlisten();
        break;
      case 'close-after':
        for (const pair of this.pairs) pair.budget = { direction: fault.direction, bytes: fault.bytes };
        break;
      default:
        for (const pair of this.pairs) pair.budget = undefined;
    }
    if (previous.kind === 'refuse' && fault.kind !== 'refuse') await this.listen();
    this.emit('change');
  }

  latency(ms: number): Promise<void> {
    return this.setFault({ kind: 'latency', ms });
  }
  reset(): Promise<void> {
    return this.setFault({ kind: 'reset' });
  }
  blackhole(): Promise<void> {
    return this.setFault({ kind: 'blackhole' });
  }
  refuse(): Promise<void> {
    return this.setFault({ kind: 'refuse' });
  }
  closeAfter(bytes: number, direction: 'to-broker' | 'to-client' = 'to-client'): Promise<void> {
    return this.setFault({ kind: 'close-after', bytes, direction });
  }
  restore(): Promise<void> {
    return this.setFault({ kind: 'pass' });
  }

  /**
   * End every connection a random `lifetime` after it was accepted (connections already open get a
   * lifetime from now); `undefined` lets connections live again (pending kills are cancelled).
   * Independent of the fault: a connection under latency or blackhole is still ended on time.
   */
  setConnectionLifetime(lifetime: ConnectionLifetime | undefined): void {
    if (lifetime !== undefined && !(lifetime.minMs >= 0 && lifetime.maxMs >= lifetime.minMs)) {
      throw new Error(`connection lifetime needs 0 <= minMs <= maxMs, got ${lifetime.minMs}..${lifetime.maxMs}`);
    }
    this.lifetime = lifetime;
    for (const pair of this.pairs) this.armLifetime(pair);
  }

  get connectionLifetime(): ConnectionLifetime | undefined {
    return this.lifetime;
  }

  /** Connections ended by the connection lifetime so far (not reset by resetStats). */
  get connectionsKilled(): number {
    return this.killed;
  }

  /** Resolves when `predicate(stats)` holds (checked on every change), or rejects after `timeoutMs`. */
  until(predicate: (stats: ProxyStats) => boolean, timeoutMs = 10_000): Promise<ProxyStats> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const s = this.stats();
        if (!predicate(s)) return;
        cleanup();
        resolve(s);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`proxy ${this.address}: condition not met within ${timeoutMs} ms; stats ${JSON.stringify({ ...this.stats(), readsFromClient: undefined })}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('change', check);
      };
      this.on('change', check);
      check();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pair of this.pairs) {
      clearTimeout(pair.lifetimeTimer);
      pair.client.destroy();
      pair.upstream?.destroy();
    }
    this.pairs.clear();
    await this.unlisten();
  }

  // -------------------------------------------------------------------------------------------

  private static zero(): ProxyStats {
    return {
      connectionsAccepted: 0,
      connectionsOpen: 0,
      bytesToBroker: 0,
      bytesToClient: 0,
      readsFromClient: [],
      framesToBroker: 0,
      framesToClient: 0,
      outstanding: 0,
      maxOutstanding: 0,
    };
  }

  private makeServer(): Server {
    return createServer((client) => this.accept(client));
  }

  private listen(): Promise<void> {
    if (this.listening || this.closed) return Promise.resolve();
    this.server = this.makeServer();
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port_, '127.0.0.1', () => {
        this.server.off('error', reject);
        const address = this.server.address();
        if (typeof address === 'object' && address !== null) this.port_ = address.port;
        this.listening = true;
        resolve();
      });
    });
  }

  private unlisten(): Promise<void> {
    if (!this.listening) return Promise.resolve();
    this.listening = false;
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.stats_.connectionsAccepted++;
    client.on('error', () => undefined);
    client.setNoDelay(true);
    if (this.fault.kind === 'reset' || this.closed) {
      client.resetAndDestroy();
      this.emit('change');
      return;
    }
    const pair: Pair = { client, upstream: undefined, outstanding: 0, budget: undefined };
    if (this.fault.kind === 'close-after') pair.budget = { direction: this.fault.direction, bytes: this.fault.bytes };
    this.pairs.add(pair);
    this.armLifetime(pair);
    this.stats_.connectionsOpen++;
    const toBroker = new FrameCounter();
    const toClient = new FrameCounter();

    const upstream = connect({ host: this.target.host, port: this.target.port, noDelay: true });
    upstream.on('error', () => undefined);
    pair.upstream = upstream;
    // Bytes from the client wait (paused) until the upstream connection is up.
    client.pause();
    upstream.once('connect', () => client.resume());

    const forward = (chunk: Buffer, direction: 'to-broker' | 'to-client') => {
      if (this.fault.kind === 'blackhole') return; // swallowed
      let data = chunk;
      if (pair.budget !== undefined && pair.budget.direction === direction) {
        data = chunk.subarray(0, pair.budget.bytes);
        pair.budget.bytes -= data.length;
      }
      const deliver = () => {
        const target = direction === 'to-broker' ? upstream : client;
        if (data.length > 0 && !target.destroyed) {
          target.write(data);
          if (direction === 'to-broker') {
            this.stats_.bytesToBroker += data.length;
            const frames = toBroker.push(data);
            this.stats_.framesToBroker += frames;
            pair.outstanding += frames;
            this.stats_.outstanding += frames;
            if (pair.outstanding > this.stats_.maxOutstanding) this.stats_.maxOutstanding = pair.outstanding;
          } else {
            this.stats_.bytesToClient += data.length;
            const frames = toClient.push(data);
            this.stats_.framesToClient += frames;
            pair.outstanding -= frames;
            this.stats_.outstanding -= frames;
          }
        }
        if (pair.budget !== undefined && pair.budget.direction === direction && pair.budget.bytes <= 0) {
          client.destroy();
          upstream.destroy();
        }
        this.emit('change');
      };
      if (this.fault.kind === 'latency') setTimeout(deliver, this.fault.ms);
      else deliver();
    };

    client.on('data', (chunk: Buffer) => {
      this.stats_.readsFromClient.push(chunk.length);
      forward(chunk, 'to-broker');
    });
    upstream.on('data', (chunk: Buffer) => forward(chunk, 'to-client'));
    const end = () => {
      if (!this.pairs.delete(pair)) return;
      clearTimeout(pair.lifetimeTimer);
      this.stats_.connectionsOpen--;
      // Its unanswered requests will never be answered here: no longer outstanding at the broker.
      this.stats_.outstanding -= pair.outstanding;
      pair.outstanding = 0;
      client.destroy();
      upstream.destroy();
      this.emit('change');
    };
    client.on('close', end);
    upstream.on('close', end);
    this.emit('change');
  }

  private resetPair(pair: Pair): void {
    if (!pair.client.destroyed) pair.client.resetAndDestroy();
    pair.upstream?.destroy();
  }

  private armLifetime(pair: Pair): void {
    clearTimeout(pair.lifetimeTimer);
    pair.lifetimeTimer = undefined;
    const lifetime = this.lifetime;
    if (lifetime === undefined) return;
    const random = lifetime.random ?? Math.random;
    const ms = lifetime.minMs + random() * (lifetime.maxMs - lifetime.minMs);
    pair.lifetimeTimer = setTimeout(() => {
      pair.lifetimeTimer = undefined;
      if (!this.pairs.has(pair)) return;
      this.killed++;
      const how = lifetime.how ?? 'mixed';
      const reset = how === 'reset' || (how === 'mixed' && random() < 0.5);
      if (reset) this.resetPair(pair);
      else {
        pair.client.destroy();
        pair.upstream?.destroy();
      }
    }, ms);
    pair.lifetimeTimer.unref?.();
  }
}
