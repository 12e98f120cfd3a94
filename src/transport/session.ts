/**
 * Who a Connection talks as: its session with the broker. The Handshake when it opens; then, when
 * the `auth` setting asks, authentication — SCRAM-SHA-256 (preferred; the RFC 5802 messages and
 * their proofs are scram.ts's) or PLAIN (only over TLS unless the user says otherwise, loudly) —
 * and re-authentication before the broker's session expires, with the gate that holds new
 * requests back while re-authentication has the connection to itself. One file because it is one
 * protocol conversation riding on the connection's request path, with its own timer and state:
 * what is exchanged and when it is exchanged read best together.
 */
import { AuthenticationError, ConfigError, ConnectionError, IncompatibleBrokerError, ProtocolError, RivvenError, errorFromServerMessage } from '../errors.js';
import { PROTOCOL_VERSION } from '../protocol/frame.js';
import type { RequestInput } from '../protocol/request-schema.js';
import type { Response } from '../protocol/response-schema.js';
import type { AuthOptions, SocketFactory } from '../connection-settings.js';
import type { ConnectionState, ConnectionStats, RequestSubscriber } from './connection-types.js';
import { clientFinal, clientFirst, parseServerFirst, saltedPassword, verifyServerFinal } from './scram.js';

// ---- Authentication: SCRAM-SHA-256 or PLAIN ---------------------------------------------------

export interface AuthSession {
  sessionId: string;
  /** Seconds until the broker forgets the session. */
  expiresInSeconds: number;
  mechanism: AuthOptions['mechanism'];
  username: string;
}

export type Exchange = (request: RequestInput) => Promise<Response>;

export function validateAuthOptions(auth: AuthOptions): void {
  if (auth.mechanism !== 'scram-sha-256' && auth.mechanism !== 'plain') {
    throw new ConfigError('auth.mechanism', `expected 'scram-sha-256' or 'plain', got '${String((auth as { mechanism: unknown }).mechanism)}'`);
  }
  if (typeof auth.username !== 'string' || auth.username.length === 0) throw new ConfigError('auth.username', 'must be a non-empty string');
  if (typeof auth.password !== 'string') throw new ConfigError('auth.password', 'must be a string');
}

function unexpected(response: Response, step: string): Error {
  if (response.type === 'Error') {
    const error = errorFromServerMessage(response.message, step);
    return error instanceof AuthenticationError ? error : new AuthenticationError(`${step} failed: ${response.message}`);
  }
  return new AuthenticationError(`${step}: the broker answered ${response.type}; is this a Rivven broker with authentication enabled?`);
}

export async function authenticate(exchange: Exchange, auth: AuthOptions, encrypted: boolean): Promise<AuthSession> {
  validateAuthOptions(auth);
  return auth.mechanism === 'plain' ? authenticatePlain(exchange, auth, encrypted) : authenticateScram(exchange, auth);
}

async function authenticateScram(exchange: Exchange, auth: Extract<AuthOptions, { mechanism: 'scram-sha-256' }>): Promise<AuthSession> {
  const first = clientFirst(auth.username);
  const serverFirstReply = await exchange({ type: 'ScramClientFirst', message: first.message });
  if (serverFirstReply.type !== 'ScramServerFirst') throw unexpected(serverFirstReply, 'SCRAM client-first');
  const serverFirst = parseServerFirst(serverFirstReply.message.toString('utf8'), first.nonce);
  const salted = await saltedPassword(auth.username, auth.password, serverFirst.salt, serverFirst.iterations);
  const final = clientFinal(first, serverFirst, salted);
  const serverFinalReply = await exchange({ type: 'ScramClientFinal', message: final.message });
  if (serverFinalReply.type !== 'ScramServerFinal') throw unexpected(serverFinalReply, 'SCRAM client-final');
  verifyServerFinal(serverFinalReply.message.toString('utf8'), final.expectedServerSignature);
  if (serverFinalReply.sessionId === undefined || serverFinalReply.expiresIn === undefined) {
    throw new AuthenticationError('SCRAM succeeded but the broker sent no session; cannot continue');
  }
  return {
    sessionId: serverFinalReply.sessionId,
    expiresInSeconds: Number(serverFinalReply.expiresIn),
    mechanism: 'scram-sha-256',
    username: auth.username,
  };
}

async function authenticatePlain(
  exchange: Exchange,
  auth: Extract<AuthOptions, { mechanism: 'plain' }>,
  encrypted: boolean,
): Promise<AuthSession> {
  const insecureAllowed = auth.dangerouslyAllowPlainWithoutTls === true;
  if (!encrypted && !insecureAllowed) {
    throw new ConfigError(
      'auth',
      "PLAIN would send the password unencrypted: connect with the `tls` option, use mechanism 'scram-sha-256', " +
        'or (for local testing only) set auth.dangerouslyAllowPlainWithoutTls',
    );
  }
  const reply = await exchange({
    type: 'Authenticate',
    username: auth.username,
    password: auth.password,
    requireTls: !insecureAllowed,
  });
  if (reply.type !== 'Authenticated') throw unexpected(reply, 'PLAIN authentication');
  return { sessionId: reply.sessionId, expiresInSeconds: Number(reply.expiresIn), mechanism: 'plain', username: auth.username };
}

// ---- The session: handshake, authentication, re-authentication --------------------------------

export interface SessionSettings {
  clientId: string;
  auth: AuthOptions | undefined;
  reauthenticateAt: number;
  requestTimeoutMs: number;
  socketFactory: SocketFactory;
}

/** What the session needs of its connection. */
export interface SessionHost {
  state(): ConnectionState;
  /** One request/response that bypasses the gate (the auth path). */
  exchange(request: RequestInput): Promise<Response>;
  /** Send a request the normal way (a held one, once the gate opens). */
  send(request: RequestInput, subscriber: RequestSubscriber): (() => void) | undefined;
  waitForDrain(maxMs: number): Promise<void>;
  fail(error: RivvenError): void;
  notReadyError(): ConnectionError;
  statsChanged(): void;
}

interface HeldRequest {
  request: RequestInput;
  subscriber: RequestSubscriber;
  cancelled: boolean;
  cancel?: (() => void) | undefined;
}

export class ConnectionSession {
  private session: AuthSession | undefined;
  private sessionExpiresAt = 0;
  private reauthentications = 0;
  private reauthTimer: NodeJS.Timeout | undefined;
  /** While set, new requests wait here (re-authentication needs the connection to itself). */
  private held: HeldRequest[] | undefined;

  constructor(
    private readonly settings: SessionSettings,
    private readonly host: SessionHost,
  ) {}

  /** The session authenticated as, if any (for logs and stats: never a secret). */
  get current(): AuthSession | undefined {
    return this.session;
  }

  /** New requests are held back (re-authentication is running). */
  get holding(): boolean {
    return this.held !== undefined;
  }

  get waiting(): number {
    return this.held?.length ?? 0;
  }

  stats(): ConnectionStats['auth'] {
    return this.session === undefined
      ? undefined
      : {
          mechanism: this.session.mechanism,
          username: this.session.username,
          sessionExpiresAt: this.sessionExpiresAt,
          reauthentications: this.reauthentications,
        };
  }

  /** The handshake rides the normal request path (pipelining rules apply from the first byte), then auth. */
  async handshakeAndAuthenticate(): Promise<void> {
    const response = await this.host.exchange({ type: 'Handshake', protocolVersion: PROTOCOL_VERSION, clientId: this.settings.clientId });
    if (response.type === 'HandshakeResult' && !response.compatible) {
      throw new IncompatibleBrokerError(response.serverVersion, PROTOCOL_VERSION, response.message);
    }
    // Like rivven-client: an Error here means a broker without handshake support (or one that
    // wants authentication first); carry on.
    if (response.type !== 'HandshakeResult' && response.type !== 'Error') {
      throw new ProtocolError(`broker answered Handshake with ${response.type}`);
    }
    await this.runAuthentication();
  }

  /** Hold the request while the gate is closed (returns how to cancel it); undefined when open. */
  hold(request: RequestInput, subscriber: RequestSubscriber): (() => void) | undefined {
    if (this.held === undefined) return undefined;
    const held: HeldRequest = { request, subscriber, cancelled: false };
    this.held.push(held);
    this.host.statsChanged();
    return () => {
      held.cancelled = true;
      held.cancel?.();
    };
  }

  /** The connection failed or closed: every held request fails with `error`. */
  failHeld(error: RivvenError): void {
    const held = this.held;
    if (held === undefined) return;
    // Emptied, not opened: the re-authentication under way opens the gate when it ends.
    this.held = [];
    for (const entry of held) if (!entry.cancelled) entry.subscriber.error(error);
  }

  /** No re-authentication may start any more (the connection is closing or failed). */
  stop(): void {
    if (this.reauthTimer !== undefined) clearTimeout(this.reauthTimer);
  }

  private async runAuthentication(): Promise<void> {
    const auth = this.settings.auth;
    if (auth === undefined) return;
    const session = await authenticate((r) => this.host.exchange(r), auth, this.settings.socketFactory.encrypted === true);
    this.session = session;
    this.sessionExpiresAt = Date.now() + session.expiresInSeconds * 1000;
    this.scheduleReauthentication(session.expiresInSeconds);
    this.host.statsChanged();
  }

  private scheduleReauthentication(expiresInSeconds: number): void {
    if (this.reauthTimer !== undefined) clearTimeout(this.reauthTimer);
    if (!(expiresInSeconds > 0)) return;
    const delayMs = Math.max(500, expiresInSeconds * 1000 * this.settings.reauthenticateAt);
    this.reauthTimer = setTimeout(() => void this.reauthenticate(), Math.min(delayMs, 0x7fff_ffff));
    // A session timer must never keep a process alive on its own.
    this.reauthTimer.unref();
  }

  /**
   * Renew the session on this connection. The broker handles one connection's requests in order
   * and refuses other requests mid-SCRAM, so new requests wait while in-flight ones finish, the
   * exchange runs alone, then the waiting requests go out. Nothing in flight fails.
   */
  private async reauthenticate(): Promise<void> {
    if (this.host.state() !== 'ready') return;
    this.held = [];
    this.host.statsChanged();
    try {
      await this.host.waitForDrain(this.settings.requestTimeoutMs || 30_000);
      if (this.host.state() !== 'ready') return;
      await this.runAuthentication();
      this.reauthentications++;
    } catch (error) {
      this.host.fail(error instanceof RivvenError ? error : new ConnectionError(`re-authentication failed: ${String(error)}`));
    } finally {
      const held = this.held ?? [];
      this.held = undefined;
      for (const entry of held) {
        if (entry.cancelled) continue;
        if (this.host.state() !== 'ready') {
          entry.subscriber.error(this.host.notReadyError());
          continue;
        }
        entry.cancel = this.host.send(entry.request, entry.subscriber);
      }
      this.host.statsChanged();
    }
  }
}
