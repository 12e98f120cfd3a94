// The rivven-rx (TypeScript) side of each workload, through the public API only.
import diagnostics from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { firstValueFrom, from, lastValueFrom } from 'rxjs';
import { count } from 'rxjs/operators';
import { rivven } from './rivven.mjs';
import { latencySummary } from './stats.mjs';
import { benchValue, readStamp, timedValue } from './values.mjs';

const { CHANNEL_NAMES, Consumer, Producer, ProducerPresets, produceTo } = rivven;

/**
 * Run `work` with a subscriber on every rivven-rx diagnostics channel (each handler counts, as a
 * cheap APM bridge would), to price what tracing costs when someone listens.
 */
export async function withEveryChannelSubscribed(work) {
  let events = 0;
  const count = () => {
    events++;
  };
  const tracing = ['request', 'produce', 'fetch', 'commit', 'transaction'].map((name) => diagnostics.tracingChannel(CHANNEL_NAMES[name]));
  const handlers = { start: count, end: count, asyncStart: count, asyncEnd: count, error: count };
  for (const channel of tracing) channel.subscribe(handlers);
  for (const name of ['connection', 'rebalance']) diagnostics.subscribe(CHANNEL_NAMES[name], count);
  try {
    return { ...(await work()), channelEvents: events };
  } finally {
    for (const channel of tracing) channel.unsubscribe(handlers);
    for (const name of ['connection', 'rebalance']) diagnostics.unsubscribe(CHANNEL_NAMES[name], count);
  }
}

const cpuSeconds = (since) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
};

/**
 * High-throughput preset, keyless records, first send → last acknowledgement. `connections`
 * overrides the preset's (8); `via` is how records go in: `'sendAll$'` (the stream API, through
 * `produceTo`, which is `sendAll$`) or `'send$'` (one cold `send$` subscribed per record, as a
 * loop of `send$` calls would).
 */
export async function produceThroughput(address, topic, { records, valueSize, connections, via = 'sendAll$' }) {
  const producer = Producer.create({ ...ProducerPresets.highThroughput, ...(connections ? { connections } : {}), bootstrapServers: [address] });
  await firstValueFrom(producer.refreshMetadata$(topic)); // connect + metadata, off the clock
  const input = [];
  for (let i = 0; i < records; i++) input.push({ topic, value: benchValue(i, valueSize) });
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const acked = via === 'send$' ? await sendEach(producer, input) : await lastValueFrom(from(input).pipe(produceTo(producer), count()));
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(cpuStart);
  const stats = producer.health();
  await producer.close();
  if (acked !== records) throw new Error(`TS: ${acked} of ${records} acknowledged`);
  return { records, seconds, cpuSeconds: cpu, batches: stats.batchesSent };
}

/** A loop of `send$`: one subscription per record, all at once; resolves with the count acknowledged. */
function sendEach(producer, input) {
  return new Promise((resolvePromise, reject) => {
    let acked = 0;
    const observer = {
      next: () => {
        if (++acked === input.length) resolvePromise(acked);
      },
      error: reject,
    };
    for (const record of input) producer.send$(record).subscribe(observer);
  });
}

/** Low-latency preset, one record at a time: the next send starts when the previous one is acknowledged. */
export async function produceLatency(address, topic, { records, valueSize, warmup = 20 }) {
  const producer = Producer.create({ ...ProducerPresets.lowLatency, bootstrapServers: [address] });
  await firstValueFrom(producer.refreshMetadata$(topic));
  for (let i = 0; i < warmup; i++) await firstValueFrom(producer.send$({ topic, value: benchValue(i, valueSize) }));
  const values = [];
  for (let i = 0; i < records; i++) values.push(benchValue(i, valueSize));
  const millis = [];
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  for (const value of values) {
    const sent = performance.now();
    await firstValueFrom(producer.send$({ topic, value }));
    millis.push(performance.now() - sent);
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(cpuStart);
  await producer.close();
  return { records, seconds, cpuSeconds: cpu, latencyMs: latencySummary(millis) };
}

/**
 * Read `records` records from offset 0 of every partition (static assignment, no commits), acking
 * each batch so flow control keeps fetching. Timed from subscription (which connects; the Rust
 * side's clock also includes `Consumer::new`) to the record that completes the count.
 */
let runNumber = 0;
/** A group of its own per run: Consumer.close() commits what was acknowledged, which would move the next run's start. */
const freshGroup = (prefix) => `${prefix}-${process.pid}-${++runNumber}`;

/** Fails the run when no record arrived for `ms` (a hung run must not hang the bench). */
function stallGuard(ms, what, reject) {
  let timer = setTimeout(fire, ms);
  function fire() {
    reject(new Error(`${what}: no progress for ${ms / 1000} s`));
  }
  return {
    progress() {
      clearTimeout(timer);
      timer = setTimeout(fire, ms);
    },
    stop: () => clearTimeout(timer),
  };
}

export async function consume(address, topic, { partitions, records }) {
  const assign = { [topic]: Array.from({ length: partitions }, (_, p) => p) };
  const consumer = Consumer.create({ bootstrapServers: [address], groupId: freshGroup('bench-consume-ts'), assign, enableAutoCommit: false });
  let received = 0;
  let valueBytes = 0;
  let batches = 0;
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  let guard;
  await new Promise((resolvePromise, reject) => {
    guard = stallGuard(60_000, `TS consume (${received} of ${records})`, reject);
    const subscription = consumer.batches$.subscribe({
      next: (batch) => {
        guard.progress();
        batches++;
        for (const record of batch) valueBytes += record.value.length;
        received += batch.length;
        batch[batch.length - 1]?.ack();
        if (received >= records) {
          subscription?.unsubscribe();
          resolvePromise();
        }
      },
      error: reject,
      complete: () => reject(new Error(`consumer completed after ${received} of ${records} records`)),
    });
    if (received >= records) subscription.unsubscribe();
  }).finally(() => guard?.stop());
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(cpuStart);
  await consumer.close();
  return { records: received, valueBytes, seconds, cpuSeconds: cpu, batches };
}

/**
 * End to end: a low-latency Producer sends `records` records at `rate`/s into partition 0 of a
 * one-partition topic while a Consumer in the same process reads them; each value carries its
 * send time, so latency = receive time − send time on one clock. One warm-up record goes first
 * (it waits for the consumer's first fetch), off the clock.
 */
export async function endToEnd(address, topic, { records, rate, valueSize }) {
  const producer = Producer.create({ ...ProducerPresets.lowLatency, bootstrapServers: [address] });
  await firstValueFrom(producer.refreshMetadata$(topic));
  const consumer = Consumer.create({ bootstrapServers: [address], groupId: freshGroup('bench-e2e-ts'), assign: { [topic]: [0] }, enableAutoCommit: false });
  const millis = [];
  let warmedUp;
  const warm = new Promise((r) => (warmedUp = r));
  let finish;
  let fail;
  const finished = new Promise((resolvePromise, reject) => {
    finish = resolvePromise;
    fail = reject;
  });
  const subscription = consumer.batches$.subscribe({
    next: (batch) => {
      const now = performance.now() * 1000;
      for (const record of batch) {
        if (record.offset === 0n) {
          warmedUp();
          continue;
        }
        const stamp = readStamp(record.value);
        if (stamp !== undefined) millis.push((now - stamp) / 1000);
      }
      batch[batch.length - 1]?.ack();
      if (millis.length >= records) finish();
    },
    error: (e) => fail(e),
  });
  try {
    await firstValueFrom(producer.send$({ topic, value: timedValue(performance.now() * 1000, valueSize) }));
    await warm;
    const cpuStart = process.cpuUsage();
    const started = performance.now();
    const interval = 1000 / rate;
    const sends = [];
    for (let i = 0; i < records; i++) {
      const due = started + i * interval;
      const wait = due - performance.now();
      // Pacing the offered load (not synchronisation): the next record is due at a fixed time.
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      sends.push(firstValueFrom(producer.send$({ topic, value: timedValue(performance.now() * 1000, valueSize) })));
    }
    await Promise.all(sends);
    const guard = stallGuard(60_000, `TS end-to-end (${millis.length} of ${records} arrived)`, fail);
    await finished.finally(() => guard.stop());
    const seconds = (performance.now() - started) / 1000;
    return { records: millis.length, seconds, cpuSeconds: cpuSeconds(cpuStart), latencyMs: latencySummary(millis) };
  } finally {
    subscription.unsubscribe();
    await consumer.close();
    await producer.close();
  }
}
