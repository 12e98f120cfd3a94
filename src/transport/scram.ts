/**
 * The client side of SCRAM-SHA-256 (RFC 5802 / RFC 7677) over node:crypto: the username's
 * SASLprep, the client-first and client-final messages, the checks of what the server sends
 * (nonce, salt, iteration count, its signature), and PBKDF2, which runs on libuv's thread pool
 * (never on the event loop) with its result cached per (user, password, salt, iterations) so a
 * pool of connections pays for the 600,000 iterations once (`clearScramCache` forgets them).
 * Apart from the session (session.ts, which holds the conversation) because this is the
 * mechanism's cryptography: pure functions but for the cache, tested against the RFC's vectors.
 * Nothing here ever puts a password, salted password, key or proof into an error message.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { AuthenticationError, ConfigError } from '../errors.js';

/** RFC 7677 §4: fewer iterations than this make a stolen verifier too cheap to crack. */
export const MIN_SCRAM_ITERATIONS = 4096;
const NONCE_BYTES = 24;
const GS2_HEADER = 'n,,';
/** base64("n,,"): the channel-binding attribute for "no channel binding". */
const CHANNEL_BINDING = 'biws';

// ---- SASLprep (RFC 4013) for the username -----------------------------------------------------

/** Table C.1.2: non-ASCII spaces, mapped to U+0020. */
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;
/** Table B.1: characters "commonly mapped to nothing". */
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;
/** Tables C.2–C.9: control, private use, non-characters, surrogates, tagging, change-display chars. */
const PROHIBITED = new RegExp(
  '[' +
    '\\u0000-\\u001F\\u007F-\\u009F' + // C.2 control characters
    '\\u0340\\u0341\\u200E\\u200F\\u202A-\\u202E\\u206A-\\u206F' + // C.8 change display properties
    '\\u06DD\\u070F\\u180E\\u2028\\u2029\\u2060-\\u2063\\uFFF9-\\uFFFC' + // C.2.2 non-ASCII control
    '\\uE000-\\uF8FF\\u{F0000}-\\u{FFFFD}\\u{100000}-\\u{10FFFD}' + // C.3 private use
    '\\uFDD0-\\uFDEF\\uFFFE\\uFFFF\\u{1FFFE}\\u{1FFFF}\\u{2FFFE}\\u{2FFFF}\\u{3FFFE}\\u{3FFFF}\\u{4FFFE}\\u{4FFFF}\\u{5FFFE}\\u{5FFFF}\\u{6FFFE}\\u{6FFFF}\\u{7FFFE}\\u{7FFFF}\\u{8FFFE}\\u{8FFFF}\\u{9FFFE}\\u{9FFFF}\\u{AFFFE}\\u{AFFFF}\\u{BFFFE}\\u{BFFFF}\\u{CFFFE}\\u{CFFFF}\\u{DFFFE}\\u{DFFFF}\\u{EFFFE}\\u{EFFFF}\\u{FFFFE}\\u{FFFFF}\\u{10FFFE}\\u{10FFFF}' + // C.4 non-characters
    '\\uD800-\\uDFFF' + // C.5 surrogates (lone)
    '\\uFFFD\\u2FF0-\\u2FFB' + // C.6, C.7
    '\\u{E0001}\\u{E0020}-\\u{E007F}' + // C.9 tagging characters
    ']',
  'u',
);

export function saslPrep(value: string, option: string): string {
  const mapped = value.replace(NON_ASCII_SPACE, ' ').replace(MAPPED_TO_NOTHING, '').normalize('NFKC');
  if (PROHIBITED.test(mapped)) {
    throw new ConfigError(option, 'contains characters SASLprep (RFC 4013) prohibits, such as control or private-use characters');
  }
  if (mapped.length === 0) throw new ConfigError(option, 'is empty after SASLprep normalisation');
  return mapped;
}

/** RFC 5802 §5.1: ',' and '=' in a username are sent as '=2C' and '=3D'. */
export function escapeUsername(username: string): string {
  return username.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

// ---- Messages ---------------------------------------------------------------------------------

export interface ClientFirst {
  /** The whole client-first message (`n,,n=…,r=…`). */
  message: string;
  /** client-first-message-bare, part of the AuthMessage. */
  bare: string;
  nonce: string;
}

export function clientFirst(username: string, nonce = randomBytes(NONCE_BYTES).toString('base64')): ClientFirst {
  const bare = `n=${escapeUsername(saslPrep(username, 'auth.username'))},r=${nonce}`;
  return { message: `${GS2_HEADER}${bare}`, bare, nonce };
}

export interface ServerFirst {
  message: string;
  combinedNonce: string;
  salt: Buffer;
  iterations: number;
}

function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq !== 1) continue;
    out.set(part[0]!, part.slice(2));
  }
  return out;
}

/** Parse and check server-first: the nonce must extend ours, the salt be sane, iterations ≥ 4096. */
export function parseServerFirst(message: string, clientNonce: string): ServerFirst {
  if (message.startsWith('e=')) throw new AuthenticationError(`SCRAM authentication refused by the broker: ${message.slice(2)}`);
  if (message.startsWith('m=')) throw new AuthenticationError('broker requires a SCRAM extension this client does not support');
  const attrs = attributes(message);
  const combinedNonce = attrs.get('r');
  const saltText = attrs.get('s');
  const iterationText = attrs.get('i');
  if (combinedNonce === undefined || saltText === undefined || iterationText === undefined) {
    throw new AuthenticationError('malformed SCRAM server-first message (needs r=, s= and i=)');
  }
  if (!combinedNonce.startsWith(clientNonce) || combinedNonce.length <= clientNonce.length) {
    throw new AuthenticationError('SCRAM server nonce does not extend the client nonce: possible replay or man-in-the-middle; not authenticating');
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(saltText)) throw new AuthenticationError('SCRAM salt is not valid base64');
  const salt = Buffer.from(saltText, 'base64');
  if (salt.length === 0) throw new AuthenticationError('SCRAM salt is empty');
  if (!/^\d{1,10}$/.test(iterationText)) throw new AuthenticationError('SCRAM iteration count is not a number');
  const iterations = Number(iterationText);
  if (iterations < MIN_SCRAM_ITERATIONS) {
    throw new AuthenticationError(
      `broker asked for only ${iterations} PBKDF2 iterations; at least ${MIN_SCRAM_ITERATIONS} are required (RFC 7677). Check the broker's credential store`,
    );
  }
  if (iterations > 10_000_000) throw new AuthenticationError(`SCRAM iteration count ${iterations} is unreasonably large; refusing`);
  return { message, combinedNonce, salt, iterations };
}

export interface ClientFinal {
  message: string;
  /** What the server must prove it can compute (base64 ServerSignature). */
  expectedServerSignature: Buffer;
}

const hmac = (key: Buffer, data: string | Buffer) => createHmac('sha256', key).update(data).digest();

/** Build client-final with the proof, and the server signature the broker must send back. */
export function clientFinal(first: ClientFirst, server: ServerFirst, saltedPassword: Buffer): ClientFinal {
  const withoutProof = `c=${CHANNEL_BINDING},r=${server.combinedNonce}`;
  const authMessage = `${first.bare},${server.message},${withoutProof}`;
  const clientKey = hmac(saltedPassword, 'Client Key');
  const storedKey = createHash('sha256').update(clientKey).digest();
  const clientSignature = hmac(storedKey, authMessage);
  const proof = Buffer.alloc(clientKey.length);
  for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
  const serverKey = hmac(saltedPassword, 'Server Key');
  return {
    message: `${withoutProof},p=${proof.toString('base64')}`,
    expectedServerSignature: hmac(serverKey, authMessage),
  };
}

/** Verify server-final: `v=` must carry exactly the signature only a holder of the password can make. */
export function verifyServerFinal(message: string, expected: Buffer): void {
  if (message.startsWith('e=')) {
    throw new AuthenticationError(
      `SCRAM authentication failed: ${message.slice(2) || 'refused'}. Check the username and password`,
    );
  }
  const verifier = attributes(message).get('v');
  if (verifier === undefined) throw new AuthenticationError('SCRAM server-final carries no server signature; the broker did not prove its identity');
  const actual = Buffer.from(verifier, 'base64');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new AuthenticationError(
      'SCRAM server signature is wrong: this server does not know the password (possible impostor); not authenticating',
    );
  }
}

// ---- PBKDF2 with a cache ----------------------------------------------------------------------

const CACHE_LIMIT = 64;
const saltedPasswordCache = new Map<string, Promise<Buffer>>();
let pbkdf2Runs = 0;

/** How many PBKDF2 computations this process has run (the cache makes repeats free). */
export function scramPbkdf2Runs(): number {
  return pbkdf2Runs;
}

/** Clears the salted-password cache (for credential rotation). */
export function clearScramCache(): void {
  saltedPasswordCache.clear();
}

export function saltedPassword(username: string, password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  // The key holds a digest of the password, never the password itself.
  const key = createHash('sha256').update(username).update('\0').update(password).update('\0').update(salt).update(`\0${iterations}`).digest('base64');
  const cached = saltedPasswordCache.get(key);
  if (cached) {
    // Refresh its place in the LRU order.
    saltedPasswordCache.delete(key);
    saltedPasswordCache.set(key, cached);
    return cached;
  }
  pbkdf2Runs++;
  const computation = new Promise<Buffer>((resolve, reject) => {
    pbkdf2(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256', (error, derived) => {
      if (error) reject(new AuthenticationError('PBKDF2 failed while preparing SCRAM credentials'));
      else resolve(derived);
    });
  });
  computation.catch(() => saltedPasswordCache.delete(key));
  saltedPasswordCache.set(key, computation);
  if (saltedPasswordCache.size > CACHE_LIMIT) {
    const oldest = saltedPasswordCache.keys().next().value;
    if (oldest !== undefined) saltedPasswordCache.delete(oldest);
  }
  return computation;
}
