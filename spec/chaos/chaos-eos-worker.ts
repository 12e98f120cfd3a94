/**
 * One process of the chaos run's exactly-once stage (the orchestrator SIGKILLs it now and then and
 * starts it again with the same transactional id): consumer (static assignment of its input
 * partitions) → transform → transactional() → retry, the recipe of docs/exactly-once.md, copying the input topic
 * to one output partition of its own. A restarted instance starts a new TransactionalProducer with
 * the same transactional id (there is no producer id to resume: each commit writes under a fresh
 * one) and resumes from the group's committed offsets.
 *
 *   STARTED <producer id, or - when it has none before its first commit>
 *   T <json { r: [[partition, offset], …], o: [[partition, nextOffset], …] }>   a committed transaction:
 *                                    its outputs' reported positions, the input offsets it committed
 *   RETRY <error>                    a transaction failed retriably; the pipeline re-subscribes
 *   FAILED <error>                   the pipeline died on its own (exit code 2)
 *   CLOSED                           after `close` on stdin
 *
 * Everything that touches the transactional API is in `startExactlyOnce` (the API is being
 * reworked: keep the changes there).
 */
import { defer, firstValueFrom, map, retry, throwError, timer, type Subscription } from 'rxjs';
import { Consumer } from '../../src/consumer/consumer.js';
import { RivvenError } from '../../src/errors.js';
import { transactional } from '../../src/operators/transactional.js';
import { TransactionalProducer } from '../../src/producer/transactional-producer.js';
import { commands, config, describe, die, report } from './chaos-io.js';

export interface ChaosEosWorkerConfig {
  bootstrap: string;
  input: string;
  inputPartitions: number[];
  output: string;
  outputPartition: number;
  groupId: string;
  transactionalId: string;
  transactionTimeoutMs: number;
  /** The pipeline gives up (dies) after failing for this long without a committed transaction in between. */
  giveUpAfterMs: number;
}

/** The transform: deterministic, so the expected output of every input is known. */
export function eosOutputValue(input: string): string {
  return `eos(${input})`;
}

interface Stage {
  close(): Promise<void>;
}

interface StageHooks {
  started(producerId: string): void;
  committed(results: Array<[number, bigint]>, offsets: Array<[number, bigint]>): void;
  retrying(error: unknown): void;
  died(error: unknown): void;
}

/** The exactly-once stage: everything that uses TransactionalProducer and transactional(). */
async function startExactlyOnce(cfg: ChaosEosWorkerConfig, hooks: StageHooks): Promise<Stage> {
  // The producer first, then the consumer (which reads the group's committed offsets when subscribed).
  // A restart may land while the broker restarts or a connection is cut: retry retriable failures.
  const startedAt = Date.now();
  let producer: TransactionalProducer | undefined;
  while (producer === undefined) {
    try {
      producer = await firstValueFrom(
        TransactionalProducer.create$({
          bootstrapServers: [cfg.bootstrap],
          transactionalId: cfg.transactionalId,
          transactionTimeoutMs: cfg.transactionTimeoutMs,
          retry: { maxAttempts: 30 },
        }),
      );
    } catch (error) {
      const retriable = !(error instanceof RivvenError) || error.retriable;
      if (!retriable || Date.now() - startedAt > cfg.giveUpAfterMs) throw error;
      hooks.retrying(error);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  const txProducer = producer;
  hooks.started(txProducer.identity?.producerId.toString() ?? '-');
  const consumer = Consumer.create({
    bootstrapServers: [cfg.bootstrap],
    groupId: cfg.groupId,
    assign: { [cfg.input]: cfg.inputPartitions },
    enableAutoCommit: false,
    maxPollRecords: 500,
    clientId: `chaos-eos-${cfg.outputPartition}`,
  });
  /** Since when the pipeline has been failing without a commit in between (undefined: it is not). */
  let failingSince: number | undefined;
  const subscription: Subscription = defer(() =>
    consumer.records$.pipe(
      map((r) => ({ topic: cfg.output, partition: cfg.outputPartition, value: eosOutputValue(r.value.toString()) })),
      transactional(txProducer, { consumer, maxBatchRecords: 500, maxBatchMs: 100 }),
    ),
  )
    .pipe(
      retry({
        resetOnSuccess: true,
        delay: (error: unknown, attempt: number) => {
          const retriable = !(error instanceof RivvenError) || error.retriable;
          failingSince ??= Date.now();
          if (!retriable || Date.now() - failingSince > cfg.giveUpAfterMs) return throwError(() => error);
          hooks.retrying(error);
          return timer(Math.min(250 * attempt, 2_000));
        },
      }),
    )
    .subscribe({
      next: (txn) => {
        failingSince = undefined;
        hooks.committed(
          txn.results.map((r) => [r.partition, r.offset]),
          txn.offsets.map((o) => [o.partition, o.offset]),
        );
      },
      error: (error: unknown) => hooks.died(error),
    });
  return {
    async close() {
      await consumer.close();
      subscription.unsubscribe();
      await txProducer.close();
    },
  };
}

async function main(): Promise<void> {
  const cfg = config<ChaosEosWorkerConfig>();
  const stage = await startExactlyOnce(cfg, {
    started: (id) => report(`STARTED ${id}`),
    committed: (results, offsets) =>
      report(`T ${JSON.stringify({ r: results.map(([p, o]) => [p, o.toString()]), o: offsets.map(([p, o]) => [p, o.toString()]) })}`),
    retrying: (error) => report(`RETRY ${describe(error)}`),
    died: (error) => die(error),
  });
  commands((command) => {
    if (command !== 'close') return;
    void stage.close().then(
      () => {
        report('CLOSED');
        process.exit(0);
      },
      (error: unknown) => die(error),
    );
  });
}

main().catch((error: unknown) => die(error));
