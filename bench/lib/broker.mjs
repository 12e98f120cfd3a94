// One real rivvend 0.0.22 broker (the release harness) for a whole bench run, plus topic helpers.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, lastValueFrom } from 'rxjs';
import { rivven } from './rivven.mjs';
import { benchValue } from './values.mjs';

const { Client } = rivven;

const targetDir = process.env.RIVVEN_RX_CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'rivven-rx', 'cargo-target');
export const harness = process.env.RIVVEN_RX_HARNESS ?? join(targetDir, 'release', 'rivven-rx-interop');
export const dataRoot = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

export async function startBroker() {
  if (!existsSync(harness)) throw new Error(`${harness} is missing: run \`node scripts/harness.mjs build\``);
  const dataDir = mkdtempSync(join(dataRoot, 'rivven-rx-bench-'));
  const logFile = `${dataDir}.log`;
  const logFd = openSync(logFile, 'a');
  // stdin stays open as a lifeline: if this process dies, the broker sees EOF and exits.
  const child = spawn(harness, ['broker', '--port', '0', '--data-dir', dataDir, '--exit-on-stdin-eof'], {
    stdio: ['pipe', 'pipe', logFd],
  });
  closeSync(logFd);
  const address = await new Promise((resolvePromise, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`broker not READY in 60 s; log: ${logFile}`)), 60_000);
    child.stdout.on('data', (chunk) => {
      output += chunk.toString('utf8');
      const ready = /^READY (\S+)/m.exec(output);
      if (ready) {
        clearTimeout(timer);
        resolvePromise(ready[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited (code ${code}) before READY; log: ${logFile}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    child.stdin.destroy();
    child.stdout.destroy();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(logFile, { force: true });
  };
  return { address, pid: child.pid, dataDir, stop };
}

export async function createTopic(address, name, partitions) {
  const client = await firstValueFrom(Client.connect$({ bootstrapServers: address }));
  try {
    await firstValueFrom(client.createTopic$(name, partitions));
  } finally {
    await client.close();
  }
}

/**
 * Fill `topic` with `records` records (values `benchValue(i, valueSize)`, spread round-robin over
 * the partitions in batches of `batchSize`) as fast as the broker takes them: it fsyncs record by
 * record per connection but group-commits across connections, so many connections in parallel.
 */
export async function seedBacklog(address, topic, partitions, records, valueSize, { connections = 64, batchSize = 200, onProgress } = {}) {
  const clients = await Promise.all(Array.from({ length: connections }, () => firstValueFrom(Client.connect$({ bootstrapServers: address }))));
  let nextBatch = 0;
  const batches = Math.ceil(records / batchSize);
  const reportEvery = Math.max(100, Math.ceil(batches / 10)); // about ten progress lines
  let done = 0;
  const started = performance.now();
  try {
    await Promise.all(
      clients.map(async (client) => {
        for (;;) {
          const batch = nextBatch++;
          if (batch >= batches) return;
          const first = batch * batchSize;
          const values = [];
          for (let i = first; i < Math.min(first + batchSize, records); i++) values.push({ value: benchValue(i, valueSize) });
          await lastValueFrom(client.publishBatch$(topic, values, { partition: batch % partitions }));
          done += values.length;
          if (onProgress && batch % reportEvery === 0) onProgress(done, records);
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  return { records, seconds: (performance.now() - started) / 1000 };
}
