/**
 * SCRAM-SHA-256 client: RFC 7677 test vector, SASLprep, and a spec-only fake server that lies
 * (forged server signature, nonce not extending ours, too few iterations).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { firstValueFrom } from 'rxjs';
import { AuthenticationError, ConfigError } from '../../src/errors';
import type { Response } from '../../src/protocol/response-schema';
import { Connection } from '../../src/transport/connection';
import {
  clientFinal,
  clientFirst,
  escapeUsername,
  parseServerFirst,
  saltedPassword,
  saslPrep,
  scramPbkdf2Runs,
  verifyServerFinal,
} from '../../src/transport/scram';
import { FakeBroker, politeHandler } from '../support/fake-broker';

describe('SCRAM-SHA-256 messages', () => {
  it('reproduces the RFC 7677 §3 example exchange', async () => {
    const first = clientFirst('user', 'rOprNGfwEbeRWgbNEkqO');
    expect(first.message).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    const server = parseServerFirst('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', first.nonce);
    const salted = await saltedPassword('user', 'pencil', server.salt, server.iterations);
    const final = clientFinal(first, server, salted);
    expect(final.message).toBe(
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    );
    expect(() => verifyServerFinal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=', final.expectedServerSignature)).not.toThrow();
  });

  it('escapes , and = in usernames and applies SASLprep', () => {
    expect(escapeUsername('a,b=c')).toBe('a=2Cb=3Dc');
    expect(saslPrep('I\u00ADX', 'u')).toBe('IX'); // soft hyphen maps to nothing
    expect(saslPrep('user\u00A0name', 'u')).toBe('user name'); // non-ASCII space → space
    expect(saslPrep('\u2168', 'u')).toBe('IX'); // NFKC: roman numeral nine
    expect(() => saslPrep('a\u0007b', 'auth.username')).toThrow(ConfigError);
    expect(clientFirst('a,b', 'n').message).toBe('n,,n=a=2Cb,r=n');
  });

  it('refuses a server nonce that does not extend ours', () => {
    expect(() => parseServerFirst('r=someoneElsesNonce,s=QUJD,i=4096', 'myNonce')).toThrow(/does not extend the client nonce/);
    expect(() => parseServerFirst('r=myNonce,s=QUJD,i=4096', 'myNonce')).toThrow(/does not extend/);
  });

  it('refuses fewer than 4096 iterations and malformed server-first messages', () => {
    expect(() => parseServerFirst('r=abcX,s=QUJD,i=4095', 'abc')).toThrow(/at least 4096/);
    expect(() => parseServerFirst('r=abcX,s=QUJD', 'abc')).toThrow(AuthenticationError);
    expect(() => parseServerFirst('r=abcX,s=!!!,i=4096', 'abc')).toThrow(/base64/);
    expect(() => parseServerFirst('e=unknown-user', 'abc')).toThrow(/refused by the broker/);
  });

  it('refuses a forged or missing server signature', () => {
    const expected = randomBytes(32);
    expect(() => verifyServerFinal(`v=${randomBytes(32).toString('base64')}`, expected)).toThrow(/does not know the password/);
    expect(() => verifyServerFinal('x=1', expected)).toThrow(/no server signature/);
    expect(() => verifyServerFinal('e=invalid-proof', expected)).toThrow(/Check the username and password/);
  });

  it('computes PBKDF2 once per (user, password, salt, iterations)', async () => {
    const salt = randomBytes(16);
    const before = scramPbkdf2Runs();
    const results = await Promise.all(Array.from({ length: 10 }, () => saltedPassword('cache-user', 'secret', salt, 5000)));
    expect(scramPbkdf2Runs() - before).toBe(1);
    expect(new Set(results.map((r) => r.toString('hex'))).size).toBe(1);
    await saltedPassword('cache-user', 'other-secret', salt, 5000);
    expect(scramPbkdf2Runs() - before).toBe(2);
  });
});

/** A fake SCRAM server: honest unless told to lie about one thing. */
function scramServer(password: string, lie?: 'signature' | 'nonce' | 'iterations') {
  const salt = randomBytes(16);
  const iterations = lie === 'iterations' ? 1024 : 4096;
  let clientFirstBare = '';
  let serverFirst = '';
  return (request: { type: string; message?: Buffer }): Response | undefined => {
    if (request.type === 'ScramClientFirst') {
      const text = request.message!.toString();
      clientFirstBare = text.slice(3);
      const nonce = /r=([^,]+)/.exec(text)![1]!;
      const combined = lie === 'nonce' ? `forged${randomBytes(8).toString('hex')}` : `${nonce}${randomBytes(8).toString('hex')}`;
      serverFirst = `r=${combined},s=${salt.toString('base64')},i=${iterations}`;
      return { type: 'ScramServerFirst', message: Buffer.from(serverFirst) };
    }
    if (request.type === 'ScramClientFinal') {
      const text = request.message!.toString();
      const withoutProof = text.slice(0, text.indexOf(',p='));
      const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
      const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
      const serverKey = createHmac('sha256', salted).update('Server Key').digest();
      const signature = lie === 'signature' ? createHash('sha256').update('forged').digest() : createHmac('sha256', serverKey).update(authMessage).digest();
      return { type: 'ScramServerFinal', message: Buffer.from(`v=${signature.toString('base64')}`), sessionId: 's-1', expiresIn: 3600n };
    }
    return undefined;
  };
}

describe('SCRAM against a fake server', () => {
  let fake: FakeBroker;
  afterEach(async () => fake.stop());

  async function connectWith(lie?: 'signature' | 'nonce' | 'iterations') {
    const scram = scramServer('hunter2-secret', lie);
    fake = await FakeBroker.start((request, id, peer) => scram(request as never) ?? politeHandler(request, id, peer));
    return firstValueFrom(
      Connection.connect$(fake.address, { auth: { mechanism: 'scram-sha-256', username: 'alice', password: 'hunter2-secret' } }),
    );
  }

  it('authenticates against an honest server and reports the principal, not the secret', async () => {
    const connection = await connectWith();
    const stats = connection.stats();
    expect(stats.auth).toMatchObject({ mechanism: 'scram-sha-256', username: 'alice' });
    expect(JSON.stringify(stats)).not.toContain('hunter2');
    await connection.close();
  });

  it.each(['signature', 'nonce', 'iterations'] as const)('refuses a server that forges the %s', async (lie) => {
    const error = await connectWith(lie).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error?.message).not.toContain('hunter2');
  });
});

describe('session renewal', () => {
  let fake: FakeBroker;
  afterEach(async () => fake.stop());

  it('re-authenticates before the session expires without failing a single request', async () => {
    // Like rivvend: mid-SCRAM, any other request is refused; sessions last one second here.
    const salt = randomBytes(16);
    const salted = pbkdf2Sync('renew-secret', salt, 4096, 32, 'sha256');
    let inScram = false;
    let scramRounds = 0;
    let clientFirstBare = '';
    let serverFirst = '';
    fake = await FakeBroker.start((request, id, peer) => {
      if (request.type === 'ScramClientFirst') {
        inScram = true;
        const text = request.message.toString();
        clientFirstBare = text.slice(3);
        serverFirst = `r=${/r=([^,]+)/.exec(text)![1]}srv,s=${salt.toString('base64')},i=4096`;
        return { type: 'ScramServerFirst', message: Buffer.from(serverFirst) };
      }
      if (request.type === 'ScramClientFinal') {
        inScram = false;
        scramRounds++;
        const text = request.message.toString();
        const authMessage = `${clientFirstBare},${serverFirst},${text.slice(0, text.indexOf(',p='))}`;
        const serverKey = createHmac('sha256', salted).update('Server Key').digest();
        const v = createHmac('sha256', serverKey).update(authMessage).digest('base64');
        return { type: 'ScramServerFinal', message: Buffer.from(`v=${v}`), sessionId: `s-${scramRounds}`, expiresIn: 1n };
      }
      if (inScram) return { type: 'Error', message: 'AUTHENTICATION_REQUIRED: Complete SCRAM handshake first' };
      return politeHandler(request, id, peer);
    });
    const connection = await firstValueFrom(
      Connection.connect$(fake.address, { auth: { mechanism: 'scram-sha-256', username: 'bob', password: 'renew-secret' } }),
    );
    const replies: string[] = [];
    // Keep requests in flight continuously across two renewals.
    await new Promise<void>((resolve, reject) => {
      const loop = () => {
        if ((connection.stats().auth?.reauthentications ?? 0) >= 2) return resolve();
        Promise.all(Array.from({ length: 5 }, () => firstValueFrom(connection.request$({ type: 'Ping' }))))
          .then((rs) => {
            replies.push(...rs.map((r) => r.type));
            loop();
          })
          .catch(reject);
      };
      loop();
    });
    expect(replies.length).toBeGreaterThan(10);
    expect(new Set(replies)).toEqual(new Set(['Pong']));
    expect(scramRounds).toBeGreaterThanOrEqual(3);
    await connection.close();
  }, 15_000);
});
