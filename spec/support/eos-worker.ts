/**
 * The consume-transform-produce process of the exactly-once crash test (spec/integration/
 * exactly-once-crash.spec.ts), run as a child process that the test SIGKILLs and restarts.
 *
 *   node eos-worker.js <json config>
 *
 * It resumes where the group's committed offsets say its predecessor stopped: each transaction
 * commits its inputs' offsets with its outputs, and a transaction cut off by the SIGKILL never
 * committed (its records were held in the dead process, or written under a producer id of their
 * own that the broker's reaper aborts). Each committed transaction is reported on stdout as
 * `COMMITTED <inputs committed so far>`; `DONE` when every input is committed.
 */
import { firstValueFrom, map } from 'rxjs';
import { Client } from '../../src/client/client.js';
import { Consumer } from '../../src/consumer/consumer.js';
import { transactional } from '../../src/operators/transactional.js';
import { TransactionalProducer } from '../../src/producer/transactional-producer.js';

export interface EosWorkerConfig {
  bootstrap: string;
  input: string;
  inputPartitions: number;
  perPartition: number;
  output: string;
  groupId: string;
  transactionalId: string;
  stateFile: string;
  transactionTimeoutMs: number;
}

/** The transform under test: deterministic, so the expected output is known. */
export function transformValue(input: string): string {
  return `out(${input})`;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as EosWorkerConfig;
  const producer = await firstValueFrom(
    TransactionalProducer.create$({
      bootstrapServers: [config.bootstrap],
      transactionalId: config.transactionalId,
      transactionTimeoutMs: config.transactionTimeoutMs,
    }),
  );
  process.stdout.write(`STARTED ${process.pid}\n`);

  const consumer = Consumer.create({
    bootstrapServers: [config.bootstrap],
    groupId: config.groupId,
    assign: { [config.input]: Array.from({ length: config.inputPartitions }, (_, p) => p) },
    enableAutoCommit: false,
    maxPollRecords: 500,
  });
  // Start the tally from the group's committed offsets: a partition a predecessor finished gets no
  // transaction in this run, and without its count here DONE would never come.
  const committed = await committedOffsets(config);
  const total = BigInt(config.inputPartitions * config.perPartition);
  consumer.records$
    .pipe(
      map((r) => ({ topic: config.output, partition: 0, value: transformValue(r.value.toString().replace(/\.+$/, '')) })),
      transactional(producer, { consumer, maxBatchRecords: 500, maxBatchMs: 100 }),
    )
    .subscribe({
      next: (txn) => {
        for (const o of txn.offsets) committed.set(o.partition, o.offset);
        const sum = [...committed.values()].reduce((a, b) => a + b, 0n);
        process.stdout.write(`COMMITTED ${sum}\n`);
        if (sum === total) {
          process.stdout.write('DONE\n');
          void Promise.all([consumer.close(), producer.close()]).then(() => process.exit(0));
        }
      },
      error: (error: unknown) => {
        process.stderr.write(`FAILED ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
        process.exit(2);
      },
    });
}

async function committedOffsets(config: EosWorkerConfig): Promise<Map<number, bigint>> {
  const client = await firstValueFrom(Client.connect$(config.bootstrap));
  try {
    const committed = new Map<number, bigint>();
    for (let p = 0; p < config.inputPartitions; p++) {
      committed.set(p, (await firstValueFrom(client.getOffset$(config.groupId, config.input, p))) ?? 0n);
    }
    return committed;
  } finally {
    await client.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`FAILED ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(2);
});
