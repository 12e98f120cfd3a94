/**
 * `Client`: every broker operation as a cold Observable of a typed result, over one pipelined
 * connection. Broker `Error` replies become typed errors (ServerError with the broker's code and
 * retriability); `Throttled` becomes ThrottledError carrying the wait.
 */
import { BehaviorSubject, Observable, type Subscription, asyncScheduler, catchError, finalize, map, throttleTime, throwError, type SchedulerLike } from 'rxjs';
import { resolveConnectionSettings, type ConnectionSettings, type ResolvedConnectionSettings, type ResolvedRetryPolicy } from '../connection-settings.js';
import { AllServersUnavailableError, ConfigError, RivvenError } from '../errors.js';
import type { RequestInput } from '../protocol/request-schema.js';
import type { Response } from '../protocol/response-schema.js';
import { formatAddress, type BrokerAddress } from '../broker-address.js';
import { CONNECTION_KNOB_KEYS, connectionKnobsOf, connectionOptionsOf, validateAddress, type ConnectionKnobs } from '../transport/connection-options.js';
import { Connection } from '../transport/connection.js';
import type { ConnectionOptions, ConnectionState, ConnectionStats, RequestOptions } from '../transport/connection-types.js';
import { durationMs, optionsObject } from '../settings-validation.js';
import { Retrier } from './retrier.js';
import type { SchemaType } from './client-types.js';
import { BrokerOperations } from './broker-operations.js';
import { registerSchema$, type SchemaRegistryOptions } from './schema-registry.js';
import { ServerRotation, connectToAny } from './server-rotation.js';
import { RETRY_DEFAULTS } from './retrier.js';

/**
 * One connect$ is one round over the servers; more rounds (with backoff between them) only when
 * `retry.maxAttempts` asks for them, so a dead cluster is reported at once by default.
 */
const CLIENT_RETRY = RETRY_DEFAULTS.Client;

/**
 * What `Client.connect$` takes: the shared settings (`bootstrapServers`, `clientId`, `tls`, `auth`,
 * `connectionTimeoutMs`, `requestTimeoutMs`, …), the Connection's knobs (`closeTimeoutMs`,
 * `quickAck`, `responseLimits`, …), and `healthIntervalMs`. `retry.maxAttempts` is how many rounds
 * over the servers `connect$` makes (default 1: each server once), waiting the policy's backoff
 * between rounds.
 */
export interface ClientConfig extends ConnectionSettings, ConnectionKnobs {
  /** health$ emits on change, at most once per this interval. Default 1,000 ms. */
  healthIntervalMs?: number;
}

/** What the deprecated `Client.connect$(address, options)` takes: ClientConfig without the server list. */
export type ClientConnectionOptions = Omit<ClientConfig, 'bootstrapServers'>;

/** The resolved configuration: every default filled in, and what the connection is opened with. */
export interface ResolvedClientConfig extends ResolvedConnectionSettings {
  healthIntervalMs: number;
  scheduler: SchedulerLike;
  connection: ConnectionOptions;
}

/** Check every option of `Client.connect$` and fill in the defaults (ConfigError naming the first bad one). */
export function resolveClientConfig(options: unknown): ResolvedClientConfig {
  const o = optionsObject<Partial<ClientConfig>>('Client', options as Partial<ClientConfig> | undefined);
  const shared = resolveConnectionSettings('Client', o, { ownKeys: ['healthIntervalMs', ...CONNECTION_KNOB_KEYS], retry: CLIENT_RETRY });
  const knobs = connectionKnobsOf(o);
  return {
    ...shared,
    healthIntervalMs: durationMs('healthIntervalMs', o.healthIntervalMs ?? 1_000, 0),
    scheduler: knobs.scheduler ?? asyncScheduler,
    connection: { ...connectionOptionsOf(shared), ...knobs },
  };
}

/**
 * The settings of `connect$(options)` or of the deprecated `connect$(address, options?)` (Client,
 * PipelinedClient): the address becomes `bootstrapServers`. Anything but a string or `{ host,
 * port }` first, or a second argument, is read as the address form, so `connect$(9092)` is told
 * how to write an address.
 */
export function connectArguments(component: string, first: unknown, options: unknown): { settings: Record<string, unknown>; addressForm: boolean } {
  const addressForm = options !== undefined || typeof first !== 'object' || first === null || 'host' in first || 'port' in first;
  if (!addressForm) return { settings: optionsObject<Record<string, unknown>>(component, first as Record<string, unknown>), addressForm };
  const address = formatAddress(validateAddress(first));
  const rest = optionsObject<Record<string, unknown>>(component, options as Record<string, unknown> | undefined);
  if ('bootstrapServers' in rest) {
    throw new ConfigError('bootstrapServers', `${component}.connect$ was given an address and bootstrapServers; pass only the options object`);
  }
  return { settings: { ...rest, bootstrapServers: address }, addressForm };
}

/** A `Client`'s health: its connection's stats, the server and the client id. */
export interface ClientHealth extends ConnectionStats {
  /** The server this client is connected to. */
  address: string;
  /** The client id sent in the handshake. */
  clientId: string;
}

/** Never seen by anyone: it ends connectToAny's walk when the caller unsubscribed (not retriable, so no other server is tried). */
class AttemptAbandoned extends RivvenError {
  readonly code = 'CONNECTION' as const;
  readonly retriable = false;
}

/**
 * A Connection to the first server of `rotation` that answers (connectToAny's rule), as a cold
 * Observable. Unsubscribing abandons the attempt under way and tries no other server.
 */
export function connectToAny$(rotation: ServerRotation, options: ConnectionOptions): Observable<{ connection: Connection; index: number }> {
  return new Observable((subscriber) => {
    let abandoned = false;
    let abandon: (() => void) | undefined;
    connectToAny(
      rotation,
      (address) =>
        new Promise<Connection>((resolve, reject) => {
          if (abandoned) return reject(new AttemptAbandoned('abandoned'));
          const attempt = Connection.connect$(address, options).subscribe({ next: resolve, error: reject });
          abandon = () => {
            attempt.unsubscribe();
            reject(new AttemptAbandoned('abandoned'));
          };
        }),
    ).then(
      ({ value, index }) => {
        if (abandoned) return void value.close();
        subscriber.next({ connection: value, index });
        subscriber.complete();
      },
      (error: unknown) => subscriber.error(error),
    );
    return () => {
      abandoned = true;
      abandon?.();
    };
  });
}

/** Rounds of `connect$` as `policy` allows: retriable failures only, with its jittered backoff between them. */
export function retryRounds<T>(policy: ResolvedRetryPolicy, scheduler: SchedulerLike): (source: Observable<T>) => Observable<T> {
  return new Retrier(policy, scheduler).retry$<T>();
}

/** The deprecated address form fails as it always did: with its one server's own error (ConnectionError, RivvenTimeoutError, …). */
export function failWithTheServersOwnError<T>(): (source: Observable<T>) => Observable<T> {
  return catchError((error: unknown) => throwError(() => (error instanceof AllServersUnavailableError && error.cause !== undefined ? error.cause : error)));
}

/** One connection's worth of typed operations (see BrokerOperations for the full list). */
export class Client extends BrokerOperations {
  private readonly healthSubject: BehaviorSubject<ClientHealth>;
  private readonly healthSubscription: Subscription;

  /** Live stats of this client's connection: emitted on change, at most every `healthIntervalMs`. */
  readonly health$: Observable<ClientHealth>;
  /** The connection's state: the current one, then every change; completes when the connection closes. */
  readonly state$: Observable<ConnectionState>;

  private constructor(
    private readonly connection: Connection,
    private readonly clientId: string,
    healthIntervalMs: number,
    scheduler: SchedulerLike,
  ) {
    super({ send$: (request, options) => connection.request$(request, options) });
    this.state$ = connection.state$;
    this.healthSubject = new BehaviorSubject(this.snapshot());
    this.health$ = this.healthSubject.asObservable();
    this.healthSubscription = connection.statsChanged$
      .pipe(throttleTime(healthIntervalMs, scheduler, { leading: true, trailing: true }))
      .subscribe(() => this.healthSubject.next(this.snapshot()));
  }

  /**
   * Connect (TCP, TLS, Handshake, authentication) to the first of `bootstrapServers` that answers
   * — each once, in order — and emit a ready Client. An error that would be the same on every
   * server (TLS, credentials) stops at once; when none answers: AllServersUnavailableError naming
   * each one's error. Cold: nothing happens until subscription. A bad option (an unknown key
   * names the closest valid one) is a ConfigError at subscription, before any socket or timer exists.
   *
   * `Client.connect$({ bootstrapServers: ['10.0.0.1:9092', '10.0.0.2:9092'], clientId: 'admin' })`
   */
  static connect$(options: ClientConfig): Observable<Client>;
  /**
   * @deprecated Use `Client.connect$({ bootstrapServers: address, ...options })`. One server,
   * failing with that server's own error (ConnectionError, RivvenTimeoutError, …).
   */
  static connect$(address: string | BrokerAddress, options?: ClientConnectionOptions): Observable<Client>;
  static connect$(first: ClientConfig | string | BrokerAddress, options?: ClientConnectionOptions): Observable<Client> {
    return new Observable<Client>((subscriber) => {
      let resolved: ResolvedClientConfig;
      let addressForm: boolean;
      try {
        const given = connectArguments('Client', first, options);
        addressForm = given.addressForm;
        resolved = resolveClientConfig(given.settings);
      } catch (error) {
        subscriber.error(error);
        return;
      }
      const { scheduler } = resolved;
      const rotation = new ServerRotation(resolved.bootstrapServers);
      return connectToAny$(rotation, resolved.connection)
        .pipe(
          retryRounds(resolved.retry, scheduler),
          addressForm ? failWithTheServersOwnError() : (source) => source,
          map(({ connection }) => new Client(connection, resolved.clientId, resolved.healthIntervalMs, scheduler)),
          finalize(() => rotation.dispose()),
        )
        .subscribe(subscriber);
    });
  }

  /** The server this client is connected to. */
  get address(): BrokerAddress {
    return this.connection.address;
  }

  /** The connection's current state. */
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

  /** `await using`: calls `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Any protocol request, raw reply (escape hatch; prefer the typed operations). */
  request$(request: RequestInput, options?: RequestOptions): Observable<Response> {
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
