/**
 * The shared settings are resolved in one place (src/connection-settings.ts) for every component:
 * the same defaults, the same checks, the same refusal of unknown keys, and no component with a
 * server of its own. Each component's `XxxConfig` extends `ConnectionSettings`.
 */
import { resolveClientConfig, type ClientConfig } from '../../src/client/client';
import { resolvePipelinedClientConfig, type PipelinedClientConfig } from '../../src/client/pipelined-options';
import { resolveResilientConfig, type ResilientClientConfig } from '../../src/client/resilient-config';
import { RETRY_DEFAULTS } from '../../src/client/retrier';
import {
  CONNECTION_SETTING_DEFAULTS,
  checkConnectionSettings,
  resolveConnectionSettings,
  type ConnectionSettings,
} from '../../src/connection-settings';
import { resolveConsumerConfig, type ConsumerConfig } from '../../src/consumer/consumer-config';
import { resolveProducerConfig, type ProducerConfig } from '../../src/producer/producer-config';
import { resolveTransactionalConfig, type TransactionalProducerConfig } from '../../src/producer/transactional-config';
import { Rivven } from '../../src/rivven';
import { configError } from '../support/rejection';

const RETRY = { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 100, multiplier: 2, jitter: 0.5 };
const resolve = (options: object) => resolveConnectionSettings('Spec', options, { ownKeys: ['own'], retry: RETRY, clientId: 'spec-client' });

describe('resolveConnectionSettings', () => {
  it('fills the shared defaults, the component’s clientId and its retry defaults under the given fields', () => {
    expect(resolve({ bootstrapServers: '127.0.0.1:1', retry: { maxAttempts: 7 } })).toEqual({
      bootstrapServers: ['127.0.0.1:1'],
      clientId: 'spec-client',
      tls: undefined,
      auth: undefined,
      socketFactory: undefined,
      connectionTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      retry: { ...RETRY, maxAttempts: 7 },
      logger: undefined,
      logLevel: undefined,
    });
    expect(CONNECTION_SETTING_DEFAULTS).toEqual({ clientId: 'rivven-rx', connectionTimeoutMs: 10_000, requestTimeoutMs: 30_000 });
  });

  it('takes the component’s own keys and refuses any other, naming the closest or listing the options', () => {
    expect(() => resolve({ bootstrapServers: '127.0.0.1:1', own: 1 })).not.toThrow();
    expect(configError(() => resolve({ bootstrapServers: '127.0.0.1:1', requestTimeout: 1 })).message).toContain("did you mean 'requestTimeoutMs'?");
    const far = configError(() => resolve({ bootstrapServers: '127.0.0.1:1', servers: ['a:1'] }));
    expect(far.option).toBe('servers');
    expect(far.message).not.toContain('did you mean');
    expect(far.message).toContain('its options: auth, bootstrapServers, clientId, connectionTimeoutMs, logLevel, logger, own, requestTimeoutMs, retry, socketFactory, tls');
  });

  it('requestTimeoutMs 0 means no timeout; connectionTimeoutMs 0 is refused (a connect needs a deadline)', () => {
    expect(resolve({ bootstrapServers: '127.0.0.1:1', requestTimeoutMs: 0 }).requestTimeoutMs).toBe(0);
    expect(configError(() => resolve({ bootstrapServers: '127.0.0.1:1', connectionTimeoutMs: 0 })).message).toContain('must be > 0');
  });

  it('checkConnectionSettings (the Rivven root) checks retry as given, without a component’s defaults', () => {
    expect(() => checkConnectionSettings('Rivven', { bootstrapServers: '127.0.0.1:1', retry: { maxDelayMs: 0 } })).not.toThrow();
    expect(configError(() => checkConnectionSettings('Rivven', { bootstrapServers: '127.0.0.1:1', retry: { initialDelayMs: 500, maxDelayMs: 100 } })).option).toBe(
      'retry.maxDelayMs',
    );
  });
});

/** Every component, given `options` plus what it cannot do without besides the shared settings. */
const components: [string, (options: object) => unknown][] = [
  ['Producer', (o) => resolveProducerConfig(o as ProducerConfig)],
  ['Consumer', (o) => resolveConsumerConfig({ groupId: 'g', topics: ['t'], ...o } as ConsumerConfig)],
  ['TransactionalProducer', (o) => resolveTransactionalConfig({ transactionalId: 'tx', ...o } as TransactionalProducerConfig)],
  ['ResilientClient', (o) => resolveResilientConfig(o as ResilientClientConfig)],
  ['PipelinedClient', (o) => resolvePipelinedClientConfig(o)],
  ['Client', (o) => resolveClientConfig(o)],
  ['Rivven', (o) => new Rivven(o as ConnectionSettings)],
];

describe.each(components)('%s resolves the shared settings as every component does', (_name, make) => {
  const servers = { bootstrapServers: '127.0.0.1:1' };

  it('has no default server: bootstrapServers is required', () => {
    expect(configError(() => make({})).option).toBe('bootstrapServers');
  });

  it.each([
    [{ clientId: '' }, 'clientId'],
    [{ connectionTimeoutMs: 0 }, 'connectionTimeoutMs'],
    [{ connectionTimeoutMs: 2 ** 31 }, 'connectionTimeoutMs'],
    [{ requestTimeoutMs: -1 }, 'requestTimeoutMs'],
    [{ tls: 'yes' }, 'tls'],
    [{ auth: 'admin' }, 'auth'],
    [{ socketFactory: {} }, 'socketFactory'],
    [{ logger: { info: () => undefined } }, 'logger'],
    [{ logLevel: 'loud' }, 'logLevel'],
    [{ retry: { jitter: 2 } }, 'retry.jitter'],
    [{ retry: { maxAtempts: 3 } }, 'maxAtempts'],
    [{ bootstrapServers: ['nonsense'] }, 'bootstrapServers[0]'],
    [{ requestTimeout: 3_000 }, 'requestTimeout'],
  ])('refuses %j naming %s', (bad, option) => {
    expect(configError(() => make({ ...servers, ...bad })).option).toBe(option);
  });

  it('takes a connectionTimeoutMs under 1 ms and a fractional one', () => {
    expect(() => make({ ...servers, connectionTimeoutMs: 0.5 })).not.toThrow();
  });
});

describe('every XxxConfig is the shared settings plus the component’s own', () => {
  it('each extends ConnectionSettings (checked by the compiler) and requires bootstrapServers', () => {
    const configs = [
      { bootstrapServers: 'a:1' } satisfies ProducerConfig,
      { bootstrapServers: 'a:1', topics: ['t'] } satisfies ConsumerConfig,
      { bootstrapServers: 'a:1', transactionalId: 'tx' } satisfies TransactionalProducerConfig,
      { bootstrapServers: 'a:1' } satisfies ResilientClientConfig,
      { bootstrapServers: 'a:1' } satisfies PipelinedClientConfig,
      { bootstrapServers: 'a:1' } satisfies ClientConfig,
    ];
    const shared: ConnectionSettings[] = configs;
    // @ts-expect-error bootstrapServers is required by the Consumer too (it had a default server)
    const noServer: ConsumerConfig = { topics: ['t'] };
    expect(shared).toHaveLength(6);
    expect(noServer.bootstrapServers).toBeUndefined();
  });

  it('the resolved forms hold the resolved shared settings, each component with its own clientId and retry defaults', () => {
    const servers = { bootstrapServers: '127.0.0.1:1' };
    const picked = (c: { clientId: string; connectionTimeoutMs: number; requestTimeoutMs: number; retry: object; bootstrapServers: readonly string[] }) => ({
      clientId: c.clientId,
      timeouts: [c.connectionTimeoutMs, c.requestTimeoutMs],
      retry: c.retry,
      bootstrapServers: c.bootstrapServers,
    });
    const expected = (clientId: string, retry: object) => ({ clientId, timeouts: [10_000, 30_000], retry, bootstrapServers: ['127.0.0.1:1'] });
    expect(picked(resolveProducerConfig(servers))).toEqual(expected('rivven-rx-producer', RETRY_DEFAULTS.Producer));
    expect(picked(resolveConsumerConfig({ ...servers, groupId: 'g', topics: ['t'] }))).toEqual(expected('rivven-rx-consumer', RETRY_DEFAULTS.Consumer));
    expect(picked(resolveTransactionalConfig({ ...servers, transactionalId: 'tx' }))).toEqual(expected('tx', RETRY_DEFAULTS.TransactionalProducer));
    expect(picked(resolveResilientConfig(servers))).toEqual(expected('rivven-rx', RETRY_DEFAULTS.ResilientClient));
    expect(picked(resolvePipelinedClientConfig(servers).config)).toEqual(expected('rivven-rx', RETRY_DEFAULTS.PipelinedClient));
    expect(picked(resolveClientConfig(servers))).toEqual(expected('rivven-rx', RETRY_DEFAULTS.Client));
  });
});
