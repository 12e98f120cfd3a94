/**
 * Security against the real secured rivvend 0.0.22 (the harness runs rivvend's SecureServer with
 * users in its AuthManager, and rivvend's own TLS): SCRAM, PLAIN over TLS, TLS, mTLS, sessions.
 * Every failure message and log produced here is checked for the test passwords at the end.
 */
import { firstValueFrom } from 'rxjs';
import { Client } from '../../src/client/client';
import { AuthenticationError, AuthorizationError, ConfigError, RivvenError, TlsError } from '../../src/errors';
import { Connection } from '../../src/transport/connection';
import type { ConnectionOptions } from '../../src/transport/connection-types';
import { scramPbkdf2Runs } from '../../src/transport/scram';
import { TlsConfig } from '../../src/transport/sockets';
import { startBroker, type BrokerProcess } from '../support/broker-process';
import { unique } from '../support/names';
import { rejectionOf } from '../support/rejection';
import { generateTestCerts, type TestCerts } from '../support/test-certs';

const PASSWORDS = { alice: 'Alice-pw1!x', bob: 'Bob-pw-1!y', carol: 'Carol-pw-1!z' };
const users = ['--user', `alice:${PASSWORDS.alice}:admin`, '--user', `bob:${PASSWORDS.bob}:read-only`, '--user', `carol:${PASSWORDS.carol}:admin`];
const alice = { mechanism: 'scram-sha-256', username: 'alice', password: PASSWORDS.alice } as const;

let certs: TestCerts;
let secured: BrokerProcess;
let tlsBroker: BrokerProcess;
let mtlsBroker: BrokerProcess;
let expiredBroker: BrokerProcess;
/** Everything a user could see from the failure cases: messages, stacks, serialised errors, health. */
const captured: string[] = [];

beforeAll(async () => {
  certs = generateTestCerts();
  const tls = ['--tls-cert', certs.serverCert, '--tls-key', certs.serverKey];
  [secured, tlsBroker, mtlsBroker, expiredBroker] = await Promise.all([
    startBroker({ harnessArgs: [...users, '--session-timeout-secs', '4'] }),
    startBroker({ harnessArgs: [...users, ...tls] }),
    startBroker({ harnessArgs: [...users, ...tls, '--tls-ca', certs.caCert, '--require-client-cert'] }),
    startBroker({ harnessArgs: [...users, '--tls-cert', certs.expiredServerCert, '--tls-key', certs.expiredServerKey] }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([secured, tlsBroker, mtlsBroker, expiredBroker].map((b) => b?.kill()));
  for (const b of [secured, tlsBroker, mtlsBroker, expiredBroker]) captured.push(b?.log() ?? '');
  await Promise.all([secured, tlsBroker, mtlsBroker, expiredBroker].map((b) => b?.stop()));
  certs.remove();
});

/** The RivvenError `promise` fails with, captured for the password check at the end. */
async function failure(promise: Promise<unknown>): Promise<RivvenError> {
  const e = await rejectionOf(promise, RivvenError);
  captured.push(e.message, String(e.stack), JSON.stringify(e), String((e.cause as Error | undefined)?.message ?? ''));
  return e;
}

const connect = (address: string, options: ConnectionOptions) => firstValueFrom(Client.connect$(address, { connectionTimeoutMs: 15_000, ...options }));

/**
 * What an authenticated connection is for: a topic created, a record published and read back over
 * it, and the health naming the transport and the user it authenticated as.
 */
async function roundTrip(client: Client, expected: { transport: 'tcp' | 'tls'; mechanism: string }): Promise<void> {
  const topic = unique('secure');
  await firstValueFrom(client.createTopic$(topic, 1));
  await firstValueFrom(client.publish$(topic, { value: `over ${expected.transport}`, partition: 0 }));
  const records = await firstValueFrom(client.consume$(topic, { partition: 0, offset: 0n, maxMessages: 10 }));
  expect(records.map((r) => r.value.toString())).toEqual([`over ${expected.transport}`]);
  expect(await firstValueFrom(client.listTopics$())).toContain(topic);
  expect(client.health()).toMatchObject({ transport: expected.transport, auth: { mechanism: expected.mechanism, username: 'alice' } });
}

describe('SCRAM-SHA-256 against the real broker', () => {
  it('authenticates, then publishes and consumes', async () => {
    const client = await connect(secured.address, { auth: alice });
    const topic = unique('secure');
    await firstValueFrom(client.createTopic$(topic, 1));
    await firstValueFrom(client.publish$(topic, { value: 'secret-data', partition: 0 }));
    const records = await firstValueFrom(client.consume$(topic, { partition: 0, offset: 0n, maxMessages: 10 }));
    expect(records.map((r) => r.value.toString())).toEqual(['secret-data']);
    expect(client.health().auth).toMatchObject({ mechanism: 'scram-sha-256', username: 'alice' });
    captured.push(JSON.stringify(client.health()));
    await client.close();
  });

  it('refuses a wrong password and an unknown user with non-retriable AuthenticationErrors', async () => {
    const wrong = await failure(connect(secured.address, { auth: { ...alice, password: 'Wrong-pw-9!' } }));
    expect(wrong).toBeInstanceOf(AuthenticationError);
    expect(wrong.retriable).toBe(false);
    const unknown = await failure(connect(secured.address, { auth: { mechanism: 'scram-sha-256', username: 'mallory', password: PASSWORDS.alice } }));
    expect(unknown).toBeInstanceOf(AuthenticationError);
  });

  it('surfaces a request before authentication as an AuthorizationError', async () => {
    const client = await connect(secured.address, {});
    const error = await failure(firstValueFrom(client.listTopics$()));
    expect(error).toBeInstanceOf(AuthorizationError);
    expect((error as AuthorizationError).serverCode).toBe('AUTHENTICATION_REQUIRED');
    await client.close();
  });

  it('surfaces a missing permission as an AuthorizationError', async () => {
    const client = await connect(secured.address, { auth: { mechanism: 'scram-sha-256', username: 'bob', password: PASSWORDS.bob } });
    const error = await failure(firstValueFrom(client.publish$('anything', { value: 'x', partition: 0 })));
    expect(error).toBeInstanceOf(AuthorizationError);
    expect((error as AuthorizationError).serverCode).toBe('AUTHORIZATION_FAILED');
    await client.close();
  });

  it('runs PBKDF2 once for a pool of 10 connections', async () => {
    const before = scramPbkdf2Runs();
    const pool = await Promise.all(
      Array.from({ length: 10 }, () => firstValueFrom(Connection.connect$(secured.address, { auth: { mechanism: 'scram-sha-256', username: 'carol', password: PASSWORDS.carol } }))),
    );
    expect(scramPbkdf2Runs() - before).toBe(1);
    expect(pool.every((c) => c.state === 'ready')).toBe(true);
    await Promise.all(pool.map((c) => c.close()));
  });

  it('renews a 4-second session before it expires, failing no request', async () => {
    const client = await connect(secured.address, { auth: alice });
    // (The SecureServer refuses the pre-auth Handshake with an Error reply; that one is expected.)
    const failedBefore = client.health().requestsFailed;
    let pings = 0;
    while ((client.health().auth?.reauthentications ?? 0) < 1) {
      await firstValueFrom(client.listTopics$());
      pings++;
    }
    // The renewed session carries on past the original expiry.
    const expiresAt = client.health().auth!.sessionExpiresAt;
    expect(expiresAt).toBeGreaterThan(Date.now());
    await firstValueFrom(client.listTopics$());
    expect(pings).toBeGreaterThan(0);
    expect(client.health().lastError).toBeUndefined();
    expect(client.health().requestsFailed).toBe(failedBefore);
    await client.close();
  }, 30_000);
});

describe('TLS and PLAIN against the real broker', () => {
  const ca = () => TlsConfig.builder().ca({ path: certs.caCert });

  it('PLAIN over TLS with CA verification works', async () => {
    const client = await connect(`localhost:${tlsBroker.port}`, { tls: ca().build(), auth: { mechanism: 'plain', username: 'alice', password: PASSWORDS.alice } });
    await roundTrip(client, { transport: 'tls', mechanism: 'plain' });
    await client.close();
  });

  it('SCRAM over TLS authenticates, then publishes and consumes over the TLS connection', async () => {
    const client = await connect(tlsBroker.address, { tls: ca().build(), auth: alice });
    await roundTrip(client, { transport: 'tls', mechanism: 'scram-sha-256' });
    await client.close();
  });

  it('PLAIN over plaintext is refused client-side without the explicit option', async () => {
    const error = await failure(connect(secured.address, { auth: { mechanism: 'plain', username: 'alice', password: PASSWORDS.alice } }));
    expect(error).toBeInstanceOf(ConfigError);
  });

  it('hostname mismatch, untrusted CA and an expired certificate are typed TLS errors', async () => {
    const mismatch = await failure(connect(tlsBroker.address, { tls: ca().serverName('broker.example.com').build(), auth: alice }));
    expect(mismatch).toBeInstanceOf(TlsError);
    expect(mismatch.message).toMatch(/does not name this host/);
    const untrusted = await failure(connect(tlsBroker.address, { tls: { ca: { path: certs.untrustedCaCert } }, auth: alice }));
    expect(untrusted).toBeInstanceOf(TlsError);
    const expired = await failure(connect(expiredBroker.address, { tls: ca().build(), auth: alice }));
    expect(expired).toBeInstanceOf(TlsError);
    expect(expired.message).toMatch(/expired/);
  });

  it('mTLS: works with a client certificate, refused without one', async () => {
    const withCert = ca().clientCertificate({ path: certs.clientCert }, { path: certs.clientKey }).build();
    const client = await connect(mtlsBroker.address, { tls: withCert, auth: alice });
    await roundTrip(client, { transport: 'tls', mechanism: 'scram-sha-256' });
    await client.close();
    const error = await failure(connect(mtlsBroker.address, { tls: ca().build(), auth: alice }));
    expect(error).toBeInstanceOf(TlsError);
    expect(error.retriable).toBe(false);
  });

  it('plaintext to a TLS port and TLS to a plaintext port are TlsErrors that say so', async () => {
    const plainToTls = await failure(connect(tlsBroker.address, { auth: alice }));
    expect(plainToTls).toBeInstanceOf(TlsError);
    expect(plainToTls.message).toMatch(/expects TLS/);
    const tlsToPlain = await failure(connect(secured.address, { tls: ca().build(), auth: alice }));
    expect(tlsToPlain).toBeInstanceOf(TlsError);
  });
});

describe('secrets', () => {
  it('no password appears in any error, stack, health value or broker log of this suite', () => {
    expect(captured.length).toBeGreaterThan(20);
    const text = captured.join('\n');
    for (const password of Object.values(PASSWORDS)) expect(text).not.toContain(password);
    expect(text).not.toContain('Wrong-pw-9!');
  });
});
