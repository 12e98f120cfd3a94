/**
 * One member of a consumer group in its own process, for the group fault tests
 * (spec/integration/consumer-group-faults.spec.ts), which SIGKILL, add and close such members.
 *
 *   node group-worker.js <json GroupWorkerConfig>
 *
 * It reads `topic` with a slow handler (`handlerMs` a record, concatMap) and `commitOffsets()`, and
 * reports on stdout, one line each (written synchronously: Node writes to a pipe synchronously on
 * Linux, so a SIGKILL loses nothing that was reported):
 *
 *   STARTED
 *   ASSIGNED <json { generationId, isLeader, partitions }>
 *   REVOKED <json { partitions, reason }>
 *   P <partition> <offset>        a record processed (the handler's side effect happened)
 *   C <partition> <offset>        a commit the broker accepted (next offset to read)
 *   CLOSED                        after `close` on stdin: consumer.close() has returned
 */
import { concatMap, map, timer } from 'rxjs';
import { Consumer } from '../../src/consumer/consumer.js';
import type { ConsumerConfig } from '../../src/consumer/consumer-config.js';
import { commitOffsets } from '../../src/operators/at-least-once.js';

export interface GroupWorkerConfig {
  bootstrap: string;
  topic: string;
  groupId: string;
  /** Per-record processing time (ms). */
  handlerMs: number;
  commitBatch: number;
  commitIntervalMs: number;
  /** Passed on to Consumer.create (timeouts, maxPollRecords, …). */
  consumer: Omit<ConsumerConfig, 'bootstrapServers' | 'groupId' | 'topics'>;
}

function line(text: string): void {
  process.stdout.write(`${text}\n`);
}

function main(): void {
  const config = JSON.parse(process.argv[2] ?? '') as GroupWorkerConfig;
  const consumer = Consumer.create({ ...config.consumer, bootstrapServers: [config.bootstrap], groupId: config.groupId, topics: [config.topic] });
  consumer.rebalances$.subscribe((event) => {
    const partitions = event.partitions.map((tp) => tp.partition);
    if (event.type === 'assigned') line(`ASSIGNED ${JSON.stringify({ generationId: event.generationId, isLeader: event.isLeader, partitions })}`);
    else line(`REVOKED ${JSON.stringify({ partitions, reason: event.reason })}`);
  });
  const subscription = consumer.records$
    .pipe(
      concatMap((record) => timer(config.handlerMs).pipe(map(() => record))),
      map((record) => {
        line(`P ${record.partition} ${record.offset}`);
        return record;
      }),
      commitOffsets({ maxBatchSize: config.commitBatch, maxIntervalMs: config.commitIntervalMs }),
    )
    .subscribe({
      next: (batch) => {
        for (const o of batch.committed.offsets) line(`C ${o.partition} ${o.offset}`);
      },
      error: (error: unknown) => {
        process.stderr.write(`FAILED ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
        process.exit(2);
      },
    });
  let input = '';
  process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
    input += chunk;
    if (!input.includes('close\n')) return;
    // Graceful: close() while the pipeline is still subscribed, so records in flight finish.
    void consumer.close().then(() => {
      subscription.unsubscribe();
      line('CLOSED');
      process.exit(0);
    });
  });
  line('STARTED');
}

main();
