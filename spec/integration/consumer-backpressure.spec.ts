/**
 * A slow subscriber on a 1,000,000 record backlog: the consumer must not buffer without bound.
 *
 * The consumer holds at most `maxPollRecords` emitted-but-unacknowledged records per partition,
 * so whatever the backlog, the records alive in the process (in the consumer and queued in the
 * subscriber's concatMap) are at most partitions × maxPollRecords. The test checks that count
 * directly (fetch positions vs records processed) and checks the memory it implies: live heap +
 * Buffer memory (measured after a forced GC, so garbage does not count) grows by at most
 *
 *     partitions × maxPollRecords × (valueSize + RECORD_FOOTPRINT) + MARGIN
 *
 * RECORD_FOOTPRINT (1 KiB) is the per-record cost of a ConsumerRecord beyond its value: the
 * object, its ReceiverOffset with two closures, bigint offset and timestamp, the headers array,
 * and concatMap's queue slot. Measured: 0.3–0.8 KiB per record including the value (1.9–4.7 MiB
 * for 6,000 records over several runs), so 1 KiB leaves headroom for other V8 versions. MARGIN (16 MiB)
 * covers what is not per record: fetch response frames being decoded, the connections' buffers,
 * code compiled while running and the slow subscriber's timers.
 * With 12 partitions × 500 records × (100 B + 1 KiB) + 16 MiB the bound is ~22 MiB; an unbounded
 * consumer would hold what it read of the backlog — it reads far faster than 1 record/ms, and the
 * whole 1 M records are ≥ 300 MiB at the measured footprint — so the bound separates the two.
 *
 * Own broker: the backlog is 1 M records (seeded over 128 connections in ~40 s, see seedBacklog).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { concatMap, map, timer } from 'rxjs';
import { Consumer } from '../../src/consumer/consumer';
import { startBroker, type BrokerProcess } from '../support/broker-process';
import { seedBacklog } from '../support/seed-backlog';

const PARTITIONS = 12;
const BACKLOG = 1_000_000;
const VALUE_SIZE = 100;
const MAX_POLL_RECORDS = 500;
const RECORD_FOOTPRINT = 1024;
const MARGIN = 16 * 1024 * 1024;
/** Records the slow subscriber processes (~1 per ms): enough for the fetch loop to hit the bound many times over. */
const PROCESS = 8_000;
const SAMPLE_EVERY = 500;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const liveBytes = () => {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

/**
 * Live bytes once the seeding's 128 connections are really gone: their sockets release buffers in
 * close callbacks after close() resolved, so collect between event-loop turns until the figure
 * stops falling (a baseline taken too early would hide growth by that much).
 */
async function settledLiveBytes(): Promise<number> {
  let previous = liveBytes();
  for (let round = 0; round < 50; round++) {
    await new Promise((resolve) => setImmediate(resolve));
    const now = liveBytes();
    if (now > previous - 256 * 1024) return Math.min(now, previous);
    previous = now;
  }
  return previous;
}

let broker: BrokerProcess;
beforeAll(async () => {
  broker = await startBroker();
}, 60_000);
afterAll(async () => {
  await broker?.stop();
});

it('a slow subscriber on a 1 M record backlog: records in memory ≤ partitions × maxPollRecords and memory growth stays under the bound', async () => {
  const topic = 'backlog';
  const seeded = await seedBacklog(broker.address, topic, PARTITIONS, BACKLOG, VALUE_SIZE);
  expect(seeded.records).toBe(BACKLOG);

  const consumer = Consumer.create({
    bootstrapServers: [broker.address],
    groupId: 'slow',
    assign: { [topic]: Array.from({ length: PARTITIONS }, (_, p) => p) },
    maxPollRecords: MAX_POLL_RECORDS,
    enableAutoCommit: false,
  });
  const recordBound = PARTITIONS * MAX_POLL_RECORDS;
  const byteBound = recordBound * (VALUE_SIZE + RECORD_FOOTPRINT) + MARGIN;
  const fetched = () => {
    let sum = 0n;
    for (let p = 0; p < PARTITIONS; p++) sum += consumer.position(topic, p) ?? 0n;
    return Number(sum);
  };

  const baseline = await settledLiveBytes();
  let processed = 0;
  let maxAhead = 0;
  let maxGrowth = 0;
  const samples: number[] = [];
  await new Promise<void>((resolve, reject) => {
    const subscription = consumer.records$
      .pipe(
        // The slow subscriber: one record per timer tick (~1 ms), in order.
        concatMap((record) => timer(1).pipe(map(() => record))),
      )
      .subscribe({
        next: (record) => {
          record.ack();
          processed++;
          maxAhead = Math.max(maxAhead, fetched() - processed);
          if (processed % SAMPLE_EVERY === 0) {
            const growth = liveBytes() - baseline;
            samples.push(growth);
            maxGrowth = Math.max(maxGrowth, growth);
          }
          // Fail fast: a consumer without flow control would otherwise pile up records until timeout.
          if (maxAhead > recordBound || maxGrowth > byteBound) {
            subscription.unsubscribe();
            reject(new Error(`unbounded: ${maxAhead} records fetched ahead (bound ${recordBound}), memory growth ${maxGrowth} B (bound ${byteBound} B)`));
            return;
          }
          if (processed === PROCESS) {
            subscription.unsubscribe();
            resolve();
          }
        },
        error: reject,
      });
  });
  const remaining = BACKLOG - fetched();
  await consumer.close();

  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  console.log(
    `backlog seeded in ${seeded.ms} ms (${seeded.recordsPerSecond} rec/s); processed ${processed}; max fetched ahead ${maxAhead} (bound ${recordBound}); ` +
      `memory growth max ${mib(maxGrowth)} (bound ${mib(byteBound)}), samples ${samples.map(mib).join(' ')}`,
  );
  // The backlog is still there: the consumer did not read it ahead of the subscriber.
  expect(remaining).toBeGreaterThan(BACKLOG - PROCESS - recordBound - 1);
  // Fetched but not processed: never more than the bound — and the bound was reached (prefetch works).
  expect(maxAhead).toBeLessThanOrEqual(recordBound);
  expect(maxAhead).toBeGreaterThan(recordBound / 2);
  expect(maxGrowth).toBeLessThan(byteBound);
}, 150_000);
