/**
 * TLS and mTLS client behaviour against spec-only TLS peers (node:tls with certificates made by
 * openssl at run time): every misconfiguration is a typed, non-retriable TlsError saying what to fix.
 */
import { firstValueFrom } from 'rxjs';
import { ConfigError, ConnectionError, TlsError } from '../../src/errors';
import { Connection } from '../../src/transport/connection';
import type { ConnectionOptions } from '../../src/transport/connection-types';
import { TlsConfig, closedBeforeHandshakeMessage } from '../../src/transport/sockets';
import { FakeBroker } from '../support/fake-broker';
import { generateTestCerts, type TestCerts } from '../support/test-certs';

let certs: TestCerts;
beforeAll(() => {
  certs = generateTestCerts();
});
afterAll(() => certs.remove());

const servers: FakeBroker[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function tlsServer(options: { cert?: string; key?: string; requestCert?: boolean } = {}): Promise<FakeBroker> {
  const server = await FakeBroker.start(undefined, {
    cert: certs.pem(options.cert ?? certs.serverCert),
    key: certs.pem(options.key ?? certs.serverKey),
    ca: certs.pem(certs.caCert),
    requestCert: options.requestCert ?? false,
    rejectUnauthorized: options.requestCert ?? false,
  });
  servers.push(server);
  return server;
}

async function plainServer(): Promise<FakeBroker> {
  const server = await FakeBroker.start();
  servers.push(server);
  return server;
}

async function outcome(address: string, options: ConnectionOptions): Promise<Error | Connection> {
  try {
    return await firstValueFrom(Connection.connect$(address, { connectionTimeoutMs: 5_000, ...options }));
  } catch (error) {
    return error as Error;
  }
}

async function expectTlsError(address: string, options: ConnectionOptions, pattern: RegExp): Promise<void> {
  const result = await outcome(address, options);
  expect(result).toBeInstanceOf(TlsError);
  expect((result as TlsError).retriable).toBe(false);
  expect((result as TlsError).message).toMatch(pattern);
}

describe('TLS', () => {
  it('connects with CA verification and reports an encrypted transport', async () => {
    const server = await tlsServer();
    const connection = (await outcome(server.address, { tls: { ca: { path: certs.caCert } } })) as Connection;
    expect(connection).toBeInstanceOf(Connection);
    expect(connection.stats().transport).toBe('tls');
    expect(await firstValueFrom(connection.request$({ type: 'Ping' }))).toEqual({ type: 'Pong' });
    await connection.close();
  });

  it('verifies the hostname: connecting as localhost works, a name the certificate lacks fails', async () => {
    const server = await tlsServer();
    const port = server.address.split(':')[1];
    const ok = (await outcome(`localhost:${port}`, { tls: { ca: certs.pem(certs.caCert) } })) as Connection;
    expect(ok).toBeInstanceOf(Connection);
    await ok.close();
    await expectTlsError(server.address, { tls: { ca: certs.pem(certs.caCert), serverName: 'broker.example.com' } }, /does not name this host/);
  });

  it('refuses a certificate from an untrusted CA', async () => {
    const server = await tlsServer({ cert: certs.untrustedServerCert, key: certs.untrustedServerKey });
    await expectTlsError(server.address, { tls: { ca: certs.caCert } }, /CA this client does not trust|untrusted CA/);
  });

  it('refuses an expired certificate', async () => {
    const server = await tlsServer({ cert: certs.expiredServerCert, key: certs.expiredServerKey });
    await expectTlsError(server.address, { tls: { ca: certs.caCert } }, /expired/);
  });

  it('mTLS: succeeds with a client certificate and fails without one', async () => {
    const server = await tlsServer({ requestCert: true });
    const tls = TlsConfig.builder().ca({ path: certs.caCert }).clientCertificate({ path: certs.clientCert }, { path: certs.clientKey }).build();
    const connection = (await outcome(server.address, { tls })) as Connection;
    expect(connection).toBeInstanceOf(Connection);
    await connection.close();
    await expectTlsError(server.address, { tls: { ca: certs.caCert } }, /client certificate/);
  });

  it('TLS to a plaintext port fails with a TlsError that says so', async () => {
    const server = await plainServer();
    await expectTlsError(server.address, { tls: { ca: certs.caCert } }, /plaintext/);
  });

  it('plaintext to a TLS port that hangs up says to set tls', async () => {
    // node:tls closes without an alert; a peer that answers with a TLS record gets a TlsError
    // (see the secured-broker suite).
    const server = await tlsServer();
    const result = await outcome(server.address, {});
    expect(result).toBeInstanceOf(ConnectionError);
    expect((result as Error).message).toMatch(/if this port expects TLS, set the `tls` option/);
  });

  it('a plaintext broker that hangs up while restarting is not told to set tls (it spoke plaintext before)', async () => {
    // A polite plaintext broker for the first connection; from the second on it hangs up on every
    // Handshake without a byte, as rivvend (or a proxy in front of it) does while restarting.
    let connections = 0;
    const server = await FakeBroker.start((request, _id, peer) => {
      if (request.type === 'Handshake' && connections++ > 0) {
        peer.socket.destroy();
        return undefined;
      }
      return request.type === 'Handshake' ? { type: 'HandshakeResult', serverVersion: 2, compatible: true, message: 'ok' } : { type: 'Pong' };
    });
    servers.push(server);
    const first = (await outcome(server.address, {})) as Connection;
    expect(first).toBeInstanceOf(Connection);
    await first.close();
    const restarting = await outcome(server.address, {});
    expect(restarting).toBeInstanceOf(ConnectionError);
    expect((restarting as Error).message).toMatch(/closed the connection before the handshake completed \(it completed a plaintext handshake earlier: it is probably restarting/);
    expect((restarting as Error).message).not.toMatch(/tls/i);
  });

  it('the TLS hint needs the evidence: no byte, a hang-up right after connecting, no plaintext handshake before', () => {
    const seen = { encrypted: false, bytesIn: 0, msSinceConnect: 5, spokePlaintextBefore: false };
    expect(closedBeforeHandshakeMessage('h:1', seen)).toMatch(/if this port expects TLS, set the `tls` option/);
    expect(closedBeforeHandshakeMessage('h:1', { ...seen, spokePlaintextBefore: true })).not.toMatch(/TLS/);
    expect(closedBeforeHandshakeMessage('h:1', { ...seen, bytesIn: 3 })).toMatch(/after sending 3 bytes that are not a complete reply$/);
    expect(closedBeforeHandshakeMessage('h:1', { ...seen, msSinceConnect: 4_000 })).toMatch(/without answering$/);
    expect(closedBeforeHandshakeMessage('h:1', { ...seen, msSinceConnect: undefined })).not.toMatch(/TLS/);
    expect(closedBeforeHandshakeMessage('h:1', { ...seen, encrypted: true })).toBe('broker h:1 closed the connection before the handshake completed');
  });

  it('turning verification off needs the dangerously-named option', async () => {
    const server = await tlsServer({ cert: certs.untrustedServerCert, key: certs.untrustedServerKey });
    const connection = (await outcome(server.address, { tls: TlsConfig.builder().dangerouslyDisableCertificateVerification().build() })) as Connection;
    expect(connection).toBeInstanceOf(Connection);
    await connection.close();
  });

  it('rejects half an mTLS configuration and unreadable files with ConfigError', () => {
    expect(() => TlsConfig.builder().clientCertificate({ path: certs.clientCert }, undefined as never).build()).toThrow(ConfigError);
    expect(() => TlsConfig.builder().ca({ path: '/nonexistent/ca.pem' }).build()).toThrow(/cannot read/);
  });

  it('PLAIN over plaintext is refused client-side, before any password is sent', async () => {
    const server = await plainServer();
    const result = await outcome(server.address, { auth: { mechanism: 'plain', username: 'u', password: 'plain-secret-pw' } });
    expect(result).toBeInstanceOf(ConfigError);
    expect((result as Error).message).toMatch(/unencrypted/);
    expect(server.received.map((r) => r.type)).not.toContain('Authenticate');
  });
});
