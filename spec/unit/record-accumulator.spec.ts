/**
 * Marble tests of the producer's batching (RecordAccumulator) in virtual time: linger and batch-size
 * triggering, per-partition ordering with one batch in flight, and flushes cutting lingers short.
 *
 * Records are marbles: a letter is a record of `size` bytes for partition 0 unless the test maps it
 * elsewhere. Each emitted batch is rendered as its records' letters joined (e.g. 'abc'), at the
 * virtual frame it left.
 */
import { ReplaySubject, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { RecordAccumulator, type Accumulable, type ReadyBatch } from '../../src/producer/record-accumulator';

interface TestRecord extends Accumulable {
  name: string;
  dropped: boolean;
}

const record = (name: string, size = 10): TestRecord => ({ name, size, dropped: false, batched: false });

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

/**
 * An accumulator fed by `input` marbles (letters → records; `partitionOf` maps letters), whose
 * batches are acknowledged `ackAfter` frames after they leave (Infinity: never). Returns the batches
 * as an Observable of rendered strings, prefixed with the partition when `showPartition`.
 */
function run(
  helpers: { cold: TestScheduler['createColdObservable'] },
  scheduler: TestScheduler,
  input: string,
  options: {
    batchSize?: number;
    lingerMs?: number;
    ackAfter?: number;
    sizes?: Record<string, number>;
    partitionOf?: (name: string) => number;
    showPartition?: boolean;
    /** The topic of a letter (default 't'); with it, batches render as `topic:letters`. */
    topicOf?: (name: string) => string;
    inFlightKey?: (topic: string, partition: number) => string;
    drops?: string;
    flushAt?: number;
  } = {},
): { batches$: Observable<string>; dropped: string[] } {
  // Replayed: a batch cut synchronously at frame 0 happens before expectObservable subscribes.
  const batches$ = new ReplaySubject<string>();
  const dropped: string[] = [];
  const records = new Map<string, TestRecord>();
  let urgent = false;
  const accumulator: RecordAccumulator<TestRecord> = new RecordAccumulator<TestRecord>({
    batchSize: options.batchSize ?? 1000,
    lingerMs: options.lingerMs ?? 0,
    maxRecords: 1000,
    scheduler,
    urgent: () => urgent,
    onDropped: (r) => dropped.push(r.name),
    ...(options.inFlightKey === undefined ? {} : { inFlightKey: options.inFlightKey }),
    onBatch: (batch: ReadyBatch<TestRecord>) => {
      const rendered = batch.records.map((r) => r.name).join('');
      batches$.next(options.topicOf ? `${batch.topic}:${rendered}` : options.showPartition ? `${batch.partition}:${rendered}` : rendered);
      if (options.ackAfter !== undefined && Number.isFinite(options.ackAfter)) {
        scheduler.schedule(() => accumulator.batchDone(batch.topic, batch.partition), options.ackAfter);
      }
    },
  });
  helpers.cold(input).subscribe((name) => {
    const r = record(name, options.sizes?.[name] ?? 10);
    records.set(name, r);
    accumulator.append(options.topicOf?.(name) ?? 't', options.partitionOf?.(name) ?? 0, r);
  });
  if (options.drops) helpers.cold(options.drops).subscribe((name) => (records.get(name)!.dropped = true));
  if (options.flushAt !== undefined) {
    scheduler.schedule(() => {
      urgent = true;
      accumulator.drain();
    }, options.flushAt);
  }
  return { batches$, dropped };
}

describe('RecordAccumulator (marbles)', () => {
  it('lingerMs: records arriving within the linger leave together, lingerMs after the first', () => {
    const scheduler = newScheduler();
    scheduler.run((helpers) => {
      const { batches$ } = run(helpers, scheduler, 'a 2ms b 3ms c 20ms d', { lingerMs: 10, ackAfter: 1 });
      // a@0 b@3 c@7 → one batch at 10; d@28 → its own batch at 38.
      helpers.expectObservable(batches$).toBe('10ms x 27ms y', { x: 'abc', y: 'd' });
    });
  });

  it('lingerMs 0: what arrives in the same frame leaves as one batch in that frame', () => {
    const scheduler = newScheduler();
    scheduler.run((helpers) => {
      // A group '(abc)' spans 5 frames, so d arrives at frame 10.
      const { batches$ } = run(helpers, scheduler, '(abc) 5ms d', { lingerMs: 0, ackAfter: 1 });
      helpers.expectObservable(batches$).toBe('x 9ms y', { x: 'abc', y: 'd' });
    });
  });

  it('batchSize: a partition whose queued bytes reach batchSize leaves at once, without waiting out the linger', () => {
    const scheduler = newScheduler();
    scheduler.run((helpers) => {
      // 10 bytes each, batchSize 30: the third record fills the batch at frame 2; d (frame 8) lingers.
      const { batches$ } = run(helpers, scheduler, 'abc 5ms d', { lingerMs: 50, batchSize: 30, ackAfter: 1 });
      helpers.expectObservable(batches$).toBe('--x 55ms y', { x: 'abc', y: 'd' });
    });
  });

  it('batchSize bounds a batch: an oversized backlog is cut into batches that each fit', () => {
    const scheduler = newScheduler();
    scheduler.run((helpers) => {
      // Held back by an in-flight batch, 5 records (10 bytes each) queue; batchSize 25 cuts them 2+2+1.
      const { batches$ } = run(helpers, scheduler, 'a 9ms (bcdef)', { lingerMs: 0, batchSize: 25, ackAfter: 20 });
      helpers.expectObservable(batches$).toBe('a 19ms b 19ms c 19ms d', { a: 'a', b: 'bc', c: 'de', d: 'f' });
    });
  });

  it('a single record larger than batchSize still leaves, alone', () => {
    const scheduler = newScheduler();
    scheduler.run((helpers) => {
      const { batches$ } = run(helpers, scheduler, 'a 5ms b', { lingerMs: 100, batchSize: 25, sizes: { a: 40 }, ackAfter: 1 });
      helpers.expectObservable(batches$).toBe('x 105ms y', { x: 'a', y: 'b' });
    });
  });

  it('records queued behind an in-flight batch leave when it is acknowledged, without a fresh linger', () => {
    const scheduler = newScheduler();
    scheduler.run((helpers) => {
      const { batches$ } = run(helpers, scheduler, 'a 5ms b', { lingerMs: 50, batchSize: 10, ackAfter: 20 });
      // a (a full batch) leaves at 0; b queues at 6 behind it and leaves with the ack at 20, not at 56.
      helpers.expectObservable(batches$).toBe('x 19ms y', { x: 'a', y: 'b' });
    });
  });

  it('one batch in flight per partition: the next waits for the ack, then leaves with all that queued, in order', () => {
    const scheduler = newScheduler();
    scheduler.run((helpers) => {
      const { batches$ } = run(helpers, scheduler, 'a 4ms b 4ms c 4ms d', { lingerMs: 0, ackAfter: 30 });
      // a leaves at 0 and is acked at 30; b, c, d queued meanwhile leave together at 30, in order.
      helpers.expectObservable(batches$).toBe('x 29ms y', { x: 'a', y: 'bcd' });
    });
  });

  it('partitions do not wait for each other: an unacknowledged batch on one partition holds back only that partition', () => {
    const scheduler = newScheduler();
    scheduler.run((helpers) => {
      const partitionOf = (name: string) => (name === name.toUpperCase() ? 1 : 0);
      const { batches$ } = run(helpers, scheduler, 'a 4ms A 4ms b 4ms B', {
        lingerMs: 0,
        ackAfter: Infinity,
        partitionOf,
        showPartition: true,
      });
      // Partition 0's first batch is never acknowledged, so b waits for ever; partition 1 is unaffected
      // until its own first batch is in flight.
      helpers.expectObservable(batches$).toBe('x 4ms y', { x: '0:a', y: '1:A' });
    });
  });

  it('inFlightKey: queues with one key share one batch in flight (the idempotent producer keys by partition number), taking turns', () => {
    const scheduler = newScheduler();
    scheduler.run((helpers) => {
      const topicOf = (name: string) => (name === name.toUpperCase() ? 'B' : 'A');
      const { batches$ } = run(helpers, scheduler, 'a 4ms B 4ms c', {
        lingerMs: 0,
        ackAfter: 30,
        topicOf,
        inFlightKey: (_topic, partition) => String(partition),
      });
      // A/0's a flies; B/0's B waits for it although it is another topic; when a is acknowledged B
      // goes (it waited first), and A/0's c after B's acknowledgement.
      helpers.expectObservable(batches$).toBe('x 29ms y 29ms z', { x: 'A:a', y: 'B:B', z: 'A:c' });
    });
  });

  it('without inFlightKey, the same partition number of two topics flies side by side', () => {
    const scheduler = newScheduler();
    scheduler.run((helpers) => {
      const topicOf = (name: string) => (name === name.toUpperCase() ? 'B' : 'A');
      const { batches$ } = run(helpers, scheduler, 'a 4ms B', { lingerMs: 0, ackAfter: 30, topicOf });
      helpers.expectObservable(batches$).toBe('x 4ms y', { x: 'A:a', y: 'B:B' });
    });
  });

  it('a waiting flush cuts lingers short: queued records leave at the flush, later ones at once', () => {
    const scheduler = newScheduler();
    scheduler.run((helpers) => {
      const { batches$ } = run(helpers, scheduler, 'ab 10ms c', { lingerMs: 100, flushAt: 5, ackAfter: 1 });
      helpers.expectObservable(batches$).toBe('5ms x 6ms y', { x: 'ab', y: 'c' });
    });
  });

  it('withdrawn records are skipped and reported, the rest of the batch keeps its order', () => {
    const scheduler = newScheduler();
    scheduler.run((helpers) => {
      const result = run(helpers, scheduler, '(abcd)', { lingerMs: 10, drops: '5ms (b)', ackAfter: 1 });
      helpers.expectObservable(result.batches$).toBe('10ms x', { x: 'acd' });
      helpers.flush();
      expect(result.dropped).toEqual(['b']);
    });
  });
});
