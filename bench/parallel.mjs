#!/usr/bin/env node
// processConcurrently() against concatMap on a real rivvend 0.0.22 broker: Confluent Parallel
// Consumer's published scenario — one partition, 10,000 records, a handler that waits a random
// 0–5 ms, concurrency 100 (22 s in partition order, 2.06 s by key with 1,000 keys, 2.83 s
// unordered on its machine). Rows: concatMap, 'key' with 1, 10 and 1,000 keys, 'unordered', each
// with its time and its ratio to concatMap on the same run; then the operator's own CPU per record:
// a no-op handler through processConcurrently against concatMap over the same records, read from
// the broker, and in memory (no broker, no consumer: the operator alone).
//
//   npm run build && node bench/parallel.mjs            (RIVVEN_RX_DIST=<index.js> for another build)
//   options: --records N (default 10000)  --concurrency N (default 100)  --cpu-reps N (default 3)
//
// Output: a markdown table on stdout, progress on stderr. Targets (issue 25): 'key' with 1,000 keys
// and 'unordered' ≥ 15× faster than concatMap; the operator's CPU ≤ 5 µs per record.
import { performance } from 'node:perf_hooks';
import { Observable, concatMap, firstValueFrom, from, lastValueFrom, of, take, tap } from 'rxjs';
import { startBroker } from './lib/broker.mjs';
import { positiveIntegerOption } from './lib/cli-options.mjs';
import { rivven } from './lib/rivven.mjs';

const { Client, Consumer, processConcurrently } = rivven;

const argv = process.argv.slice(2);
const option = (name, fallback) => positiveIntegerOption(argv, name, fallback);
const RECORDS = option('--records', 10_000);
const CONCURRENCY = option('--concurrency', 100);
const CPU_REPS = option('--cpu-reps', 3);
const progress = (text) => process.stderr.write(`${text}\n`);

/** The scenario's handler: waits a random 0–5 ms. */
const wait0to5 = () => new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
const noop = () => of(undefined);

async function seed(address, topic, keys) {
  const clients = await Promise.all(Array.from({ length: 8 }, () => firstValueFrom(Client.connect$({ bootstrapServers: address }))));
  try {
    await firstValueFrom(clients[0].createTopic$(topic, 1));
    const batches = [];
    for (let i = 0; i < RECORDS; i += 250) {
      batches.push(Array.from({ length: Math.min(250, RECORDS - i) }, (_, j) => ({ key: `key-${(i + j) % keys}`, value: `record-${i + j}` })));
    }
    // Batches in order on one connection would be slow (~650 records/s); offsets need not follow keys.
    let next = 0;
    await Promise.all(
      clients.map(async (client) => {
        while (next < batches.length) await firstValueFrom(client.publishBatch$(topic, batches[next++], { partition: 0 }));
      }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

/** Read the whole topic through `operator`; wall time (ms) and process CPU (µs) from subscription to the last record. */
async function run(address, topic, operator) {
  const consumer = Consumer.create({ bootstrapServers: address, groupId: `${topic}-${Math.random().toString(36).slice(2)}`, assign: { [topic]: [0] }, enableAutoCommit: false });
  const cpu = process.cpuUsage();
  const started = performance.now();
  let n = 0;
  await lastValueFrom(consumer.records$.pipe(operator, tap(() => n++), take(RECORDS)));
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await consumer.close();
  if (n !== RECORDS) throw new Error(`read ${n} of ${RECORDS}`);
  return { ms, cpuUs: used.user + used.system };
}

/** concatMap with the same handler, acknowledging each record when its handler is done (the consumer's credit needs it). */
const inOrder = (handler) => concatMap((record) => from(handler(record)).pipe(tap({ complete: () => record.ack() })));

/** The operator alone, in memory: `count` fake records, a synchronous no-op handler. CPU µs. */
function inMemory(operator, count) {
  const records = Array.from({ length: count }, (_, i) => ({ topic: 't', partition: 0, offset: BigInt(i), key: Buffer.from(`key-${i % 1000}`), value: Buffer.alloc(0), ack() {} }));
  const source = new Observable((subscriber) => {
    for (const r of records) subscriber.next(r);
    subscriber.complete();
  });
  const cpu = process.cpuUsage();
  let n = 0;
  source.pipe(operator).subscribe(() => n++);
  const used = process.cpuUsage(cpu);
  if (n !== count) throw new Error(`in memory: ${n} of ${count}`);
  return used.user + used.system;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const broker = await startBroker();
  progress(`broker at ${broker.address}`);
  try {
    const topics = {};
    for (const keys of [1, 10, 1_000]) {
      topics[keys] = `parallel-${keys}-keys-${Date.now()}`;
      await seed(broker.address, topics[keys], keys);
      progress(`seeded ${RECORDS} records with ${keys} key(s)`);
    }
    const rows = [];
    const timed = async (name, topic, operator) => {
      const { ms } = await run(broker.address, topic, operator);
      rows.push({ name, ms });
      progress(`${name}: ${(ms / 1000).toFixed(2)} s`);
    };
    // Warm-up (JIT, connections), off the record.
    await run(broker.address, topics[1000], processConcurrently(noop, { ordering: 'unordered', concurrency: CONCURRENCY }));
    await timed('concatMap', topics[1000], inOrder(wait0to5));
    await timed("processConcurrently 'key', 1 key", topics[1], processConcurrently(wait0to5, { ordering: 'key', concurrency: CONCURRENCY }));
    await timed("processConcurrently 'key', 10 keys", topics[10], processConcurrently(wait0to5, { ordering: 'key', concurrency: CONCURRENCY }));
    await timed("processConcurrently 'key', 1,000 keys", topics[1000], processConcurrently(wait0to5, { ordering: 'key', concurrency: CONCURRENCY }));
    await timed("processConcurrently 'unordered'", topics[1000], processConcurrently(wait0to5, { ordering: 'unordered', concurrency: CONCURRENCY }));

    // CPU: a no-op handler, the same records, alternating sides.
    const brokerCpu = { concat: [], key: [] };
    const memCpu = { concat: [], key: [] };
    const MEM = 200_000;
    for (let rep = 0; rep < CPU_REPS; rep++) {
      const sides = rep % 2 === 0 ? ['concat', 'key'] : ['key', 'concat'];
      for (const side of sides) {
        const op = side === 'concat' ? inOrder(noop) : processConcurrently(noop, { ordering: 'key', concurrency: CONCURRENCY });
        brokerCpu[side].push((await run(broker.address, topics[1000], op)).cpuUs / RECORDS);
        const memOp = side === 'concat' ? inOrder(noop) : processConcurrently(noop, { ordering: 'key', concurrency: CONCURRENCY });
        memCpu[side].push(inMemory(memOp, MEM) / MEM);
      }
      progress(`cpu rep ${rep + 1}/${CPU_REPS}`);
    }
    const base = rows[0].ms;
    const lines = [
      `processConcurrently vs concatMap — one partition, ${RECORDS.toLocaleString('en-US')} records from rivvend 0.0.22, handler waits a random 0–5 ms, concurrency ${CONCURRENCY} (${new Date().toISOString()})`,
      '',
      '| row | time | speed-up vs concatMap |',
      '|---|---:|---:|',
      ...rows.map((r) => `| ${r.name} | ${(r.ms / 1000).toFixed(2)} s | ${(base / r.ms).toFixed(1)}× |`),
      '',
      `| operator CPU per record (no-op handler, median of ${CPU_REPS}) | concatMap | processConcurrently 'key' | operator's own |`,
      '|---|---:|---:|---:|',
      `| read from the broker (${RECORDS.toLocaleString('en-US')} records, consumer included) | ${median(brokerCpu.concat).toFixed(2)} µs | ${median(brokerCpu.key).toFixed(2)} µs | ${(median(brokerCpu.key) - median(brokerCpu.concat)).toFixed(2)} µs |`,
      `| in memory (${MEM.toLocaleString('en-US')} records, the operator alone) | ${median(memCpu.concat).toFixed(2)} µs | ${median(memCpu.key).toFixed(2)} µs | ${(median(memCpu.key) - median(memCpu.concat)).toFixed(2)} µs |`,
    ];
    console.log(lines.join('\n'));
  } finally {
    await broker.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
