/**
 * One consumer-group member processing with processConcurrently() in its own process, for the
 * SIGKILL test (spec/integration/parallel-crash.spec.ts).
 *
 *   node parallel-worker.js <json ParallelWorkerConfig>
 *
 * A handler waits 0–5 ms a record ('key' ordering); auto-commit every `autoCommitIntervalMs`. It
 * reports on stdout, one line each, written synchronously (a SIGKILL loses nothing reported):
 *
 *   STARTED
 *   ASSIGNED <partitions, comma separated>
 *   P <partition> <offset>    a record processed (the handler's side effect happened)
 *   A <partition> <offset>    the operator acknowledged up to this offset (cumulative)
 *   CLOSED                    after `close` on stdin: consumer.close() has returned
 */
import { map } from 'rxjs';
import { Consumer } from '../../src/consumer/consumer.js';
import type { ConsumerConfig } from '../../src/consumer/consumer-config.js';
import type { ConsumerRecord } from '../../src/consumer/consumer-record.js';
import { processConcurrently } from '../../src/operators/process-concurrently.js';

export interface ParallelWorkerConfig {
  bootstrap: string;
  topic: string;
  groupId: string;
  concurrency: number;
  maxDeferredRecords: number;
  /** Passed on to Consumer.create (timeouts, maxPollRecords, autoCommitIntervalMs, …). */
  consumer: Omit<ConsumerConfig, 'bootstrapServers' | 'groupId' | 'topics'>;
}

function line(text: string): void {
  process.stdout.write(`${text}\n`);
}

function main(): void {
  const config = JSON.parse(process.argv[2] ?? '') as ParallelWorkerConfig;
  const consumer = Consumer.create({ ...config.consumer, bootstrapServers: [config.bootstrap], groupId: config.groupId, topics: [config.topic] });
  consumer.rebalances$.subscribe((event) => {
    if (event.type === 'assigned') line(`ASSIGNED ${event.partitions.map((tp) => tp.partition).join(',')}`);
  });
  const subscription = consumer.records$
    .pipe(
      // Report each acknowledgement the operator makes, then pass it on.
      map((record): ConsumerRecord => ({
        ...record,
        ack: () => {
          line(`A ${record.partition} ${record.offset}`);
          record.ack();
        },
      })),
      processConcurrently(
        async (record: ConsumerRecord) => {
          await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 6)));
          line(`P ${record.partition} ${record.offset}`);
        },
        { ordering: 'key', concurrency: config.concurrency, maxDeferredRecords: config.maxDeferredRecords },
      ),
    )
    .subscribe({
      error: (error: unknown) => {
        process.stderr.write(`FAILED ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
        process.exit(2);
      },
    });
  let input = '';
  process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
    input += chunk;
    if (!input.includes('close\n')) return;
    void consumer.close().then(() => {
      subscription.unsubscribe();
      line('CLOSED');
      process.exit(0);
    });
  });
  line('STARTED');
}

main();
