/**
 * A bounded pool of pipelined connections to one server: the ResilientClient's connections (one
 * pool per server, held by resilient-server.ts). Its connections are interchangeable — any request
 * may go on any of them — which is what sets it apart from pinned-lanes.ts, where each connection
 * belongs to one kind of work (a partition group, the coordinator, a fetch lane) and keeps its
 * order. Which server is tried is server-rotation.ts's rule, not the pool's.
 *
 * - Lazy: nothing opens until a request needs it; a request takes an idle connection, else opens a
 *   new one while the pool is below `maxSize`, else shares the least-loaded open connection (every
 *   connection pipelines, so sharing never blocks). Long polls and group joins ("heavy" requests,
 *   which the broker holds) count as very loaded, so other requests avoid their connection.
 * - Recycled: a connection is retired `maxLifetimeMs` after it opened; it takes no new requests, its
 *   in-flight requests finish, then it closes. Idle connections close after `idleTimeoutMs`.
 * - Self-healing: a connection that breaks is dropped at once; the next request opens a new one.
 *
 * Every timer runs on the given scheduler, so lifetimes and idle eviction run in virtual time.
 * `events$` reports what happened once per connection (a connect failure or a broken connection
 * is one event however many requests it failed), which is what the circuit breaker counts.
 */
import { Observable, Subject, type SchedulerLike, type Subscription } from 'rxjs';
import { ConnectionError, type RivvenError } from '../errors.js';
import { formatAddress, type BrokerAddress } from '../broker-address.js';
import type { PoolableConnection } from './resilient-config.js';
import { releaseThenForward } from './release-then-forward.js';

export interface ConnectionPoolOptions {
  address: BrokerAddress;
  /** Most connections (open or opening), ≥ 1. */
  maxSize: number;
  /** Retire a connection this long after it opened. */
  maxLifetimeMs: number;
  /** Close a connection idle this long (0 = never). */
  idleTimeoutMs: number;
  scheduler: SchedulerLike;
  /** Opens one ready connection. */
  connect: () => Observable<PoolableConnection>;
}

export type PoolEvent =
  | { type: 'opened'; connectionId: number }
  | { type: 'connect-failed'; connectionId: number; error: unknown }
  | { type: 'broken'; connectionId: number; error: RivvenError }
  | { type: 'retired'; connectionId: number; reason: 'lifetime' }
  | { type: 'closed'; connectionId: number; reason: 'retired' | 'idle' | 'pool-closed' }
  | { type: 'usage' };

/** One server's connection pool, as health reports it. */
export interface PoolSnapshot {
  /** Connections open or opening. */
  size: number;
  /** Connections being opened. */
  connecting: number;
  /** Open, taking requests, none in flight. */
  idle: number;
  /** Open (or retiring) with requests in flight. */
  busy: number;
  /** Past their lifetime, finishing their in-flight requests. */
  retiring: number;
  /** Requests in flight on this pool's connections. */
  inFlight: number;
  /** Connections opened since the pool started. */
  opened: number;
  /** Connections retired at the end of their lifetime since the pool started. */
  recycled: number;
  /** Connections that broke since the pool started. */
  broken: number;
}

export interface UseOptions {
  /** The broker will hold this request (long poll, group join): keep it off shared connections. */
  heavy?: boolean;
}

type EntryState = 'connecting' | 'open' | 'retiring' | 'closed';

/**
 * A request waiting for the connection it was given to finish opening. Not a limit on requests in
 * flight: a full pool never queues, it shares its least-loaded connection (pipelining). Waiting
 * here is what bounds the connections per server while they open: requests that arrive while a
 * full pool is still connecting join an opening connection instead of opening more.
 */
interface Waiter {
  start(entry: Entry): void;
  fail(error: unknown): void;
}

interface Entry {
  readonly id: number;
  state: EntryState;
  connection: PoolableConnection | undefined;
  leases: number;
  heavy: number;
  waiters: Waiter[];
  connectSubscription: Subscription | undefined;
  stateSubscription: Subscription | undefined;
  lifetimeTimer: Subscription | undefined;
  idleTimer: Subscription | undefined;
}

/** How much a heavy lease weighs against plain ones when choosing a connection to share. */
const HEAVY_WEIGHT = 1_000_000;

export class ConnectionPool {
  private readonly entries = new Set<Entry>();
  private readonly eventsSubject = new Subject<PoolEvent>();
  private readonly closing = new Set<Promise<void>>();
  private nextId = 1;
  private closed = false;
  private closePromise: Promise<void> | undefined;
  private readonly totals = { opened: 0, recycled: 0, broken: 0 };

  /** Connection lifecycle and usage changes. Completes when the pool is closed. */
  readonly events$: Observable<PoolEvent> = this.eventsSubject.asObservable();

  constructor(private readonly options: ConnectionPoolOptions) {}

  get address(): BrokerAddress {
    return this.options.address;
  }

  snapshot(): PoolSnapshot {
    let connecting = 0;
    let idle = 0;
    let busy = 0;
    let retiring = 0;
    let inFlight = 0;
    for (const entry of this.entries) {
      inFlight += entry.leases;
      if (entry.state === 'connecting') connecting++;
      else if (entry.state === 'retiring') retiring++;
      if (entry.state === 'open' && entry.leases === 0) idle++;
      if ((entry.state === 'open' || entry.state === 'retiring') && entry.leases > 0) busy++;
    }
    return { size: this.entries.size, connecting, idle, busy, retiring, inFlight, ...this.totals };
  }

  /**
   * Run `work` on a pooled connection: waits for one if needed, holds it while `work`'s Observable
   * runs, gives it back when that completes, errors or is unsubscribed. Errors from opening the
   * connection arrive before `work` is called.
   */
  use$<T>(work: (connection: PoolableConnection) => Observable<T>, options: UseOptions = {}): Observable<T> {
    const heavy = options.heavy === true;
    return new Observable<T>((subscriber) => {
      if (this.closed) {
        subscriber.error(new ConnectionError(`the connection pool for ${formatAddress(this.options.address)} is closed`));
        return;
      }
      let leased: Entry | undefined;
      let waitingOn: Entry | undefined;
      let inner: Subscription | undefined;
      let done = false;

      const release = () => {
        if (leased === undefined) return;
        const entry = leased;
        leased = undefined;
        this.release(entry, heavy);
      };
      const waiter: Waiter = {
        start: (entry) => {
          waitingOn = undefined;
          if (done) return;
          leased = entry;
          this.lease(entry, heavy);
          let source: Observable<T>;
          try {
            source = work(entry.connection!);
          } catch (error) {
            release();
            subscriber.error(error);
            return;
          }
          inner = releaseThenForward(source, subscriber, release);
        },
        fail: (error) => {
          waitingOn = undefined;
          if (!done) subscriber.error(error);
        },
      };

      const entry = this.choose(heavy);
      if (entry.state === 'open') waiter.start(entry);
      else {
        waitingOn = entry;
        entry.waiters.push(waiter);
      }

      return () => {
        done = true;
        if (waitingOn !== undefined) {
          waitingOn.waiters = waitingOn.waiters.filter((w) => w !== waiter);
          waitingOn = undefined;
        }
        inner?.unsubscribe();
        release();
      };
    });
  }

  /** Close every connection (in-flight requests get the connection's close grace), fail waiters. */
  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.closed = true;
    const error = new ConnectionError(`the client closed; no connection to ${formatAddress(this.options.address)} will be opened`);
    for (const entry of [...this.entries]) {
      if (entry.state === 'connecting') {
        entry.connectSubscription?.unsubscribe();
        this.drop(entry);
        for (const waiter of entry.waiters.splice(0)) waiter.fail(error);
      } else {
        this.closeEntry(entry, 'pool-closed');
      }
    }
    this.closePromise = Promise.all([...this.closing]).then(() => {
      this.eventsSubject.complete();
    });
    return this.closePromise;
  }

  // -------------------------------------------------------------------------------------------

  /** The connection a new request should use (possibly still connecting). */
  private choose(heavy: boolean): Entry {
    let live = 0;
    let best: Entry | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    let opening: Entry | undefined;
    for (const entry of this.entries) {
      if (entry.state === 'open') {
        live++;
        const load = entry.leases + entry.heavy * HEAVY_WEIGHT;
        if (load === 0) return entry;
        if (load < bestLoad) {
          best = entry;
          bestLoad = load;
        }
      } else if (entry.state === 'connecting') {
        live++;
        if (opening === undefined || entry.waiters.length < opening.waiters.length) opening = entry;
      }
    }
    // A heavy request would hold up everything pipelined behind it: give it its own connection
    // when the pool has room, and let plain requests grow the pool only when all are busy.
    if (live < this.options.maxSize) return this.open();
    if (heavy && opening !== undefined) return opening;
    return best ?? opening ?? this.open();
  }

  private open(): Entry {
    const entry: Entry = {
      id: this.nextId++,
      state: 'connecting',
      connection: undefined,
      leases: 0,
      heavy: 0,
      waiters: [],
      connectSubscription: undefined,
      stateSubscription: undefined,
      lifetimeTimer: undefined,
      idleTimer: undefined,
    };
    this.entries.add(entry);
    let source: Observable<PoolableConnection>;
    try {
      source = this.options.connect();
    } catch (error) {
      // A factory that throws instead of erroring: the same as a failed connect, reported later so
      // the request that triggered it can still wait on the entry like any other.
      this.options.scheduler.schedule(() => this.connectFailed(entry, error));
      return entry;
    }
    const subscription = source.subscribe({
      next: (connection) => this.opened(entry, connection),
      error: (error) => this.connectFailed(entry, error),
    });
    if (entry.state === 'connecting') entry.connectSubscription = subscription;
    return entry;
  }

  private opened(entry: Entry, connection: PoolableConnection): void {
    if (entry.state !== 'connecting') {
      void connection.close();
      return;
    }
    entry.connection = connection;
    entry.state = 'open';
    entry.connectSubscription = undefined;
    this.totals.opened++;
    entry.lifetimeTimer = this.options.scheduler.schedule(() => {
      entry.lifetimeTimer = undefined;
      this.retire(entry);
    }, this.options.maxLifetimeMs);
    entry.stateSubscription = connection.state$.subscribe((state) => {
      if ((state === 'failed' || state === 'closed') && entry.state !== 'closed') this.broke(entry, connection);
    });
    if (entry.state !== 'open') return; // broke while subscribing (already failed)
    this.emit({ type: 'opened', connectionId: entry.id });
    for (const waiter of entry.waiters.splice(0)) waiter.start(entry);
    if (entry.state === 'open' && entry.leases === 0) this.armIdleTimer(entry);
  }

  private connectFailed(entry: Entry, error: unknown): void {
    if (entry.state !== 'connecting') return;
    entry.connectSubscription = undefined;
    this.drop(entry);
    this.emit({ type: 'connect-failed', connectionId: entry.id, error });
    for (const waiter of entry.waiters.splice(0)) waiter.fail(error);
  }

  private broke(entry: Entry, connection: PoolableConnection): void {
    this.drop(entry);
    this.totals.broken++;
    const last = (connection as { stats?: () => { lastError?: { message: string } } }).stats?.().lastError;
    const error = new ConnectionError(
      `connection to ${formatAddress(this.options.address)} broke${last ? `: ${last.message}` : ''}; it will be replaced on the next request`,
    );
    this.emit({ type: 'broken', connectionId: entry.id, error });
    for (const waiter of entry.waiters.splice(0)) waiter.fail(error);
  }

  private retire(entry: Entry): void {
    if (entry.state !== 'open') return;
    entry.state = 'retiring';
    this.cancelIdleTimer(entry);
    this.totals.recycled++;
    this.emit({ type: 'retired', connectionId: entry.id, reason: 'lifetime' });
    if (entry.leases === 0) this.closeEntry(entry, 'retired');
  }

  private lease(entry: Entry, heavy: boolean): void {
    entry.leases++;
    if (heavy) entry.heavy++;
    this.cancelIdleTimer(entry);
    this.emit({ type: 'usage' });
  }

  private release(entry: Entry, heavy: boolean): void {
    entry.leases--;
    if (heavy) entry.heavy--;
    if (entry.leases === 0) {
      if (entry.state === 'retiring') this.closeEntry(entry, 'retired');
      else if (entry.state === 'open') this.armIdleTimer(entry);
    }
    this.emit({ type: 'usage' });
  }

  private armIdleTimer(entry: Entry): void {
    this.cancelIdleTimer(entry);
    if (this.options.idleTimeoutMs <= 0 || this.closed) return;
    entry.idleTimer = this.options.scheduler.schedule(() => {
      entry.idleTimer = undefined;
      if (entry.state === 'open' && entry.leases === 0) this.closeEntry(entry, 'idle');
    }, this.options.idleTimeoutMs);
  }

  private cancelIdleTimer(entry: Entry): void {
    entry.idleTimer?.unsubscribe();
    entry.idleTimer = undefined;
  }

  /** Forget an entry: no timers, no state watching. Its connection (if any) is not touched. */
  private drop(entry: Entry): void {
    entry.state = 'closed';
    this.entries.delete(entry);
    entry.lifetimeTimer?.unsubscribe();
    entry.lifetimeTimer = undefined;
    this.cancelIdleTimer(entry);
    entry.stateSubscription?.unsubscribe();
    entry.stateSubscription = undefined;
  }

  private closeEntry(entry: Entry, reason: 'retired' | 'idle' | 'pool-closed'): void {
    const connection = entry.connection;
    this.drop(entry);
    if (connection !== undefined) {
      const closing = connection.close().catch(() => undefined);
      this.closing.add(closing);
      void closing.then(() => this.closing.delete(closing));
    }
    this.emit({ type: 'closed', connectionId: entry.id, reason });
  }

  private emit(event: PoolEvent): void {
    if (!this.eventsSubject.closed) this.eventsSubject.next(event);
  }
}
