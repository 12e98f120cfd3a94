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
import { type Observable, defer, firstValueFrom, from } from 'rxjs';
import { CONNECTION_SETTING_KEYS, checkConnectionSettings, resolveBootstrapServers, type ConnectionSettingKey, type ConnectionSettings } from './connection-settings.js';
import { ConfigError } from './errors.js';
import { Consumer } from './consumer/consumer.js';
import type { ConsumerConfig } from './consumer/consumer-config.js';
import { Producer } from './producer/producer.js';
import type { ProducerConfig } from './producer/producer-config.js';
import { TransactionalProducer } from './producer/transactional-producer.js';
import type { TransactionalProducerConfig } from './producer/transactional-config.js';
import { optionsObject } from './settings-validation.js';
import { Client } from './client/client.js';
import { ResilientClient } from './client/resilient-client.js';
import type { ResilientClientConfig } from './client/resilient-config.js';

/** The settings every component shares (connection-settings.ts); `bootstrapServers` is required. */
export type RivvenSettings = ConnectionSettings;

/** A component's own options: its config without the shared settings, which the Rivven object holds. */
export type RivvenProducerOptions = Omit<ProducerConfig, ConnectionSettingKey>;
/** The consumer's own options, for `rivven.consumer()`. */
export type RivvenConsumerOptions = Omit<ConsumerConfig, ConnectionSettingKey>;
/** The transactional producer's own options, for `rivven.transactionalProducer$()`. */
export type RivvenTransactionalOptions = Omit<TransactionalProducerConfig, ConnectionSettingKey>;
/** The ResilientClient's own options, for `rivven.client()`. */
export type RivvenResilientOptions = Omit<ResilientClientConfig, ConnectionSettingKey>;

interface Closable {
  close(): Promise<void>;
}

/**
 * The root object: holds the settings every component shares (`bootstrapServers`, `clientId`,
 * `tls`, `auth`, …) once and makes the components from them; `close()` closes everything it made.
 * A shared setting repeated in a component's options is a ConfigError.
 */
export class Rivven {
  private readonly settings: Readonly<Omit<ConnectionSettings, 'bootstrapServers'>> & { readonly bootstrapServers: readonly string[] };
  private readonly made = new Set<Closable>();
  private closed = false;

  constructor(settings: RivvenSettings) {
    const s = optionsObject('Rivven', settings);
    // Checked now, as every component checks them; each component fills in its own defaults later.
    checkConnectionSettings('Rivven', s);
    this.settings = { ...s, bootstrapServers: resolveBootstrapServers(s.bootstrapServers) };
  }

  /** The broker list every component uses. */
  get bootstrapServers(): readonly string[] {
    return this.settings.bootstrapServers;
  }

  /** A `Producer` with the shared settings plus `options` (batching, idempotence, compression, …). */
  producer(options: RivvenProducerOptions = {}): Producer {
    return this.track(Producer.create({ ...this.own('producer', options), ...this.shared('producer') }));
  }

  /** A `Consumer` with the shared settings plus `options` (`groupId`, `topics` or `assign`, …). */
  consumer(options: RivvenConsumerOptions): Consumer {
    return this.track(Consumer.create({ ...this.own('consumer', options), ...this.shared('consumer') }));
  }

  /** A `TransactionalProducer` (initialised: emits once it holds a producer id). */
  transactionalProducer$(options: RivvenTransactionalOptions): Observable<TransactionalProducer> {
    return defer(() => {
      const own = this.own('transactionalProducer$', options);
      return from(firstValueFrom(TransactionalProducer.create$({ ...own, ...this.shared(undefined) })).then((p) => this.track(p)));
    });
  }

  /**
   * A `ResilientClient` over every bootstrap server (pool, failover, retries, circuit breakers):
   * the typed admin and data operations. Opens nothing until used.
   */
  client(options: RivvenResilientOptions = {}): ResilientClient {
    return this.track(new ResilientClient({ ...this.own('client', options), ...this.shared(undefined) }));
  }

  /** One connected `Client` (admin operations), to the first bootstrap server that answers. */
  admin$(): Observable<Client> {
    return defer(() => {
      this.assertOpen('admin$');
      return from(firstValueFrom(Client.connect$(this.shared(undefined))).then((c) => this.track(c)));
    });
  }

  /** Close everything this object made (producers flush first), then refuse to make more. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.made];
    this.made.clear();
    await Promise.all(all.map((c) => c.close().catch(() => undefined)));
  }

  /** `close()`, for `await using rivven = new Rivven(...)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The shared settings as a component takes them; `role` is added to the clientId (`billing-producer`). */
  private shared(role: string | undefined): ConnectionSettings & { bootstrapServers: string[] } {
    const { clientId, bootstrapServers, ...rest } = this.settings;
    return {
      ...defined(rest),
      bootstrapServers: [...bootstrapServers],
      ...(clientId === undefined ? {} : { clientId: role === undefined ? clientId : `${clientId}-${role}` }),
    };
  }

  /** A component's own options: an object that repeats none of the shared settings. */
  private own<T extends object>(component: string, options: T): T {
    this.assertOpen(component);
    const o = optionsObject(`rivven.${component}()`, options);
    for (const key of Object.keys(o)) {
      if ((CONNECTION_SETTING_KEYS as readonly string[]).includes(key)) {
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
function defined<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}
