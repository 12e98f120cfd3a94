/**
 * A fault-injecting TCP proxy for tests: sits on a loopback port in front of a real broker and
 * forwards bytes both ways — or, on command, delays them, resets connections, swallows them
 * (blackhole), refuses connections, or closes a connection after N bytes.
 *
 * Orthogonal to the fault, a connection lifetime (`setConnectionLifetime`) ends every connection a
 * random time after it was accepted (franz-go's chaos dialer); `ChaosProxy` (below) combines that
 * with random latency / reset / blackhole episodes for chaos runs.
 *
 * It also watches the traffic: connection attempts (every accepted TCP connection), bytes and
 * socket reads each way (bytes per read shows write batching), and Rivven frames each way, so a
 * test can see how many requests are outstanding at the broker at any moment.
 */
import { EventEmitter } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { BehaviorSubject, Observable, Subject, throwError, timeout, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import type { ConnectionFactory, PoolableConnection } from '../../src/client/resilient-config';
import { ConnectionError, TimeoutError } from '../../src/errors';
import type { RequestInput } from '../../src/protocol/request-schema';
import type { Response } from '../../src/protocol/response-schema';
import type { ConnectionOptions, ConnectionState, RequestOptions } from '../../src/transport/connection-types';

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
  /** Requests forwarded and not yet answered, now and at most, on any one connection. */
  outstanding: number;
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
    const open = this.stats_.connectionsOpen;
    this.stats_ = FaultProxy.zero();
    this.stats_.connectionsOpen = open;
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
            this.stats_.outstanding = pair.outstanding;
            if (pair.outstanding > this.stats_.maxOutstanding) this.stats_.maxOutstanding = pair.outstanding;
          } else {
            this.stats_.bytesToClient += data.length;
            const frames = toClient.push(data);
            this.stats_.framesToClient += frames;
            pair.outstanding -= frames;
            this.stats_.outstanding = pair.outstanding;
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

// ---------------------------------------------------------------------------------------------
// Chaos: connection lifetimes plus random fault episodes
// ---------------------------------------------------------------------------------------------

/** One kind of episode a ChaosProxy may inject, with how long it lasts. */
export type ChaosEpisode =
  /** Every chunk delayed by `ms` for `durationMs`. */
  | { kind: 'latency'; ms: number; durationMs: number }
  /** RST every open connection (new ones are accepted again at once). */
  | { kind: 'reset' }
  /** Nothing forwarded either way for `durationMs` (connections stay open, replies never come). */
  | { kind: 'blackhole'; durationMs: number };

export interface ChaosProxyOptions {
  /** Fixed listening port (default: a free one). */
  port?: number;
  /** Every connection ends after a random lifetime in this range (ms). Default 1,000–4,000; `false`: never. */
  lifetime?: { minMs: number; maxMs: number; how?: 'close' | 'reset' | 'mixed' } | false;
  /** Episodes picked at random, one every `everyMs` (a random time in the range). Default: none. */
  episodes?: { everyMs: { minMs: number; maxMs: number }; choices: readonly ChaosEpisode[] };
  /** A [0, 1) generator, for replayable runs. Default Math.random. */
  random?: () => number;
}

export interface ChaosStats extends ProxyStats {
  /** Connections ended by their lifetime. */
  connectionsKilled: number;
  /** Episodes started, by kind. */
  episodes: Record<ChaosEpisode['kind'], number>;
}

/**
 * A FaultProxy in chaos mode (franz-go's `KGO_TEST_CHAOS` dialer, plus episodes): every
 * connection is ended after a random short lifetime, and, if asked, random latency, reset and
 * blackhole episodes come and go. `pause()` stops both (connections live again, the fault is
 * `pass`), `resume()` starts them again. The underlying `proxy` is reachable for one-off faults.
 */
export class ChaosProxy {
  private episodeTimer: ReturnType<typeof setTimeout> | undefined;
  private endTimer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private readonly random: () => number;
  private readonly counts: Record<ChaosEpisode['kind'], number> = { latency: 0, reset: 0, blackhole: 0 };

  private constructor(
    readonly proxy: FaultProxy,
    private readonly options: ChaosProxyOptions,
  ) {
    this.random = options.random ?? Math.random;
  }

  static async start(target: string | { host: string; port: number }, options: ChaosProxyOptions = {}): Promise<ChaosProxy> {
    const proxy = await FaultProxy.start(target, options.port === undefined ? {} : { port: options.port });
    const chaos = new ChaosProxy(proxy, options);
    chaos.resume();
    return chaos;
  }

  get address(): string {
    return this.proxy.address;
  }

  get port(): number {
    return this.proxy.port;
  }

  get active(): boolean {
    return this.running;
  }

  stats(): ChaosStats {
    return { ...this.proxy.stats(), connectionsKilled: this.proxy.connectionsKilled, episodes: { ...this.counts } };
  }

  /** Start (again) ending connections and injecting episodes. */
  resume(): void {
    if (this.running) return;
    this.running = true;
    const lifetime = this.options.lifetime ?? { minMs: 1_000, maxMs: 4_000 };
    if (lifetime !== false) this.proxy.setConnectionLifetime({ ...lifetime, random: this.random });
    this.scheduleEpisode();
  }

  /** Stop the chaos: connections live, the current episode ends now. */
  async pause(): Promise<void> {
    this.running = false;
    clearTimeout(this.episodeTimer);
    clearTimeout(this.endTimer);
    this.proxy.setConnectionLifetime(undefined);
    if (this.proxy.currentFault.kind !== 'pass') await this.proxy.restore();
  }

  async close(): Promise<void> {
    await this.pause();
    await this.proxy.close();
  }

  private scheduleEpisode(): void {
    const episodes = this.options.episodes;
    if (!this.running || episodes === undefined || episodes.choices.length === 0) return;
    const wait = episodes.everyMs.minMs + this.random() * (episodes.everyMs.maxMs - episodes.everyMs.minMs);
    this.episodeTimer = setTimeout(() => void this.runEpisode(episodes.choices[Math.floor(this.random() * episodes.choices.length)]!), wait);
    this.episodeTimer.unref?.();
  }

  private async runEpisode(episode: ChaosEpisode): Promise<void> {
    if (!this.running) return;
    this.counts[episode.kind]++;
    if (episode.kind === 'reset') {
      await this.proxy.reset();
      await this.proxy.restore();
      this.scheduleEpisode();
      return;
    }
    await (episode.kind === 'latency' ? this.proxy.latency(episode.ms) : this.proxy.blackhole());
    this.endTimer = setTimeout(() => {
      if (!this.running) return;
      void this.proxy.restore().then(() => this.scheduleEpisode());
    }, episode.durationMs);
    this.endTimer.unref?.();
  }
}

// ---------------------------------------------------------------------------------------------
// The same faults in virtual time
// ---------------------------------------------------------------------------------------------

/**
 * A broker stand-in for virtual-time (TestScheduler) tests of pools, breakers and failover: it
 * hands out connections that answer after `replyDelay` scheduler-ms, and takes the same faults
 * as the TCP proxy — refuse and reset (connects fail, open connections break), blackhole
 * (connects and replies never come; the caller's timeouts fire). It counts connect attempts and
 * records every request with its virtual arrival time.
 */
export type VirtualFault = 'pass' | 'refuse' | 'reset' | 'blackhole';

export interface VirtualRequest {
  at: number;
  type: string;
  connection: number;
  request: RequestInput;
}

export class VirtualConnection implements PoolableConnection {
  private readonly stateSubject = new BehaviorSubject<ConnectionState>('ready');
  private readonly pending = new Set<Subscriber<Response>>();
  private drained: (() => void)[] = [];
  readonly state$: Observable<ConnectionState> = this.stateSubject.asObservable();
  closedAt: number | undefined;

  constructor(
    readonly id: number,
    private readonly broker: VirtualBroker,
    private readonly options: ConnectionOptions,
  ) {}

  get state(): ConnectionState {
    return this.stateSubject.value;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  request$(request: RequestInput, options: RequestOptions = {}): Observable<Response> {
    const exchange = new Observable<Response>((subscriber) => {
      if (this.state !== 'ready') {
        subscriber.error(new ConnectionError(`virtual connection ${this.id} is ${this.state}`));
        return;
      }
      this.pending.add(subscriber);
      this.broker.received(request, this);
      let reply: Subscription | undefined;
      if (this.broker.fault !== 'blackhole') {
        const delay = this.broker.replyDelayFor(request);
        reply = this.broker.scheduler.schedule(() => {
          if (!this.pending.delete(subscriber)) return;
          const response = this.broker.respond(request);
          subscriber.next(response);
          subscriber.complete();
          this.settle();
        }, delay);
      }
      return () => {
        reply?.unsubscribe();
        if (this.pending.delete(subscriber)) this.settle();
      };
    });
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs ?? 30_000;
    if (timeoutMs <= 0) return exchange;
    return exchange.pipe(
      timeout({
        first: timeoutMs,
        scheduler: this.broker.scheduler,
        with: () => throwError(() => new TimeoutError(`no reply to ${request.type} within ${timeoutMs} ms`)),
      }),
    );
  }

  /** The broker side went away: every pending request fails, the state becomes `failed`. */
  break(): void {
    if (this.state !== 'ready' && this.state !== 'closing') return;
    const error = new ConnectionError(`virtual connection ${this.id} was reset`);
    this.stateSubject.next('failed');
    for (const subscriber of [...this.pending]) subscriber.error(error);
    this.pending.clear();
    this.settle();
  }

  close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'failed') return Promise.resolve();
    this.stateSubject.next('closing');
    return new Promise((resolve) => {
      this.drained.push(() => {
        this.closedAt = this.broker.scheduler.now();
        this.stateSubject.next('closed');
        resolve();
      });
      this.settle();
    });
  }

  private settle(): void {
    if (this.pending.size > 0 || this.state === 'ready') return;
    const waiters = this.drained;
    this.drained = [];
    for (const waiter of waiters) waiter();
  }
}

/** A plausible success reply for the requests the virtual-time tests send. */
export function defaultReply(request: RequestInput): Response {
  switch (request.type) {
    case 'Ping':
      return { type: 'Pong' };
    case 'ListTopics':
      return { type: 'Topics', topics: [] };
    case 'GetMetadata':
      return { type: 'Metadata', name: request.topic, partitions: 1 };
    case 'Publish':
      return { type: 'Published', offset: 0n, partition: request.partition ?? 0 };
    case 'Consume':
      return { type: 'Messages', messages: [] };
    default:
      return { type: 'Ok' };
  }
}

export class VirtualBroker {
  fault: VirtualFault = 'pass';
  connectAttempts = 0;
  /** Virtual time of every connect attempt. */
  readonly connectTimes: number[] = [];
  /** Every request as it arrives. */
  readonly received$ = new Subject<VirtualRequest>();
  readonly connections: VirtualConnection[] = [];
  readonly requests: VirtualRequest[] = [];
  /** How requests are answered. Default: a plausible success for each request type. */
  handler: (request: RequestInput) => Response = defaultReply;
  replyDelay: number | ((request: RequestInput) => number);
  connectDelay: number;

  constructor(
    readonly scheduler: SchedulerLike,
    readonly address: string,
    options: { replyDelay?: number | ((request: RequestInput) => number); connectDelay?: number } = {},
  ) {
    this.replyDelay = options.replyDelay ?? 1;
    this.connectDelay = options.connectDelay ?? 1;
  }

  /** Apply a fault now: reset/refuse break every open connection; blackhole silences them. */
  setFault(fault: VirtualFault): void {
    this.fault = fault;
    if (fault === 'reset' || fault === 'refuse') for (const c of this.connections) c.break();
  }

  /** Requests of a type (or all), with their virtual arrival times. */
  requestsOf(type?: string): VirtualRequest[] {
    return type === undefined ? this.requests : this.requests.filter((r) => r.type === type);
  }

  connect$(options: ConnectionOptions): Observable<PoolableConnection> {
    return new Observable<PoolableConnection>((subscriber) => {
      this.connectAttempts++;
      this.connectTimes.push(this.scheduler.now());
      const fault = this.fault;
      const connectTimeout = options.connectionTimeoutMs ?? 10_000;
      const delay = fault === 'blackhole' ? connectTimeout : this.connectDelay;
      return this.scheduler.schedule(() => {
        if (fault === 'blackhole') {
          subscriber.error(new TimeoutError(`could not connect to ${this.address} within ${connectTimeout} ms`));
        } else if (fault === 'refuse' || fault === 'reset') {
          subscriber.error(new ConnectionError(`connection to ${this.address} failed: ${fault === 'refuse' ? 'ECONNREFUSED' : 'ECONNRESET'}`));
        } else {
          const connection = new VirtualConnection(this.connections.length + 1, this, options);
          this.connections.push(connection);
          subscriber.next(connection);
          subscriber.complete();
        }
      }, delay);
    });
  }

  /** @internal */
  received(request: RequestInput, connection: VirtualConnection): void {
    const entry = { at: this.scheduler.now(), type: request.type, connection: connection.id, request };
    this.requests.push(entry);
    this.received$.next(entry);
  }

  /** @internal */
  replyDelayFor(request: RequestInput): number {
    return typeof this.replyDelay === 'function' ? this.replyDelay(request) : this.replyDelay;
  }

  /** @internal */
  respond(request: RequestInput): Response {
    return this.handler(request);
  }
}

/** A connection factory serving `host:port` from the given virtual brokers. */
export function virtualFactory(brokers: readonly VirtualBroker[]): ConnectionFactory {
  return (address, options) => {
    const key = `${address.host}:${address.port}`;
    const broker = brokers.find((b) => b.address === key);
    if (broker === undefined) return throwError(() => new ConnectionError(`no virtual broker at ${key}`));
    return broker.connect$(options);
  };
}
