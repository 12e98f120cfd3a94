/**
 * The socket under a connection, and what its failures mean. Where sockets come from: plain TCP
 * by default, TLS (and mTLS) when the `tls` setting is given — both are `socketFactory`s (the shape
 * is in connection-settings.ts), so the Connection never knows which it has; `TlsConfig` builds
 * and checks a `tls` setting. What a failing socket means: a TLS error becomes a TlsError that
 * says what to fix, any other a ConnectionError, and a plaintext connection closed before its
 * handshake is explained (with the "does this port expect TLS?" hint only when nothing
 * contradicts it). And how one ends: gracefully, destroyed if the peer does not close in time.
 * One file because these are the socket-level facts a Connection builds on, and none of them
 * knows about requests. Certificate and hostname verification are on unless an option whose name
 * says it is dangerous turns them off.
 */
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as NodeTlsOptions, type SecureVersion } from 'node:tls';
import type { PemSource, SocketFactory, TlsOptions } from '../connection-settings.js';
import { ConfigError, ConnectionError, RivvenError, TlsError } from '../errors.js';
import { formatAddress, type BrokerAddress } from '../broker-address.js';

// ---- TCP --------------------------------------------------------------------------------------

/** The default `socketFactory`: plain TCP, Nagle off. */
export const tcpSocketFactory: SocketFactory = {
  kind: 'tcp',
  open(address, onReady) {
    const socket = tcpConnect({ host: address.host, port: address.port, noDelay: true });
    socket.once('connect', onReady);
    return socket;
  },
};

// ---- TLS and mTLS -----------------------------------------------------------------------------

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

  /** A new, empty builder. */
  static builder(): TlsConfig {
    return new TlsConfig();
  }

  /** The CA certificate(s) that sign the broker's certificate (default: the system's trust store). */
  ca(source: PemSource | PemSource[]): this {
    this.options.ca = source;
    return this;
  }

  /** The client certificate and key for mTLS, and the key's passphrase if it is encrypted. */
  clientCertificate(cert: PemSource, key: PemSource, passphrase?: string): this {
    this.options.cert = cert;
    this.options.key = key;
    if (passphrase !== undefined) this.options.passphrase = passphrase;
    return this;
  }

  /** The name to verify the broker's certificate against, and to send as SNI (default: the host). */
  serverName(name: string): this {
    this.options.serverName = name;
    return this;
  }

  /** The lowest TLS version accepted (default TLSv1.2). */
  minVersion(version: SecureVersion): this {
    this.options.minVersion = version;
    return this;
  }

  /** Accept any certificate from any host: only for throwaway local setups. */
  dangerouslyDisableCertificateVerification(): this {
    this.options.dangerouslyDisableCertificateVerification = true;
    return this;
  }

  /**
   * The options built; throws a ConfigError for a certificate without its key (or the reverse), an
   * unknown version or a PEM file that cannot be read.
   */
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

/** The `socketFactory` of the `tls` setting. */
export function tlsSocketFactory(options: TlsOptions): SocketFactory {
  const nodeOptions = resolveTlsOptions(options);
  const handshakes = new WeakMap<Socket, boolean>();
  return {
    kind: 'tls',
    encrypted: true,
    open(address, onReady) {
      const serverName = options.serverName ?? address.host;
      const socket = tlsConnect({
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

// ---- Opening, failing and ending a socket -----------------------------------------------------

/** `factory.open`, with a factory (or node:net, on arguments it refuses) that throws made one typed failure. */
export function openSocket(factory: SocketFactory, address: BrokerAddress, onReady: () => void): Socket {
  try {
    return factory.open(address, onReady);
  } catch (error) {
    if (error instanceof RivvenError) throw error;
    throw new ConnectionError(`could not open a socket to ${formatAddress(address)}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
}

/** A socket's error as a typed error: the factory's reading of it (a TLS problem), or a ConnectionError. */
export function socketError(factory: SocketFactory, error: NodeJS.ErrnoException, socket: Socket, address: BrokerAddress): RivvenError {
  return (
    factory.classifyError?.(error, socket, address) ??
    new ConnectionError(`connection to ${formatAddress(address)} failed: ${error.code ?? ''} ${error.message}`.replace(/\s+/g, ' '), { cause: error })
  );
}

/** End the socket gracefully; destroyed if the peer has not closed it within a second. */
export function endSocket(socket: Socket | undefined): Promise<void> {
  if (!socket || socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => socket.destroy(), 1_000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.end();
  });
}

/**
 * Evidence for the "(if this port expects TLS …)" hint on a connection closed before the handshake
 * completed. A TLS server that gets our plaintext Handshake frame either answers with a TLS alert
 * (caught as a TlsError by the reply reader: its bytes look like a TLS record) or hangs up at once,
 * having sent nothing (node:tls does). A broker that is merely restarting or shedding load looks
 * alike on the wire — rivvend drops its listener at SIGTERM, and a connection accepted just then or
 * a proxy whose upstream refuses closes with nothing sent — so the hint is added only when nothing
 * contradicts TLS: no byte received, the close within TLS_HANGUP_WINDOW_MS of connecting, and no
 * plaintext handshake with that address completed earlier in this process (a port that spoke
 * plaintext does not start to expect TLS; it is restarting).
 */
const TLS_HANGUP_WINDOW_MS = 1_000;
/** Addresses (host:port) a plaintext handshake completed with; bounded (oldest forgotten first). */
const plaintextPeers = new Set<string>();
const MAX_PLAINTEXT_PEERS = 1_024;

/** A plaintext handshake with `address` (host:port) completed. */
export function notePlaintextPeer(address: string): void {
  plaintextPeers.delete(address);
  plaintextPeers.add(address);
  if (plaintextPeers.size > MAX_PLAINTEXT_PEERS) plaintextPeers.delete(plaintextPeers.values().next().value as string);
}

/** A plaintext handshake with `address` (host:port) completed earlier in this process. */
export function spokePlaintextBefore(address: string): boolean {
  return plaintextPeers.has(address);
}

/** Why a connection closed before its handshake completed, from what was seen (see TLS_HANGUP_WINDOW_MS). */
export function closedBeforeHandshakeMessage(
  address: string,
  seen: { encrypted: boolean; bytesIn: number; msSinceConnect: number | undefined; spokePlaintextBefore: boolean },
): string {
  const what = `broker ${address} closed the connection before the handshake completed`;
  if (seen.encrypted) return what;
  if (seen.spokePlaintextBefore) return `${what} (it completed a plaintext handshake earlier: it is probably restarting or refusing connections for now)`;
  if (seen.bytesIn > 0) return `${what}, after sending ${seen.bytesIn} bytes that are not a complete reply`;
  if (seen.msSinceConnect === undefined || seen.msSinceConnect > TLS_HANGUP_WINDOW_MS) return `${what}, without answering`;
  return `${what}, at once and without a byte (if this port expects TLS, set the \`tls\` option; otherwise the broker may be restarting)`;
}
