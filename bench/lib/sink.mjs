// The sink (`rivven-rx-interop sink`, interop/src/sink.rs): a measuring instrument, not a broker.
// It speaks the rivven-protocol 0.0.22 wire and answers produce at once (no WAL, no fsync) and
// consume from a pre-generated in-memory log, so the `sink …` rows show what each client itself
// costs. Only the bench uses it; functional tests run against rivvend.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { firstValueFrom } from 'rxjs';
import { harness } from './broker.mjs';
import { rivven } from './rivven.mjs';

/** The sink's pre-generated log topic (read-only). */
export const SINK_LOG_TOPIC = 'sink-log';

export async function startSink({ logRecords, valueSize, partitions }) {
  if (!existsSync(harness)) throw new Error(`${harness} is missing: run \`node scripts/harness.mjs build\``);
  const args = [
    'sink', '--port', '0', '--log-topic', SINK_LOG_TOPIC, '--log-records', String(logRecords),
    '--value-size', String(valueSize), '--partitions', String(partitions), '--exit-on-stdin-eof',
  ];
  // stdin stays open as a lifeline: if this process dies, the sink sees EOF and exits.
  const child = spawn(harness, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const address = await new Promise((resolvePromise, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`sink not READY in 60 s: ${stderr}`)), 60_000);
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
      reject(new Error(`sink exited (code ${code}) before READY (a harness built before the sink existed? run \`node scripts/harness.mjs build\`): ${stderr}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    child.stdin.destroy();
    child.stdout.destroy();
    child.stderr.destroy();
  };
  return { address, pid: child.pid, stop };
}

/** Delete a produced topic: the sink then lets go of the records it kept for read-backs. */
export async function dropTopic(address, name) {
  const client = await firstValueFrom(rivven.Client.connect$({ bootstrapServers: address }));
  try {
    await firstValueFrom(client.deleteTopic$(name), { defaultValue: undefined });
  } finally {
    await client.close();
  }
}
