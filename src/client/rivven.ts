/**
 * `Rivven`: the root object. It holds the settings every component shares — where the brokers are,
 * who we are, how we connect and log — once, and makes the components from them, as KafkaJS's
 * `new Kafka({ brokers })` does:
 *
 *   const rivven = new Rivven({ bootstrapServers: ['127.0.0.1:9092'], clientId: 'billing' });
 *   const producer = rivven.producer({ lingerMs: 5 });
 *   const consumer = rivven.consumer({ groupId: 'billing', topics: ['orders'] });
 *   await rivven.close(); // closes everything it made
 *
 * A component's own options add to the shared ones, never repeat them: a shared key in a
 * component's options is a ConfigError (one place to set it, one place to look).
 */
import { Observable, defer, firstValueFrom, from } from 'rxjs';
import { ConfigError } from '../errors.js';
import type { Logger, LogLevel } from '../observability/log.js';
import { Consumer } from '../consumer/consumer.js';
import type { ConsumerConfig } from '../consumer/consumer-config.js';
import { Producer } from '../producer/producer.js';
import type { ProducerConfigInput } from '../producer/producer-config.js';
import { TransactionalProducer, type TransactionalProducerConfig } from '../producer/transactional-producer.js';
import { durationMs, optionsObject, rejectUnknownKeys } from '../settings-validation.js';
import type { AuthOptions } from '../transport/authenticator.js';
import { validateAddress, validateConnectionOptions } from '../transport/connection-options.js';
import type { SocketFactory } from '../transport/socket-factory.js';
import type { TlsOptions } from '../transport/tls.js';
import { Client } from './client.js';
import { ResilientClient } from './resilient-client.js';
import type { ResilientClientOptions } from './resilient-config.js';

/** The settings every component shares. */
export interface RivvenSettings {
  /** Brokers, `host:port` (IPv6 `[addr]:port`), in order of preference; a single string is accepted. Required. */
  bootstrapServers: readonly string[] | string;
  /** Sent in every handshake, shown in broker logs; components add their role (`-producer`, …). */
  clientId?: string;
  tls?: TlsOptions;
  auth?: AuthOptions;
  socketFactory?: SocketFactory;
  /** Time to open a connection (TCP, TLS, handshake, auth). Default 10,000 ms. */
  connectionTimeoutMs?: number;
  /** Time to wait for a reply. Default 30,000 ms. */
  requestTimeoutMs?: number;
  /** Log sink (pino's shape; `console` works; `null` is silent). Default: warnings to stderr. */
  logger?: Logger | null;
  logLevel?: LogLevel;
}

const SHARED_KEYS = ['bootstrapServers', 'clientId', 'tls', 'auth', 'socketFactory', 'connectionTimeoutMs', 'requestTimeoutMs', 'logger', 'logLevel'] as const;
type SharedKey = (typeof SHARED_KEYS)[number];

/** Per-component spellings of the shared settings that a component's options must not repeat. */
const REPEATS: readonly string[] = [...SHARED_KEYS, 'bootstrapServer', 'servers', 'connectionTimeout', 'requestTimeout', 'client', 'connection'];

export type RivvenProducerOptions = Omit<ProducerConfigInput, 'bootstrapServers' | 'clientId' | 'tls' | 'auth' | 'socketFactory' | 'logger' | 'logLevel' | 'connectionTimeout' | 'requestTimeout'>;
export type RivvenConsumerOptions = Omit<ConsumerConfig, SharedKey>;
export type RivvenTransactionalOptions = Omit<TransactionalProducerConfig, 'bootstrapServers' | 'bootstrapServer' | 'client'>;
export type RivvenResilientOptions = Omit<ResilientClientOptions, 'servers' | 'connection' | 'connectionTimeout' | 'requestTimeout'>;

interface Closable {
  close(): Promise<void>;
}

export class Rivven {
  private readonly settings: Readonly<Omit<RivvenSettings, 'bootstrapServers'>> & { readonly bootstrapServers: readonly string[] };
  private readonly made = new Set<Closable>();
  private closed = false;

  constructor(settings: RivvenSettings) {
    const s = optionsObject('Rivven', settings);
    rejectUnknownKeys('Rivven', s, SHARED_KEYS);
    const servers = typeof s.bootstrapServers === 'string' ? [s.bootstrapServers] : s.bootstrapServers;
    if (!Array.isArray(servers) || servers.length === 0) throw new ConfigError('bootstrapServers', "expected at least one broker address, e.g. ['127.0.0.1:9092']");
    servers.forEach((server, i) => validateAddress(server, `bootstrapServers[${i}]`));
    const { bootstrapServers: _servers, ...connection } = s;
    validateConnectionOptions(connection, 'Rivven');
    if (s.connectionTimeoutMs !== undefined) durationMs('connectionTimeoutMs', s.connectionTimeoutMs, 1);
    if (s.requestTimeoutMs !== undefined) durationMs('requestTimeoutMs', s.requestTimeoutMs, 0);
    this.settings = { ...s, bootstrapServers: [...servers] };
  }

  /** The broker list every component uses. */
  get bootstrapServers(): readonly string[] {
    return this.settings.bootstrapServers;
  }

  /** A `Producer` with the shared settings plus `options` (batching, idempotence, compression, …). */
  producer(options: RivvenProducerOptions = {}): Producer {
    const o = this.own('producer', options);
    const s = this.settings;
    return this.track(
      Producer.create({
        ...o,
        bootstrapServers: [...s.bootstrapServers],
        ...(s.clientId === undefined ? {} : { clientId: `${s.clientId}-producer` }),
        ...defined({ tls: s.tls, auth: s.auth, socketFactory: s.socketFactory, logger: s.logger, logLevel: s.logLevel }),
        ...defined({ connectionTimeout: s.connectionTimeoutMs, requestTimeout: s.requestTimeoutMs }),
      }),
    );
  }

  /** A `Consumer` with the shared settings plus `options` (`groupId`, `topics` or `assign`, …). */
  consumer(options: RivvenConsumerOptions): Consumer {
    const o = this.own('consumer', options);
    const s = this.settings;
    return this.track(
      Consumer.create({
        ...o,
        bootstrapServers: [...s.bootstrapServers],
        ...(s.clientId === undefined ? {} : { clientId: `${s.clientId}-consumer` }),
        ...defined({ tls: s.tls, auth: s.auth, socketFactory: s.socketFactory, logger: s.logger, logLevel: s.logLevel }),
        ...defined({ connectionTimeoutMs: s.connectionTimeoutMs, requestTimeoutMs: s.requestTimeoutMs }),
      }),
    );
  }

  /** A `TransactionalProducer` (initialised: emits once it holds a producer id). */
  transactionalProducer$(options: RivvenTransactionalOptions): Observable<TransactionalProducer> {
    return defer(() => {
      const o = this.own('transactionalProducer$', options);
      return from(
        firstValueFrom(TransactionalProducer.create$({ ...o, bootstrapServers: [...this.settings.bootstrapServers], client: this.connectionOptions() })).then((p) => this.track(p)),
      );
    });
  }

  /**
   * A `ResilientClient` over every bootstrap server (pool, failover, retries, circuit breakers):
   * the typed admin and data operations. Opens nothing until used.
   */
  client(options: RivvenResilientOptions = {}): ResilientClient {
    const o = this.own('client', options);
    const s = this.settings;
    return this.track(
      new ResilientClient({
        ...o,
        servers: [...s.bootstrapServers],
        ...defined({ connectionTimeout: s.connectionTimeoutMs, requestTimeout: s.requestTimeoutMs }),
        connection: this.connectionOptions(),
      }),
    );
  }

  /** One connected `Client` (admin operations), to the first bootstrap server that answers. */
  admin$(): Observable<Client> {
    return defer(async () => {
      this.assertOpen('admin$');
      let lastError: unknown;
      for (const server of this.settings.bootstrapServers) {
        try {
          return this.track(await firstValueFrom(Client.connect$(server, this.connectionOptions())));
        } catch (error) {
          lastError = error;
        }
      }
      throw lastError;
    });
  }

  /** Close everything this object made (producers flush first), then refuse to make more. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.made];
    this.made.clear();
    await Promise.all(all.map((c) => c.close().catch(() => undefined)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private connectionOptions() {
    const s = this.settings;
    return defined({
      clientId: s.clientId,
      tls: s.tls,
      auth: s.auth,
      socketFactory: s.socketFactory,
      logger: s.logger,
      logLevel: s.logLevel,
      connectionTimeoutMs: s.connectionTimeoutMs,
      requestTimeoutMs: s.requestTimeoutMs,
    });
  }

  /** A component's own options: an object that repeats none of the shared settings. */
  private own<T extends object>(component: string, options: T): T {
    this.assertOpen(component);
    const o = optionsObject(`rivven.${component}()`, options);
    for (const key of Object.keys(o)) {
      if (REPEATS.includes(key)) {
        throw new ConfigError(key, `is a shared setting: set it once on the Rivven object (new Rivven({ ${key}: … })), not in rivven.${component}() options`);
      }
    }
    return o;
  }

  private assertOpen(component: string): void {
    if (this.closed) throw new ConfigError('rivven', `this Rivven object is closed; rivven.${component}() needs a new one`);
  }

  private track<T extends Closable>(component: T): T {
    this.made.add(component);
    return component;
  }
}

/** The entries whose value is set (so a component's own defaults stay in force for the others). */
function defined<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}
