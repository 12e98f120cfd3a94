/**
 * A broker stand-in for virtual-time (TestScheduler) tests of pools, breakers and failover: it
 * hands out connections that answer after `replyDelay` scheduler-ms, and takes the same faults
 * as the TCP proxy — refuse and reset (connects fail, open connections break), blackhole
 * (connects and replies never come; the caller's timeouts fire). It counts connect attempts and
 * records every request with its virtual arrival time.
 */
import { BehaviorSubject, Observable, Subject, throwError, timeout, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import type { ConnectionFactory, PoolableConnection } from '../../src/client/resilient-config';
import { ConnectionError, RivvenTimeoutError } from '../../src/errors';
import type { RequestInput } from '../../src/protocol/request-schema';
import type { Response } from '../../src/protocol/response-schema';
import type { ConnectionOptions, ConnectionState, RequestOptions } from '../../src/transport/connection-types';

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
        with: () => throwError(() => new RivvenTimeoutError(`no reply to ${request.type} within ${timeoutMs} ms`)),
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
          subscriber.error(new RivvenTimeoutError(`could not connect to ${this.address} within ${connectTimeout} ms`));
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
