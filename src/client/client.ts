/**
 * `Client`: every broker operation as a cold Observable of a typed result, over one pipelined
 * connection. Broker `Error` replies become typed errors (ServerError with the broker's code and
 * retriability); `Throttled` becomes ThrottledError carrying the wait.
 */
import { BehaviorSubject, Observable, Subscription, asyncScheduler, map, throttleTime, type SchedulerLike } from 'rxjs';
import { ConfigError } from '../errors.js';
import type { RequestInput } from '../protocol/request-schema.js';
import type { Response } from '../protocol/response-schema.js';
import type { BrokerAddress } from '../transport/address.js';
import { validateAddress, validateConnectionOptions } from '../transport/connection-options.js';
import { Connection, type ConnectionOptions, type ConnectionState, type ConnectionStats, type RequestOptions } from '../transport/connection.js';
import type { SchemaType } from './client-types.js';
import { BrokerOperations } from './operations.js';
import { registerSchema$, type SchemaRegistryOptions } from './schema-registry.js';
import { MAX_TIMER_MS } from '../settings-validation.js';
export { errorFromResponse } from './response-errors.js';

export interface ClientOptions extends ConnectionOptions {
  /** health$ emits on change, at most once per this interval. Default 1,000 ms. */
  healthIntervalMs?: number;
}

export interface ClientHealth extends ConnectionStats {
  address: string;
  clientId: string;
}

/** One connection's worth of typed operations (see BrokerOperations for the full list). */
export class Client extends BrokerOperations {
  private readonly healthSubject: BehaviorSubject<ClientHealth>;
  private readonly healthSubscription: Subscription;

  /** Live stats of this client's connection: emitted on change, at most every `healthIntervalMs`. */
  readonly health$: Observable<ClientHealth>;
  readonly state$: Observable<ConnectionState>;

  private constructor(
    private readonly connection: Connection,
    private readonly clientId: string,
    healthIntervalMs: number,
    scheduler: SchedulerLike,
  ) {
    super();
    this.state$ = connection.state$;
    this.healthSubject = new BehaviorSubject(this.snapshot());
    this.health$ = this.healthSubject.asObservable();
    this.healthSubscription = connection.statsChanged$
      .pipe(throttleTime(healthIntervalMs, scheduler, { leading: true, trailing: true }))
      .subscribe(() => this.healthSubject.next(this.snapshot()));
  }

  /**
   * Connect (TCP + Handshake) and emit a ready Client. Cold: nothing happens until subscription.
   * A bad address or option is a ConfigError at subscription, before any socket or timer exists.
   */
  static connect$(address: string | BrokerAddress, options: ClientOptions = {}): Observable<Client> {
    return new Observable<Client>((subscriber) => {
      let healthIntervalMs: number;
      let connectionOptions: ConnectionOptions;
      try {
        validateAddress(address);
        validateConnectionOptions(options, 'Client', ['healthIntervalMs']);
        const { healthIntervalMs: interval, ...rest } = options;
        healthIntervalMs = interval ?? 1_000;
        if (typeof healthIntervalMs !== 'number' || !(healthIntervalMs >= 0) || healthIntervalMs > MAX_TIMER_MS) {
          throw new ConfigError('healthIntervalMs', `expected milliseconds ≥ 0, got ${String(healthIntervalMs)}`);
        }
        connectionOptions = rest;
      } catch (error) {
        subscriber.error(error);
        return;
      }
      const scheduler = options.scheduler ?? asyncScheduler;
      return Connection.connect$(address, connectionOptions)
        .pipe(map((connection) => new Client(connection, options.clientId ?? 'rivven-rx', healthIntervalMs, scheduler)))
        .subscribe(subscriber);
    });
  }

  get address(): BrokerAddress {
    return this.connection.address;
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** Current stats (the latest value of health$ may be up to one interval older). */
  health(): ClientHealth {
    return this.snapshot();
  }

  /** Finish or fail what is in flight and close the connection. */
  async close(): Promise<void> {
    await this.connection.close();
    this.healthSubscription.unsubscribe();
    this.healthSubject.next(this.snapshot());
    this.healthSubject.complete();
  }

  /** Any protocol request, raw reply (escape hatch; prefer the typed operations). */
  request$(request: RequestInput, options?: RequestOptions): Observable<Response> {
    return this.connection.request$(request, options);
  }

  protected send$(request: RequestInput, options?: RequestOptions): Observable<Response> {
    return this.connection.request$(request, options);
  }

  // ---- schema registry ------------------------------------------------------------------------

  /** Register a schema under `subject` in a Confluent-compatible registry; emits its id. */
  registerSchema$(registryUrl: string, subject: string, schemaType: SchemaType, schema: string, options?: SchemaRegistryOptions): Observable<number> {
    return registerSchema$(registryUrl, subject, schemaType, schema, options);
  }

  // ---- internals ------------------------------------------------------------------------------

  private snapshot(): ClientHealth {
    return { address: `${this.connection.address.host}:${this.connection.address.port}`, clientId: this.clientId, ...this.connection.stats() };
  }
}
