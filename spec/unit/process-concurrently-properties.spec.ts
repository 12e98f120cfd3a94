/**
 * processConcurrently() against random workloads (fast-check, virtual time): random partitions,
 * keys (some keyless), arrival times, handler durations, failures (retried, some past the last
 * attempt and dead-lettered, some dead-letter produces failing first), orderings, concurrency and
 * deferred windows. Whatever the draw:
 * - records with the same key (same partition for 'partition') run one after another, in offset order;
 * - an acknowledgement never covers a record that is not finished (acks are cumulative);
 * - at most maxDeferredRecords records per partition run or wait finished past the committable offset;
 * - every record is processed (finished or dead-lettered), each partition ends acknowledged up
 *   to its last record, and the stream completes.
 */
import fc from 'fast-check';
import { Observable, map, mergeMap, tap, throwError, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { processConcurrently } from '../../src/operators/process-concurrently';
import type { ConcurrentRecord, ProcessingOrder } from '../../src/operators/processing-options';
import type { ProducerRecord, ProducerResult } from '../../src/producer/producer-record';

interface Draw {
  ordering: ProcessingOrder;
  concurrency: number;
  maxDeferredRecords: number | undefined;
  records: { partition: number; key: number | undefined; gap: number; duration: number; failures: number; deadLetterFailures: number }[];
}

const draw: fc.Arbitrary<Draw> = fc.record({
  ordering: fc.constantFrom<ProcessingOrder>('key', 'partition', 'unordered'),
  concurrency: fc.integer({ min: 1, max: 8 }),
  maxDeferredRecords: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
  records: fc.array(
    fc.record({
      partition: fc.integer({ min: 0, max: 2 }),
      key: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined, freq: 5 }),
      gap: fc.integer({ min: 0, max: 3 }),
      duration: fc.integer({ min: 0, max: 12 }),
      // 0–2: succeeds after that many failures; 3: dead-lettered (maxAttempts 3).
      failures: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 3 })),
      deadLetterFailures: fc.integer({ min: 0, max: 2 }),
    }),
    { minLength: 1, maxLength: 40 },
  ),
});

interface Rec extends ConcurrentRecord {
  readonly index: number;
}

function runDraw(d: Draw): void {
  const ts = new TestScheduler(() => {});
  const offsets = [0, 0, 0];
  const recs: Rec[] = d.records.map((spec, index) => ({
    index,
    topic: 't',
    partition: spec.partition,
    offset: BigInt(offsets[spec.partition]!++),
    key: spec.key === undefined ? undefined : Buffer.from(`k${spec.key}`),
    value: Buffer.from(`v${index}`),
    timestamp: 0n,
    ack: () => acked(index),
  }));
  const attempts = new Array<number>(recs.length).fill(0);
  const firstStart = new Array<number | undefined>(recs.length).fill(undefined);
  const finishedAt = new Array<number | undefined>(recs.length).fill(undefined);
  const deadLetterSends = new Array<number>(recs.length).fill(0);
  const running = new Set<number>();
  const ackedUpTo = [-1n, -1n, -1n];
  let completed = false;
  let failure: unknown;

  const finished = (i: number): void => {
    expect(finishedAt[i]).toBeUndefined();
    finishedAt[i] = ts.now();
  };

  function acked(i: number): void {
    const r = recs[i]!;
    // Cumulative: every record of the partition up to this offset is finished.
    for (const other of recs) {
      if (other.partition === r.partition && other.offset <= r.offset) expect(finishedAt[other.index]).toBeDefined();
    }
    expect(r.offset > ackedUpTo[r.partition]!).toBe(true);
    ackedUpTo[r.partition] = r.offset;
  }

  const checkWindow = (partition: number): void => {
    if (d.maxDeferredRecords === undefined) return;
    // Started (running or finished) records of the partition past the committable offset.
    const past = recs.filter((r) => r.partition === partition && r.offset > ackedUpTo[partition]! && firstStart[r.index] !== undefined).length;
    expect(past).toBeLessThanOrEqual(d.maxDeferredRecords);
  };

  const handler = (r: Rec): Observable<number> => {
    const i = r.index;
    const spec = d.records[i]!;
    if (attempts[i] === 0) {
      firstStart[i] = ts.now();
      // Order: the previous record of the same lane is finished before this one starts.
      const lane = recs.filter(
        (o) =>
          o.partition === r.partition &&
          o.offset < r.offset &&
          (d.ordering === 'partition' || (d.ordering === 'key' && r.key !== undefined && o.key !== undefined && o.key.equals(r.key))),
      );
      for (const o of lane) expect(finishedAt[o.index]).toBeDefined();
      checkWindow(r.partition);
    }
    attempts[i]!++;
    expect(running.has(i)).toBe(false);
    running.add(i);
    expect(running.size).toBeLessThanOrEqual(d.concurrency);
    const fails = attempts[i]! <= spec.failures;
    return timer(spec.duration, ts).pipe(
      tap(() => running.delete(i)),
      mergeMap(() => (fails ? throwError(() => new Error(`record ${i} attempt ${attempts[i]}`)) : [i])),
      tap({ complete: () => finished(i) }),
    );
  };

  const producer = {
    send$: <C>(record: ProducerRecord<C>): Observable<ProducerResult<C>> => {
      const envelope = JSON.parse(Buffer.from(record.value as Buffer).toString()) as { value: string };
      const index = Number(Buffer.from(envelope.value, 'base64').toString().slice(1));
      const n = ++deadLetterSends[index]!;
      const fails = n <= d.records[index]!.deadLetterFailures;
      return timer(1, ts).pipe(
        mergeMap(() => (fails ? throwError(() => new Error('dead-letter topic away')) : [0])),
        map(() => ({ topic: record.topic, partition: 0, offset: 0n, timestamp: 0n, correlation: undefined })),
        tap({ complete: () => finished(index) }),
      );
    },
  };

  const source = new Observable<Rec>((subscriber) => {
    let at = 0;
    for (const r of recs) {
      at += d.records[r.index]!.gap;
      ts.schedule(() => subscriber.next(r), at);
    }
    ts.schedule(() => subscriber.complete(), at);
  });
  source
    .pipe(
      processConcurrently(handler, {
        ordering: d.ordering,
        concurrency: d.concurrency,
        ...(d.maxDeferredRecords === undefined ? {} : { maxDeferredRecords: d.maxDeferredRecords }),
        retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 4, jitter: 0 },
        deadLetter: { producer, topic: 'dlq', retry: { initialDelayMs: 1, maxDelayMs: 2, jitter: 0 } },
        scheduler: ts,
      }),
    )
    .subscribe({ complete: () => (completed = true), error: (e: unknown) => (failure = e) });
  ts.flush();

  expect(failure).toBeUndefined();
  expect(completed).toBe(true);
  // Every record processed: finished, or dead-lettered after its last attempt.
  for (const r of recs) {
    expect(finishedAt[r.index]).toBeDefined();
    const spec = d.records[r.index]!;
    expect(attempts[r.index]).toBe(Math.min(spec.failures + 1, 3));
    expect(deadLetterSends[r.index]).toBe(spec.failures >= 3 ? spec.deadLetterFailures + 1 : 0);
  }
  for (let p = 0; p < 3; p++) expect(ackedUpTo[p]).toBe(BigInt(offsets[p]! - 1));
}

describe('processConcurrently properties', () => {
  it('keeps per-key order, never acknowledges past an unfinished record, stays in its window, processes every record', () => {
    fc.assert(
      fc.property(draw, (d) => {
        runDraw(d);
      }),
      { numRuns: 300, seed: 25 },
    );
  });
});
