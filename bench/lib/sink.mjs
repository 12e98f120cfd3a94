// The sink (`rivven-rx-interop sink`, interop/src/sink.rs): a measuring instrument, not a broker.
// It speaks the rivven-protocol 0.0.22 wire and answers produce at once (no WAL, no fsync) and
// consume from a pre-generated in-memory log, so the `sink …` rows show what each client itself
// costs. Only the bench uses it; functional tests run against rivvend.
import { firstValueFrom } from 'rxjs';
import { startHarnessProcess } from './harness-process.mjs';
import { rivven } from './rivven.mjs';

/** The sink's pre-generated log topic (read-only). */
export const SINK_LOG_TOPIC = 'sink-log';

export async function startSink({ logRecords, valueSize, partitions }) {
  const args = [
    'sink', '--port', '0', '--log-topic', SINK_LOG_TOPIC, '--log-records', String(logRecords),
    '--value-size', String(valueSize), '--partitions', String(partitions),
  ];
  return startHarnessProcess('sink', args, {
    stderr: 'pipe',
    where: () => 'a harness built before the sink existed? run `node scripts/harness.mjs build`',
    killAfterMs: 5_000,
  });
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
