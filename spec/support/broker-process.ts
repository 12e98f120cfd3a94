/**
 * Starts and stops real rivvend 0.0.22 brokers (the interop harness's `broker` subcommand) and the
 * real rivven-schema registry, on loopback ports with temporary data dirs. Processes are tracked
 * and stopped by pid, never by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireHarness } from './harness-binary';

export interface HarnessProcess {
  readonly host: string;
  readonly port: number;
  readonly address: string;
  readonly pid: number;
  readonly logFile: string;
  /** Everything the process logged so far. */
  log(): string;
  /** SIGTERM, wait for a clean exit (SIGKILL after `graceMs`), then clean up. */
  stop(options?: { keepData?: boolean; graceMs?: number }): Promise<void>;
  /** SIGKILL: a crash, for fault tests. Data is kept. */
  kill(): Promise<void>;
}

export interface BrokerProcess extends HarnessProcess {
  readonly dataDir: string;
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

/** Spawn a harness subcommand and wait for its `READY host:port` line. */
async function startHarnessProcess(
  args: string[],
  logFile: string,
  readyTimeoutMs: number,
  cleanup: (keepData: boolean) => void,
): Promise<HarnessProcess> {
  const binary = requireHarness();
  const logFd = openSync(logFile, 'a');
  // stdin stays open as a lifeline: if this process dies, the child sees EOF and exits too.
  const separator = args.indexOf('--');
  const withLifeline =
    separator < 0 ? [...args, '--exit-on-stdin-eof'] : [...args.slice(0, separator), '--exit-on-stdin-eof', ...args.slice(separator)];
  const child = spawn(binary, withLifeline, { stdio: ['pipe', 'pipe', logFd] });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${binary} ${args[0]}`);
  const readLog = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };

  const address = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args[0]} did not report READY within ${readyTimeoutMs} ms; log: ${logFile}`));
    }, readyTimeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const ready = /^READY (\S+)/m.exec(output);
      if (ready) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        child.stdout?.resume();
        resolve(ready[1]!);
      }
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited (code ${code}) before it was ready:\n${readLog().split('\n').slice(-20).join('\n')}`));
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });

  // The process must not keep a test run alive on its own; stop()/kill() end it explicitly.
  child.unref();
  (child.stdin as unknown as { unref?: () => void })?.unref?.();
  (child.stdout as unknown as { unref?: () => void })?.unref?.();

  const release = (keepData: boolean) => {
    child.stdin?.destroy();
    child.stdout?.destroy();
    cleanup(keepData);
  };
  const at = address.lastIndexOf(':');
  return {
    host: address.slice(0, at),
    port: Number(address.slice(at + 1)),
    address,
    pid,
    logFile,
    log: readLog,
    async stop({ keepData = false, graceMs = 10_000 } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await waitForExit(child);
        clearTimeout(timer);
      }
      release(keepData);
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await waitForExit(child);
      }
      release(true);
    },
  };
}

export interface StartBrokerOptions {
  /** Fixed port (to restart a broker where clients expect it); default: a free one. */
  port?: number;
  dataDir?: string;
  /** Harness `broker` flags (e.g. users and TLS files). */
  harnessArgs?: string[];
  /** rivvend options, passed after `--`. */
  extraArgs?: string[];
  readyTimeoutMs?: number;
}

/**
 * rivvend 0.0.22 fsyncs every record it appends (even inside a PublishBatch), so on a disk each
 * record costs milliseconds. Test brokers keep their data in memory-backed /dev/shm when the
 * machine has it: the same code paths, without the disk.
 */
function brokerDataRoot(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

export async function startBroker(options: StartBrokerOptions = {}): Promise<BrokerProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(brokerDataRoot(), 'rivven-rx-broker-'));
  const args = ['broker', '--port', String(options.port ?? 0), '--data-dir', dataDir, ...(options.harnessArgs ?? [])];
  if (options.extraArgs?.length) args.push('--', ...options.extraArgs);
  const logFile = `${dataDir}.log`;
  const harness = await startHarnessProcess(args, logFile, options.readyTimeoutMs ?? 60_000, (keepData) => {
    if (!keepData) {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(logFile, { force: true });
    }
  });
  return { ...harness, dataDir };
}

/** The real rivven-schema 0.0.22 registry (in memory) on a free loopback port. */
export async function startSchemaRegistry(): Promise<HarnessProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'rivven-rx-registry-'));
  return startHarnessProcess(['schema-registry', '--port', '0'], join(dir, 'registry.log'), 60_000, () =>
    rmSync(dir, { recursive: true, force: true }),
  );
}
