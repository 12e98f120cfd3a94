#!/usr/bin/env node
// Soak: a Producer and a group Consumer run together against one real rivvend 0.0.22 broker for
// N minutes; RSS and V8 heap are sampled every 10 s and judged for an upward trend.
//
//   npm run soak -- --minutes 10      (default 10; --interval S sampling period, default 10)
//
// Criterion (stated in the output): over the SECOND half of the run (after start-up, JIT and
// buffers settled), the least-squares slope of heapUsed (measured right after a full GC, so it is
// live memory, not garbage) must be ≤ 1 MB/min and the slope of RSS ≤ 4 MB/min. At the ~600
// records/s one connection carries, a leak of 30 bytes per record would already exceed 1 MB/min.
// Exit code 1 when the criterion fails or the pipeline stalls (no records consumed in a sample).
// Needs `npm run build` (imports dist/) and the harness; `npm run soak` does both.
import { performance } from 'node:perf_hooks';
import { rivven } from '../bench/lib/rivven.mjs';
import { createTopic, startBroker } from '../bench/lib/broker.mjs';
import { fmt, progress, slope } from '../bench/lib/stats.mjs';
import { benchValue } from '../bench/lib/values.mjs';

const { Consumer, Producer } = rivven;

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const at = argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(argv[at + 1]);
  if (!(value > 0)) throw new Error(`${name} needs a positive number`);
  return value;
};
const minutes = option('--minutes', 10);
const intervalSeconds = option('--interval', 10);
const HEAP_LIMIT_MB_PER_MIN = 1;
const RSS_LIMIT_MB_PER_MIN = 4;
const MAX_IN_FLIGHT = 2_000;
const PARTITIONS = 3;
const gc = globalThis.gc;

const mb = (bytes) => bytes / 1024 / 1024;

function sample(startedAt, counters) {
  gc?.();
  const memory = process.memoryUsage();
  return {
    minute: (performance.now() - startedAt) / 60_000,
    rssMB: mb(memory.rss),
    heapUsedMB: mb(memory.heapUsed),
    externalMB: mb(memory.external + memory.arrayBuffers),
    produced: counters.produced,
    consumed: counters.consumed,
  };
}

async function main() {
  progress(`soak: ${minutes} min, sample every ${intervalSeconds} s${gc ? ' (heap after gc())' : ' (run with --expose-gc for GC-settled heap numbers)'}`);
  const broker = await startBroker();
  const stopOnSignal = () => void broker.stop().finally(() => process.exit(130));
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  const topic = 'soak';
  const counters = { produced: 0, consumed: 0, failed: 0, sendErrors: new Map() };
  let producer;
  let consumer;
  let subscription;
  let stopping = false;
  let inFlight = 0;
  let sequence = 0;
  const samples = [];
  let stalled = false;
  try {
    await createTopic(broker.address, topic, PARTITIONS);
    producer = Producer.create({ bootstrapServers: [broker.address] });
    consumer = Consumer.create({ bootstrapServers: [broker.address], groupId: 'soak-group', topics: [topic] });
    subscription = consumer.records$.subscribe({
      next: (record) => {
        counters.consumed++;
        record.ack();
      },
      error: (error) => progress(`consumer error: ${error?.message ?? error}`),
    });
    // Keep up to MAX_IN_FLIGHT records outstanding: a steady load that never outruns the budget.
    const pump = () => {
      while (!stopping && inFlight < MAX_IN_FLIGHT) {
        inFlight++;
        const index = sequence++;
        producer.send$({ topic, value: benchValue(index, 100), key: `key-${index % 1000}` }).subscribe({
          next: () => counters.produced++,
          error: (error) => {
            counters.failed++;
            const name = error?.constructor?.name ?? 'Error';
            counters.sendErrors.set(name, (counters.sendErrors.get(name) ?? 0) + 1);
            inFlight--;
            pump();
          },
          complete: () => {
            inFlight--;
            pump();
          },
        });
      }
    };
    const startedAt = performance.now();
    pump();
    samples.push(sample(startedAt, counters));
    const total = Math.round((minutes * 60) / intervalSeconds);
    for (let i = 1; i <= total; i++) {
      await new Promise((r) => setTimeout(r, intervalSeconds * 1000)); // the sampling period, not synchronisation
      const s = sample(startedAt, counters);
      const previous = samples[samples.length - 1];
      samples.push(s);
      const rate = (s.consumed - previous.consumed) / intervalSeconds;
      progress(
        `t=${fmt(s.minute, 1)} min rss ${fmt(s.rssMB, 1)} MB heap ${fmt(s.heapUsedMB, 1)} MB ext ${fmt(s.externalMB, 1)} MB; produced ${s.produced} consumed ${s.consumed} (${fmt(rate)} /s) failed ${counters.failed}`,
      );
      if (s.consumed === previous.consumed) stalled = true;
    }
  } finally {
    stopping = true;
    subscription?.unsubscribe();
    await consumer?.close();
    await producer?.close();
    await broker.stop();
  }

  const half = samples.filter((s) => s.minute >= minutes / 2);
  const heapSlope = slope(half.map((s) => s.minute), half.map((s) => s.heapUsedMB));
  const rssSlope = slope(half.map((s) => s.minute), half.map((s) => s.rssMB));
  const heapOk = heapSlope !== null && heapSlope <= HEAP_LIMIT_MB_PER_MIN;
  const rssOk = rssSlope !== null && rssSlope <= RSS_LIMIT_MB_PER_MIN;
  const first = samples[0];
  const last = samples[samples.length - 1];
  const lines = [
    `# Soak: ${minutes} min produce + group consume`,
    '',
    `Criterion: over the second half of the run, heapUsed (after gc) slope ≤ ${HEAP_LIMIT_MB_PER_MIN} MB/min and RSS slope ≤ ${RSS_LIMIT_MB_PER_MIN} MB/min; the consumer must make progress in every ${intervalSeconds} s sample.`,
    '',
    `| | start | end | slope, 2nd half (MB/min) | limit | ok |`,
    `|---|---:|---:|---:|---:|---|`,
    `| heapUsed MB | ${fmt(first.heapUsedMB, 1)} | ${fmt(last.heapUsedMB, 1)} | ${fmt(heapSlope, 3)} | ${HEAP_LIMIT_MB_PER_MIN} | ${heapOk ? 'yes' : 'NO'} |`,
    `| RSS MB | ${fmt(first.rssMB, 1)} | ${fmt(last.rssMB, 1)} | ${fmt(rssSlope, 3)} | ${RSS_LIMIT_MB_PER_MIN} | ${rssOk ? 'yes' : 'NO'} |`,
    '',
    `Records produced ${last.produced}, consumed ${last.consumed}, failed ${counters.failed}${counters.failed ? ` (${[...counters.sendErrors].map(([k, v]) => `${k} ×${v}`).join(', ')})` : ''}; stalled: ${stalled ? 'YES' : 'no'}.`,
    '',
    'Samples (minute, rss MB, heapUsed MB, external+arrayBuffers MB, produced, consumed):',
    '',
    ...samples.map((s) => `    ${fmt(s.minute, 2)}  ${fmt(s.rssMB, 1)}  ${fmt(s.heapUsedMB, 2)}  ${fmt(s.externalMB, 2)}  ${s.produced}  ${s.consumed}`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (!heapOk || !rssOk || stalled || counters.failed > 0) process.exitCode = 1;
}

main().catch((error) => {
  process.stderr.write(`soak failed: ${error?.stack ?? error}\n`);
  process.exitCode = 1;
});
