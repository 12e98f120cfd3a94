/**
 * One member of the chaos run's consumer group, in its own process (the orchestrator SIGKILLs
 * members and adds new ones). The recipe of README.md and docs/consumer.md: records$ → a handler → commitOffsets().
 *
 *   STARTED
 *   ASSIGNED <json { generationId, isLeader, partitions }>
 *   REVOKED <json { generationId, partitions, reason }>
 *   P <partition> <offset> <value>   a record processed (the side effect happened)
 *   B <partition> <offset> <previous>   an offset not above the previous one in the same assignment
 *   X <json>                         a truncation the consumer reported
 *   C <partition> <offset>           a commit the broker accepted (next offset to read)
 *   FAILED <error>                   the pipeline died on its own (exit code 2)
 *   CLOSED                           after `close` on stdin: consumer.close() returned
 */
import { concatMap, of } from 'rxjs';
import { Consumer } from '../../src/consumer/consumer.js';
import { commitOffsets } from '../../src/operators/at-least-once.js';
import { commands, config, die, report } from './chaos-io.js';

export interface ChaosGroupWorkerConfig {
  bootstrap: string;
  topic: string;
  groupId: string;
  sessionTimeoutMs: number;
  commitBatch: number;
  commitIntervalMs: number;
}

function main(): void {
  const cfg = config<ChaosGroupWorkerConfig>();
  const consumer = Consumer.create({
    bootstrapServers: [cfg.bootstrap],
    groupId: cfg.groupId,
    topics: [cfg.topic],
    sessionTimeoutMs: cfg.sessionTimeoutMs,
    autoOffsetReset: 'earliest',
    clientId: `chaos-group-${process.pid}`,
  });
  const last = new Map<number, bigint>();
  consumer.rebalances$.subscribe((event) => {
    const partitions = event.partitions.map((tp) => tp.partition);
    if (event.type === 'assigned') {
      for (const p of partitions) last.delete(p);
      report(`ASSIGNED ${JSON.stringify({ generationId: event.generationId, isLeader: event.isLeader, partitions })}`);
    } else {
      for (const p of partitions) last.delete(p);
      report(`REVOKED ${JSON.stringify({ generationId: event.generationId, partitions, reason: event.reason })}`);
    }
  });
  consumer.truncations$?.subscribe((t) => report(`X ${JSON.stringify(t, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`));
  const subscription = consumer.records$
    .pipe(
      concatMap((record) => {
        const previous = last.get(record.partition);
        if (previous !== undefined && record.offset <= previous) report(`B ${record.partition} ${record.offset} ${previous}`);
        last.set(record.partition, record.offset);
        report(`P ${record.partition} ${record.offset} ${record.value.toString()}`);
        return of(record);
      }),
      commitOffsets({ maxBatchSize: cfg.commitBatch, maxIntervalMs: cfg.commitIntervalMs }),
    )
    .subscribe({
      next: (batch) => {
        for (const o of batch.committed.offsets) report(`C ${o.partition} ${o.offset}`);
      },
      error: (error: unknown) => die(error),
    });
  commands((command) => {
    if (command !== 'close') return;
    // Graceful: close() while the pipeline is still subscribed, so records in flight finish.
    void consumer.close().then(
      () => {
        subscription.unsubscribe();
        report('CLOSED');
        process.exit(0);
      },
      (error: unknown) => die(error),
    );
  });
  report('STARTED');
}

main();
