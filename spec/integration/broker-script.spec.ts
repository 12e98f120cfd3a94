/**
 * `npm run broker` (scripts/broker.mjs, issue 21 §6): a local rivvend 0.0.22 for one's own
 * application. It prints the bootstrap address (alone on stdout) and the data dir, serves clients,
 * and on SIGTERM stops the broker cleanly and deletes the data dir it created.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { Client } from '../../src/client/client';
import { requireHarness } from '../support/harness-binary';

const script = join(__dirname, '..', '..', 'scripts', 'broker.mjs');

it('starts a broker on a free port, says where it is and where its data lives, serves a client, and stops cleanly on SIGTERM', async () => {
  requireHarness();
  const child = spawn(process.execPath, [script, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const started = Date.now();
    while (!/^\S+:\d+\n/.test(stdout) || !/data dir: /.test(stderr)) {
      if (Date.now() - started > 30_000) throw new Error(`no address and data dir within 30 s; stderr: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const address = stdout.trim().split('\n')[0]!;
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(stderr).toContain(`bootstrapServers: '${address}'`);
    const dataDir = /data dir: (\S+)/.exec(stderr)![1]!;
    expect(existsSync(dataDir)).toBe(true);

    const client = await firstValueFrom(Client.connect$({ bootstrapServers: address, clientId: 'broker-script-spec' }));
    try {
      expect(await firstValueFrom(client.createTopic$('from-the-script', 1))).toEqual({ name: 'from-the-script', partitions: 1 });
    } finally {
      await client.close();
    }

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/\[broker\] stopped/);
    expect(stderr).not.toMatch(/second SIG|did not stop/);
    // A data dir it made itself is removed.
    expect(existsSync(dataDir)).toBe(false);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }
}, 60_000);
