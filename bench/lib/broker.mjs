// One real rivvend 0.0.22 broker (the release harness) for a whole bench run, plus topic helpers.
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, lastValueFrom } from 'rxjs';
import { startHarnessProcess } from './harness-process.mjs';
import { rivven } from './rivven.mjs';
import { benchValue } from './values.mjs';

const { Client } = rivven;

export const dataRoot = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

export async function startBroker() {
  const dataDir = mkdtempSync(join(dataRoot, 'rivven-rx-bench-'));
  const logFile = `${dataDir}.log`;
  const logFd = openSync(logFile, 'a');
  let broker;
  try {
    broker = await startHarnessProcess('broker', ['broker', '--port', '0', '--data-dir', dataDir], {
      stderr: logFd,
      where: () => `log: ${logFile}`,
      killAfterMs: 10_000,
    });
  } finally {
    closeSync(logFd);
  }
  const stop = async () => {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(logFile, { force: true });
  };
  return { address: broker.address, pid: broker.pid, dataDir, stop };
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
