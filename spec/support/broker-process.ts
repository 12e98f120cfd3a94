/**
 * Starts and stops real rivvend 0.0.22 brokers (the interop harness's `broker` subcommand) on free
 * loopback ports with temporary data dirs. Processes are tracked and stopped by pid, never by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireHarness } from './harness-binary';

export interface BrokerProcess {
  readonly host: string;
  readonly port: number;
  readonly address: string;
  readonly pid: number;
  readonly dataDir: string;
  readonly logFile: string;
  /** SIGTERM, wait for a clean exit (SIGKILL after `graceMs`), then remove the data dir unless kept. */
  stop(options?: { keepData?: boolean; graceMs?: number }): Promise<void>;
  /** SIGKILL: a crash, for fault tests. */
  kill(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export interface StartBrokerOptions {
  port?: number;
  dataDir?: string;
  extraArgs?: string[];
  readyTimeoutMs?: number;
}

export async function startBroker(options: StartBrokerOptions = {}): Promise<BrokerProcess> {
  const binary = requireHarness();
  const port = options.port ?? (await freePort());
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'rivven-rx-broker-'));
  const logFile = `${dataDir}.log`;
  const logFd = openSync(logFile, 'a');
  const args = ['broker', '--port', String(port), '--data-dir', dataDir, '--exit-on-stdin-eof'];
  if (options.extraArgs?.length) args.push('--', ...options.extraArgs);
  // stdin stays open as a lifeline: if this process dies, the broker sees EOF and exits too.
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', logFd] });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start the broker harness ${binary}`);

  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`broker did not report READY within ${options.readyTimeoutMs ?? 60000} ms; log: ${logFile}`));
    }, options.readyTimeoutMs ?? 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (/^READY /m.test(output)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        child.stdout?.resume();
        resolve();
      }
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      let log = '';
      try {
        log = readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
      } catch {
        // no log written
      }
      reject(new Error(`broker exited (code ${code}) before it was ready:\n${log}`));
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });

  // The broker must not keep a test process alive on its own; stop()/kill() end it explicitly.
  child.unref();
  (child.stdin as unknown as { unref?: () => void })?.unref?.();
  (child.stdout as unknown as { unref?: () => void })?.unref?.();

  const finish = async (keepData: boolean) => {
    child.stdin?.destroy();
    child.stdout?.destroy();
    if (!keepData) {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(logFile, { force: true });
    }
  };

  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    pid,
    dataDir,
    logFile,
    async stop({ keepData = false, graceMs = 10_000 } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await waitForExit(child);
        clearTimeout(timer);
      }
      await finish(keepData);
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await waitForExit(child);
      }
      await finish(true);
    },
  };
}
