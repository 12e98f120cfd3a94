/**
 * Test certificates, generated at run time with openssl (no private key is ever committed):
 * a CA, a server certificate for localhost/127.0.0.1, a client certificate, an untrusted CA with
 * its own server certificate, and an expired server certificate.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  untrustedCaCert: string;
  untrustedServerCert: string;
  untrustedServerKey: string;
  expiredServerCert: string;
  expiredServerKey: string;
  /** Read a generated file as text. */
  pem(path: string): string;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args[0]} failed (is openssl installed?): ${stderr}`);
  }
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '30',
    '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function makeLeaf(dir: string, name: string, ca: string, extensions: string, validity: string[] = ['-days', '30']): void {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  if (validity[0] === '-days') {
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`,
      '-extfile', `${name}.ext`, ...validity]);
    return;
  }
  // Dates in the past need `openssl ca`, which takes explicit start and end dates.
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    ['[ca]', 'default_ca=test', '[test]', `dir=${dir}`, 'database=$dir/index.txt', 'serial=$dir/serial', 'new_certs_dir=$dir',
      'default_md=sha256', 'policy=any', 'copy_extensions=none', '[any]', 'commonName=supplied'].join('\n'),
  );
  openssl(dir, ['ca', '-batch', '-config', 'ca.cnf', '-cert', `${ca}.crt`, '-keyfile', `${ca}.key`, '-in', `${name}.csr`, '-out', `${name}.crt`,
    '-extfile', `${name}.ext`, ...validity]);
}

const SERVER_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n';
const CLIENT_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n';

export function generateTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'rivven-rx-certs-'));
  makeCa(dir, 'ca');
  makeLeaf(dir, 'server', 'ca', SERVER_EXT);
  makeLeaf(dir, 'client', 'ca', CLIENT_EXT);
  makeCa(dir, 'untrusted-ca');
  makeLeaf(dir, 'untrusted-server', 'untrusted-ca', SERVER_EXT);
  makeLeaf(dir, 'expired-server', 'ca', SERVER_EXT, ['-startdate', '20200101000000Z', '-enddate', '20200201000000Z']);
  const path = (f: string) => join(dir, f);
  return {
    dir,
    caCert: path('ca.crt'),
    serverCert: path('server.crt'),
    serverKey: path('server.key'),
    clientCert: path('client.crt'),
    clientKey: path('client.key'),
    untrustedCaCert: path('untrusted-ca.crt'),
    untrustedServerCert: path('untrusted-server.crt'),
    untrustedServerKey: path('untrusted-server.key'),
    expiredServerCert: path('expired-server.crt'),
    expiredServerKey: path('expired-server.key'),
    pem: (p) => readFileSync(p, 'utf8'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
