/**
 * TLS and mTLS over node:tls. Certificate and hostname verification are on unless an option whose
 * name says it is dangerous turns them off. TLS failures become TlsError with what to fix.
 */
import { readFileSync } from 'node:fs';
import { connect, type ConnectionOptions as NodeTlsOptions, type SecureVersion } from 'node:tls';
import { isIP, type Socket } from 'node:net';
import type { PemSource, SocketFactory, TlsOptions } from '../connection-settings.js';
import { ConfigError, type RivvenError, TlsError } from '../errors.js';
import { formatAddress, type BrokerAddress } from '../broker-address.js';

function loadPem(source: PemSource, option: string): string | Buffer {
  if (typeof source === 'object' && !Buffer.isBuffer(source)) {
    try {
      return readFileSync(source.path);
    } catch (error) {
      throw new ConfigError(option, `cannot read ${source.path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
  }
  const text = Buffer.isBuffer(source) ? source.toString('utf8') : source;
  if (!text.includes('-----BEGIN ')) {
    // A bare string that isn't PEM is taken as a path, the common case in config files.
    try {
      return readFileSync(text);
    } catch (error) {
      throw new ConfigError(option, `is neither PEM text nor a readable file path (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
  }
  return source;
}

/** Fluent construction of TlsOptions; `build()` validates. */
export class TlsConfig {
  private readonly options: TlsOptions = {};

  static builder(): TlsConfig {
    return new TlsConfig();
  }

  ca(source: PemSource | PemSource[]): this {
    this.options.ca = source;
    return this;
  }

  clientCertificate(cert: PemSource, key: PemSource, passphrase?: string): this {
    this.options.cert = cert;
    this.options.key = key;
    if (passphrase !== undefined) this.options.passphrase = passphrase;
    return this;
  }

  serverName(name: string): this {
    this.options.serverName = name;
    return this;
  }

  minVersion(version: SecureVersion): this {
    this.options.minVersion = version;
    return this;
  }

  dangerouslyDisableCertificateVerification(): this {
    this.options.dangerouslyDisableCertificateVerification = true;
    return this;
  }

  build(): TlsOptions {
    resolveTlsOptions(this.options);
    return { ...this.options };
  }
}

/** Node's options for these TLS settings (files read, combinations checked). */
export function resolveTlsOptions(options: TlsOptions): NodeTlsOptions {
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new ConfigError(options.cert === undefined ? 'tls.cert' : 'tls.key', 'mTLS needs both a client certificate and its key');
  }
  const versions: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
  if (options.minVersion !== undefined && !versions.includes(options.minVersion)) {
    throw new ConfigError('tls.minVersion', `expected one of ${versions.join(', ')}, got '${options.minVersion}'`);
  }
  const cas = options.ca === undefined ? undefined : (Array.isArray(options.ca) ? options.ca : [options.ca]).map((c) => loadPem(c, 'tls.ca'));
  return {
    ca: cas,
    cert: options.cert === undefined ? undefined : loadPem(options.cert, 'tls.cert'),
    key: options.key === undefined ? undefined : loadPem(options.key, 'tls.key'),
    passphrase: options.passphrase,
    minVersion: options.minVersion ?? 'TLSv1.2',
    rejectUnauthorized: options.dangerouslyDisableCertificateVerification !== true,
  };
}

const FIXES: Record<string, string> = {
  CERT_HAS_EXPIRED: "the broker's certificate has expired: renew it",
  CERT_NOT_YET_VALID: "the broker's certificate is not valid yet: check the clocks or the certificate's dates",
  ERR_TLS_CERT_ALTNAME_INVALID: "the broker's certificate does not name this host: connect by a name it lists, or set tls.serverName",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the broker's certificate is self-signed and not trusted: pass its CA as tls.ca",
  SELF_SIGNED_CERT_IN_CHAIN: "the broker's certificate chain ends in an untrusted CA: pass that CA as tls.ca",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the broker's certificate is signed by a CA this client does not trust: pass the right CA as tls.ca",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the broker's certificate is signed by a CA this client does not trust: pass the right CA as tls.ca",
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'the broker requires a client certificate (mTLS): set tls.cert and tls.key',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'the broker rejected the client certificate: use one signed by a CA the broker trusts',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'the broker does not trust the CA of the client certificate: use one it trusts',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the peer does not speak TLS: is this port a plaintext listener? drop the tls option or use the TLS port',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'the peer does not speak TLS: is this port a plaintext listener? drop the tls option or use the TLS port',
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'no TLS version both sides accept: check tls.minVersion and the broker',
};

function classifyTlsError(error: NodeJS.ErrnoException, address: BrokerAddress, handshakeDone: boolean): RivvenError | undefined {
  const code = error.code ?? '';
  const fix = FIXES[code];
  const where = formatAddress(address);
  if (fix !== undefined) return new TlsError(`TLS to ${where} failed (${code}): ${fix}`, { cause: error, tlsCode: code });
  if (!handshakeDone && (code === 'ECONNRESET' || /before secure TLS connection/.test(error.message))) {
    return new TlsError(
      `${where} closed the connection during the TLS handshake: is it a plaintext port, or does it require a client certificate (tls.cert/tls.key)?`,
      { cause: error, tlsCode: code || 'ECONNRESET' },
    );
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /certificate/i.test(error.message)) {
    return new TlsError(`TLS to ${where} failed (${code || 'TLS error'}): ${error.message}`, { cause: error, tlsCode: code });
  }
  return undefined;
}

export function tlsSocketFactory(options: TlsOptions): SocketFactory {
  const nodeOptions = resolveTlsOptions(options);
  const handshakes = new WeakMap<Socket, boolean>();
  return {
    kind: 'tls',
    encrypted: true,
    open(address, onReady) {
      const serverName = options.serverName ?? address.host;
      const socket = connect({
        ...nodeOptions,
        host: address.host,
        port: address.port,
        // SNI must be a DNS name; an IP address is still checked against the certificate's IP SANs.
        servername: isIP(serverName) ? undefined : serverName,
      });
      socket.setNoDelay(true);
      handshakes.set(socket, false);
      socket.once('secureConnect', () => {
        handshakes.set(socket, true);
        onReady();
      });
      return socket;
    },
    classifyError(error, socket, address) {
      return classifyTlsError(error, address, handshakes.get(socket) ?? false);
    },
  };
}
