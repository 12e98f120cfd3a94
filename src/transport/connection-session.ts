/**
 * Who a Connection talks as: the Handshake, authentication, and re-authentication before the
 * broker's session expires, with the gate that holds new requests back while re-authentication
 * has the connection to itself. Apart from the Connection because it is a protocol conversation
 * of its own, with its own timer and state, riding on the connection's request path.
 */
import { ConnectionError, IncompatibleBrokerError, ProtocolError, RivvenError } from '../errors.js';
import { PROTOCOL_VERSION } from '../protocol/frame.js';
import type { RequestInput } from '../protocol/request-schema.js';
import type { Response } from '../protocol/response-schema.js';
import { authenticate, type AuthSession } from './authenticator.js';
import type { RequestSubscriber } from './connection-pending.js';
import type { ConnectionState, ConnectionStats } from './connection-types.js';
import type { AuthOptions, SocketFactory } from '../connection-settings.js';

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
