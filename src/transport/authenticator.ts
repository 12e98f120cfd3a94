/**
 * Authenticating a connection: SCRAM-SHA-256 (preferred) or PLAIN (only over TLS unless the user
 * says otherwise, loudly), as the `auth` setting (connection-settings.ts) asks. Every connection
 * kind authenticates here, in the transport layer.
 */
import type { AuthOptions } from '../connection-settings.js';
import { AuthenticationError, ConfigError, errorFromServerMessage } from '../errors.js';
import type { RequestInput } from '../protocol/request-schema.js';
import type { Response } from '../protocol/response-schema.js';
import { clientFinal, clientFirst, parseServerFirst, saltedPassword, verifyServerFinal } from './scram.js';

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
