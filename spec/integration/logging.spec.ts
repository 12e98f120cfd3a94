/**
 * What the client logs, against real brokers: failover and the circuit breaker, a broken
 * connection, authentication — and never a secret, even at debug through a SCRAM + TLS session.
 */
import { firstValueFrom } from 'rxjs';
import { Client } from '../../src/client/client';
import { ResilientClient } from '../../src/client/resilient-client';
import { AuthenticationError } from '../../src/errors';
import type { LogFields, Logger } from '../../src/observability/log';
import { TlsConfig } from '../../src/transport/sockets';
import { freePort, startBroker, type BrokerProcess } from '../support/broker-process';
import { generateTestCerts, type TestCerts } from '../support/test-certs';
import { testBroker } from '../support/test-broker';

const PASSWORD = 'Log-pw-Secret-42!';

interface Line {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: LogFields;
}

function recorder(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: Line['level']) => (fields: LogFields, message: string) => lines.push({ level, message, fields });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

let certs: TestCerts;
let secured: BrokerProcess;

beforeAll(async () => {
  certs = generateTestCerts();
  secured = await startBroker({ harnessArgs: ['--user', `alice:${PASSWORD}:admin`, '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey] });
}, 60_000);

afterAll(async () => {
  await secured?.stop();
  certs?.remove();
});

it('failover: the dead broker’s circuit opening is a warning naming it; the request succeeds on the live one', async () => {
  const logger = recorder();
  const dead = `127.0.0.1:${await freePort()}`;
  const client = new ResilientClient({
    bootstrapServers: [dead, testBroker().address],
    circuitBreakerFailureThreshold: 1,
    healthCheckEnabled: false,
    logger,
    logLevel: 'debug',
  });
  try {
    await firstValueFrom(client.ping$());
    const open = logger.lines.find((l) => l.message.startsWith('circuit open'));
    expect(open).toMatchObject({ level: 'warn', fields: { component: 'resilient-client', broker: dead } });
    expect(logger.lines.find((l) => l.message === 'could not connect')).toMatchObject({ level: 'info', fields: { component: 'connection', broker: dead, errorCode: 'CONNECTION' } });
    expect(logger.lines.find((l) => l.message === 'connected')).toMatchObject({ fields: { broker: testBroker().address } });
  } finally {
    await client.close();
  }
});

it('a connection that breaks is a warning with its error code', async () => {
  const logger = recorder();
  const broker = await startBroker();
  const client = await firstValueFrom(Client.connect$(broker.address, { logger, quickAck: false }));
  try {
    await broker.kill();
    await new Promise<void>((resolve) => {
      const sub = client.health$.subscribe((h) => {
        if (h.state === 'failed') {
          sub.unsubscribe();
          resolve();
        }
      });
    });
    const lost = logger.lines.find((l) => l.message === 'connection lost');
    expect(lost).toMatchObject({ level: 'warn', fields: { component: 'connection', broker: broker.address } });
    expect(typeof lost!.fields.errorCode).toBe('string');
  } finally {
    await client.close();
    await broker.stop();
  }
});

it('SCRAM over TLS at debug: authentication is logged (user, mechanism), a wrong password is an error, and no secret appears anywhere', async () => {
  const logger = recorder();
  const tls = TlsConfig.builder().ca({ path: certs.caCert }).build();
  const client = await firstValueFrom(
    Client.connect$(secured.address, { tls, auth: { mechanism: 'scram-sha-256', username: 'alice', password: PASSWORD }, logger, logLevel: 'debug' }),
  );
  await firstValueFrom(client.ping$());
  await client.close();
  await expect(
    firstValueFrom(Client.connect$(secured.address, { tls, auth: { mechanism: 'scram-sha-256', username: 'alice', password: `${PASSWORD}-wrong` }, logger, logLevel: 'debug' })),
  ).rejects.toBeInstanceOf(AuthenticationError);

  expect(logger.lines.find((l) => l.message === 'authenticated')).toMatchObject({ level: 'info', fields: { mechanism: 'scram-sha-256', username: 'alice' } });
  expect(logger.lines.find((l) => l.message === 'authentication failed')).toMatchObject({ level: 'error', fields: { component: 'connection' } });
  const everything = JSON.stringify(logger.lines);
  expect(everything).not.toContain(PASSWORD);
  expect(everything).not.toMatch(/proof|nonce|salt|r=|p=|ServerSignature|BEGIN .*PRIVATE KEY/i);
});

it('logger: null logs nothing; a typo in logLevel is a ConfigError', async () => {
  await expect(firstValueFrom(Client.connect$(testBroker().address, { logLevel: 'verbose' as never }))).rejects.toThrow(/logLevel/);
  const client = await firstValueFrom(Client.connect$(testBroker().address, { logger: null }));
  await client.close();
});
