/**
 * processConcurrently() in virtual time (TestScheduler marbles): the three orderings, in-order
 * cumulative acknowledgements, the deferred window, retries with backoff, dead letters (and a
 * dead-letter produce that fails, then works), the failure without a dead-letter topic, the window
 * together with the consumer's acknowledgement credit (the real PartitionState and
 * Acknowledgements), option checks, and transactional()'s refusal.
 */
import { EMPTY, Observable, Subject, lastValueFrom, of, tap, throwError, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { Acknowledgements } from '../../src/consumer/acknowledgements';
import { HealthTracker } from '../../src/consumer/consumer-health';
import type { ConsumerRecord } from '../../src/consumer/consumer-record';
import { OwnedPartitions } from '../../src/consumer/owned-partitions';
import { PartitionState } from '../../src/consumer/partition-state';
import { ConfigError, ServerError } from '../../src/errors';
import { decodeDeadLetter } from '../../src/operators/dead-letter';
import { processConcurrently } from '../../src/operators/process-concurrently';
import { ProcessingFailedError, type ConcurrentRecord, type ProcessingEvent } from '../../src/operators/processing-options';
import { transactional } from '../../src/operators/transactional';
import { Log } from '../../src/observability/log';
import type { ProducerRecord, ProducerResult } from '../../src/producer/producer-record';
import type { TransactionalProducer } from '../../src/producer/transactional-producer';

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

interface Rec extends ConcurrentRecord {
  readonly name: string;
}

/** Records whose ack() writes `<name>@<time>` (the ack of a record stands for it and every earlier one of its partition). */
function records(ts: TestScheduler, acks: string[], specs: Record<string, { partition?: number; offset: number; key?: string }>): Record<string, Rec> {
  const out: Record<string, Rec> = {};
  for (const [name, spec] of Object.entries(specs)) {
    out[name] = {
      name,
      topic: 't',
      partition: spec.partition ?? 0,
      offset: BigInt(spec.offset),
      key: spec.key === undefined ? undefined : Buffer.from(spec.key),
      value: Buffer.from(`value of ${name}`),
      timestamp: 1_700_000_000_000n,
      ack: () => acks.push(`${name}@${ts.now()}`),
    };
  }
  return out;
}

describe('processConcurrently: orderings and in-order acknowledgements', () => {
  // a and b share key k1, c has k2; each handler takes 3 frames and emits its record's name.
  const cases: [string, 'key' | 'unordered' | 'partition', string, string[]][] = [
    // b waits for a (same key); c runs beside them. c finishes before b, so its ack waits for b's.
    ['key', 'key', '---a-c(b|)', ['a@3', 'c@6']],
    ['unordered', 'unordered', '---ab(c|)', ['a@3', 'b@4', 'c@5']],
    ['partition', 'partition', '---a--b--(c|)', ['a@3', 'b@6', 'c@9']],
  ];
  it.each(cases)("'%s' ordering", (_name, ordering, expected, expectedAcks) => {
    const ts = scheduler();
    const acks: string[] = [];
    ts.run(({ hot, cold, expectObservable }) => {
      const r = records(ts, acks, { a: { offset: 0, key: 'k1' }, b: { offset: 1, key: 'k1' }, c: { offset: 2, key: 'k2' } });
      const source = hot<Rec>('abc|', r);
      const out = source.pipe(processConcurrently((rec: Rec) => cold('---(x|)', { x: rec.name }), { ordering, concurrency: 10, scheduler: ts }));
      expectObservable(out).toBe(expected);
    });
    expect(acks).toEqual(expectedAcks);
  });

  it("keeps keyless records unordered under 'key', and partitions apart under 'partition'", () => {
    const ts = scheduler();
    const acks: string[] = [];
    ts.run(({ hot, cold, expectObservable }) => {
      const r = records(ts, acks, { a: { offset: 0 }, b: { offset: 1 }, c: { offset: 0, partition: 1 }, d: { offset: 1, partition: 1 } });
      expectObservable(hot<Rec>('ab|', r).pipe(processConcurrently((rec: Rec) => cold('---(x|)', { x: rec.name }), { scheduler: ts }))).toBe('---a(b|)');
      expectObservable(
        hot<Rec>('(cd)|', r).pipe(processConcurrently((rec: Rec) => cold('--(x|)', { x: rec.name }), { ordering: 'partition', scheduler: ts })),
      ).toBe('--c-(d|)');
    });
    expect(acks.sort()).toEqual(['a@3', 'b@4', 'c@2', 'd@4']);
  });

  it('bounds concurrency over all partitions', () => {
    const ts = scheduler();
    const acks: string[] = [];
    const seen: string[] = [];
    ts.run(({ hot, cold }) => {
      const r = records(ts, acks, { a: { offset: 0 }, b: { offset: 0, partition: 1 }, c: { offset: 0, partition: 2 } });
      hot<Rec>('(abc|)', r)
        .pipe(processConcurrently((rec: Rec) => cold('--(x|)', { x: rec.name }), { ordering: 'unordered', concurrency: 2, scheduler: ts }))
        .subscribe({ next: (x) => seen.push(`${x}@${ts.now()}`), complete: () => seen.push(`|@${ts.now()}`) });
    });
    expect(seen).toEqual(['a@2', 'b@2', 'c@4', '|@4']);
  });

  it('acknowledges a new epoch (offsets going back: a seek or rewind) without waiting for the old one', () => {
    const ts = scheduler();
    const acks: string[] = [];
    ts.run(({ hot, cold, expectObservable }) => {
      // a (offset 5) is slow; the consumer rewinds and b arrives at offset 3, a new epoch.
      const r = records(ts, acks, { a: { offset: 5 }, b: { offset: 3 } });
      const durations: Record<string, string> = { a: '----------(x|)', b: '-(x|)' };
      expectObservable(hot<Rec>('a-b|', r).pipe(processConcurrently((rec: Rec) => cold(durations[rec.name]!, { x: rec.name }), { ordering: 'unordered', scheduler: ts }))).toBe(
        '---b------(a|)',
      );
    });
    expect(acks).toEqual(['b@3', 'a@10']);
  });
});

describe('processConcurrently: the deferred window', () => {
  it('starts at most maxDeferredRecords past the committable offset; the rest starts as the front moves', () => {
    const ts = scheduler();
    const acks: string[] = [];
    const starts: string[] = [];
    ts.run(({ hot, cold, expectObservable }) => {
      const r = records(ts, acks, { a: { offset: 0 }, b: { offset: 1 }, c: { offset: 2 }, d: { offset: 3 } });
      const handler = (rec: Rec) => {
        starts.push(`${rec.name}@${ts.now()}`);
        return cold(rec.name === 'a' ? '---------(x|)' : '(x|)', { x: rec.name });
      };
      // a is slow: b (window slot 2) runs at once; c and d wait until a finishes at 9.
      expectObservable(hot<Rec>('abcd|', r).pipe(processConcurrently(handler, { ordering: 'unordered', maxDeferredRecords: 2, scheduler: ts }))).toBe('-b-------(acd|)');
    });
    expect(starts).toEqual(['a@0', 'b@1', 'c@9', 'd@9']);
    expect(acks).toEqual(['b@9', 'c@9', 'd@9']);
  });

  it('is the consumer credit: a slow front record stops the partition at maxPollRecords, it resumes by itself, commits never pass the gap', () => {
    // The real acknowledgement accounting of the consumer (PartitionState, Acknowledgements) and the
    // fetch loop's rule (fetch while outstanding × 2 ≤ maxPollRecords, at most the credit left).
    const ts = scheduler();
    const maxPollRecords = 8;
    const owned = new OwnedPartitions();
    const state = new PartitionState('t', 0, 0n, undefined);
    owned.add(state);
    const acknowledgements = new Acknowledgements({ maxPollRecords, config: { scheduler: ts }, owned, tracker: { recordsAcknowledged: 0 }, onAck: () => {}, holdsChanged: () => {}, commit$: () => EMPTY });
    const emittedAt: number[] = [];
    const running = new Set<bigint>();
    const acksSeen: bigint[] = [];
    let completedAt: number | undefined;
    const total = 40;
    ts.run(({ cold }) => {
      const fetched = new Observable<ConsumerRecord>((subscriber) => {
        const tick = (): void => {
          if (state.position >= BigInt(total)) return subscriber.complete();
          if (state.outstanding() * 2n <= BigInt(maxPollRecords)) {
            const n = Math.min(maxPollRecords - Number(state.outstanding()), total - Number(state.position));
            for (let i = 0; i < n; i++) {
              const offset = state.position;
              const message = { offset, partition: 0, key: Buffer.from(`k${offset % 4n}`), value: Buffer.alloc(0), timestamp: 0n, headers: [] };
              const record = acknowledgements.record(message, Buffer.alloc(0), state, state.epoch);
              state.position = state.emittedEnd = offset + 1n;
              emittedAt.push(ts.now());
              subscriber.next({
                ...record,
                ack: () => {
                  // The acknowledgement covers every offset up to this one: none of them may still run.
                  for (const u of running) expect(u > offset).toBe(true);
                  acksSeen.push(offset);
                  record.ack();
                },
              });
            }
          }
          ts.schedule(tick, 1);
        };
        tick();
      });
      const handler = (record: ConsumerRecord) => {
        running.add(record.offset);
        // Offset 2 is slow (offset 6, same key k2, waits behind it); everything else takes 1 ms.
        return cold(record.offset === 2n ? '-----------------------------(x|)' : '-(x|)', { x: record.offset }).pipe(tap({ complete: () => running.delete(record.offset) }));
      };
      fetched.pipe(processConcurrently(handler, { ordering: 'key', concurrency: 100, scheduler: ts })).subscribe({ complete: () => (completedAt = ts.now()) });
    });
    expect(completedAt).toBeDefined();
    expect(acksSeen.length).toBeGreaterThan(0);
    // Never more than maxPollRecords emitted past the committable offset.
    // While offset 2 runs (0–29), the partition fills its credit (8 past offset 2) and fetches nothing more.
    expect(emittedAt.filter((t) => t > 0 && t < 29)).toEqual([]);
    expect(emittedAt.slice(0, maxPollRecords)).toEqual(new Array(maxPollRecords).fill(0));
    // It resumes by itself once offset 2 is done.
    expect(emittedAt.filter((t) => t >= 29).length).toBe(total - maxPollRecords);
    expect(state.acked).toBe(BigInt(total));
  });
});

describe('processConcurrently: retries and dead letters', () => {
  const retry = { maxAttempts: 3, initialDelayMs: 10, multiplier: 2, jitter: 0 };

  it('retries a failed record with backoff, holding its partition commits, then acknowledges it', () => {
    const ts = scheduler();
    const acks: string[] = [];
    const events: string[] = [];
    ts.run(({ hot, cold, expectObservable }) => {
      const r = records(ts, acks, { a: { offset: 0 }, b: { offset: 1 } });
      let tries = 0;
      const handler = (rec: Rec) => (rec.name === 'a' && ++tries < 3 ? cold('-#', undefined, new Error(`try ${tries}`)) : cold('-(x|)', { x: rec.name }));
      const onEvent = (e: ProcessingEvent<Rec>) => events.push(`${e.type} ${e.record.name}@${ts.now()}${e.type === 'retrying' ? ` attempt ${e.attempt} wait ${e.delayMs}` : ''}`);
      // a: fails at 1, retried at 11, fails at 12, retried at 32, done at 33. b is done at 2.
      expectObservable(hot<Rec>('(ab|)', r).pipe(processConcurrently(handler, { ordering: 'unordered', retry, onEvent, scheduler: ts }))).toBe('-b' + '-'.repeat(31) + '(a|)');
    });
    expect(events).toEqual(['retrying a@1 attempt 1 wait 10', 'retrying a@12 attempt 2 wait 20']);
    expect(acks).toEqual(['b@33']);
  });

  it('does not retry a failure the retriable predicate refuses', () => {
    const ts = scheduler();
    const acks: string[] = [];
    ts.run(({ hot, cold, expectObservable }) => {
      const r = records(ts, acks, { a: { offset: 0 } });
      const boom = new ServerError('UNKNOWN_TOPIC: nope');
      const out = hot<Rec>('a|', r).pipe(processConcurrently(() => cold('-#', undefined, boom), { retry, scheduler: ts }));
      expectObservable(out).toBe('-#', undefined, expect.any(ProcessingFailedError) as unknown as Error);
    });
    expect(acks).toEqual([]);
  });

  it('dead-letters a poison record with its metadata after the last attempt, then acknowledges it; a failing dead-letter produce waits and says so', () => {
    const ts = scheduler();
    const acks: string[] = [];
    const events: string[] = [];
    const sent: ProducerRecord[] = [];
    let sends = 0;
    ts.run(({ hot, cold, expectObservable }) => {
      const r = records(ts, acks, { a: { offset: 7, key: 'poison' }, b: { offset: 8, key: 'fine' } });
      const producer = {
        send$: <C>(record: ProducerRecord<C>): Observable<ProducerResult<C>> => {
          sent.push(record as ProducerRecord);
          return ++sends === 1
            ? cold<ProducerResult<C>>('-#', undefined, new Error('broker away'))
            : cold<ProducerResult<C>>('-(r|)', { r: { topic: record.topic, partition: 0, offset: 0n, timestamp: 0n, correlation: undefined } });
        },
      };
      const handler = (rec: Rec) => (rec.name === 'a' ? cold<string>('-#', undefined, new TypeError('total is not a number')) : cold('-(x|)', { x: rec.name }));
      const onEvent = (e: ProcessingEvent<Rec>) => events.push(`${e.type} ${e.record.name}@${ts.now()}`);
      const out = hot<Rec>('(ab|)', r).pipe(
        processConcurrently(handler, {
          retry: { ...retry, maxAttempts: 2 },
          deadLetter: { producer, topic: (rec) => `${rec.topic}.dlq`, retry: { initialDelayMs: 5, jitter: 0 } },
          onEvent,
          scheduler: ts,
        }),
      );
      // a: fails at 1, retried at 11, fails at 12; dead letter fails at 13, again at 18, done at 19.
      expectObservable(out).toBe('-b' + '-'.repeat(17) + '|');
    });
    expect(events).toEqual(['retrying a@1', 'deadLetterFailed a@13', 'deadLettered a@19']);
    // b finished at 2, but its acknowledgement waited for a (acks are cumulative).
    expect(acks).toEqual(['b@19']);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.topic).toBe('t.dlq');
    expect(Buffer.from(sent[1]!.key as Buffer).toString()).toBe('poison');
    const letter = decodeDeadLetter(sent[1]!.value as Buffer);
    expect(letter).toMatchObject({ topic: 't', partition: 0, offset: 7n, timestamp: 1_700_000_000_000n, attempts: 2 });
    expect(letter.key?.toString()).toBe('poison');
    expect(letter.value.toString()).toBe('value of a');
    expect(letter.error).toEqual({ class: 'TypeError', message: 'total is not a number', code: undefined });
    expect(letter.firstFailureAt.getTime()).toBe(1);
    expect(letter.deadLetteredAt.getTime()).toBe(18);
  });

  it('fails the stream with a ProcessingFailedError without a dead-letter topic, acknowledging nothing past the record', async () => {
    const acks: string[] = [];
    const ts = scheduler();
    const r = records(ts, acks, { a: { offset: 0 }, b: { offset: 1 } });
    const failure = lastValueFrom(
      of(r['a']!, r['b']!).pipe(processConcurrently((rec: Rec) => (rec.name === 'a' ? throwError(() => new Error('nope')) : of(rec.name)), { retry: { maxAttempts: 1 } })),
    );
    await expect(failure).rejects.toMatchObject({ code: 'PROCESSING_FAILED', offset: 0n, attempts: 1 });
    await expect(failure).rejects.toThrow(/no dead-letter topic is set/);
    expect(acks).toEqual([]);
  });
});

describe('processConcurrently: a failing dead-letter produce holds the record in the consumer health', () => {
  it("holds the record (health().held: offset, reason, error, since) while the dead-letter produce fails, and the ack after the dead letter ends it", () => {
    // The consumer's own parts, wired as consumer.ts wires them.
    const ts = scheduler();
    const owned = new OwnedPartitions();
    const state = new PartitionState('t', 0, 0n, undefined);
    owned.add(state);
    const tracker = new HealthTracker(Log.silent, () => ts.now(), () => [{ topic: 't', partition: 0 }], () => owned.paused(), () => owned.held());
    const acknowledgements = new Acknowledgements({
      maxPollRecords: 100,
      config: { scheduler: ts },
      owned,
      tracker,
      onAck: () => {},
      holdsChanged: () => tracker.update({}),
      commit$: () => EMPTY,
    });
    const records = [0, 1, 2].map((o) => {
      const message = { offset: BigInt(o), partition: 0, key: Buffer.from(o === 1 ? 'poison' : `k${o}`), value: Buffer.from(`v${o}`), timestamp: 0n, headers: [] };
      return acknowledgements.record(message, message.value, state, state.epoch);
    });
    state.position = state.emittedEnd = state.delivered = 3n;
    let sends = 0;
    const heldAt: Record<number, ReturnType<typeof tracker.current>['held']> = {};
    ts.run(({ cold, hot, expectObservable }) => {
      const producer = {
        send$: <C>(record: ProducerRecord<C>): Observable<ProducerResult<C>> =>
          ++sends <= 2
            ? cold<ProducerResult<C>>('-#', undefined, new ServerError('UNKNOWN_TOPIC_OR_PARTITION: t.dlq'))
            : cold<ProducerResult<C>>('-(r|)', { r: { topic: record.topic, partition: 0, offset: 0n, timestamp: 0n, correlation: undefined } }),
      };
      const handler = (record: ConsumerRecord) => (record.offset === 1n ? cold<string>('-#', undefined, new TypeError('bad')) : cold('-(x|)', { x: `${record.offset}` }));
      const out = hot<ConsumerRecord>('(abc|)', { a: records[0]!, b: records[1]!, c: records[2]! }).pipe(
        processConcurrently(handler, { retry: { maxAttempts: 1 }, deadLetter: { producer, topic: 't.dlq', retry: { initialDelayMs: 10, multiplier: 1, jitter: 0 } }, scheduler: ts }),
      );
      // b fails at 1; the dead letter fails at 2 and at 13, is stored at 24 (then b is acknowledged).
      for (const t of [1, 3, 12, 14, 23, 25]) ts.schedule(() => (heldAt[t] = tracker.current().held), t);
      expectObservable(out).toBe('-(ac)' + '-'.repeat(19) + '|', { a: '0', c: '2' });
    });
    expect(heldAt[1]).toEqual([]);
    const held = { topic: 't', partition: 0, offset: 1n, reason: 'waiting on the dead-letter topic t.dlq', since: 2 };
    expect(heldAt[3]).toMatchObject([{ ...held, error: { class: 'ServerError', code: 'SERVER' } }]);
    expect(heldAt[3]![0]!.error!.message).toMatch(/UNKNOWN_TOPIC_OR_PARTITION/);
    expect(heldAt[12]).toEqual(heldAt[3]);
    expect(heldAt[14]).toMatchObject([held]); // failed again at 13: `since` stays
    expect(heldAt[23]).toMatchObject([held]);
    expect(heldAt[25]).toEqual([]);
    expect(state.acked).toBe(3n);
    expect(tracker.current()).toMatchObject({ held: [], warning: undefined, warningCounts: { held: 1 } });
  });
});

describe('processConcurrently: life cycle and options', () => {
  it('completes once every record received is done, also Promise handlers', async () => {
    const acks: string[] = [];
    const ts = scheduler();
    const r = records(ts, acks, { a: { offset: 0, key: 'x' }, b: { offset: 1, key: 'x' }, c: { offset: 2, key: 'y' } });
    const out = await lastValueFrom(
      of(r['a']!, r['b']!, r['c']!).pipe(
        processConcurrently(async (rec: Rec) => {
          await new Promise((resolve) => setTimeout(resolve, rec.name === 'a' ? 20 : 1));
          return rec.name;
        }),
        toArray(),
      ),
    );
    expect(out).toEqual(['c', 'a', 'b']);
    expect(acks.map((a) => a.split('@')[0])).toEqual(['a', 'c']);
  });

  it('runs synchronous handlers over a long stream without growing the stack', async () => {
    const acks: string[] = [];
    const ts = scheduler();
    const many = Array.from({ length: 50_000 }, (_, i) => records(ts, acks, { r: { offset: i, key: `k${i % 7}` } })['r']!);
    const out = await lastValueFrom(new Observable<Rec>((s) => { for (const m of many) s.next(m); s.complete(); }).pipe(processConcurrently((rec: Rec) => of(rec.offset), { concurrency: 3 }), toArray()));
    expect(out).toHaveLength(50_000);
    expect(acks.length).toBeGreaterThan(0);
  });

  it('unsubscribing cancels the handlers under way', () => {
    const source = new Subject<Rec>();
    const acks: string[] = [];
    const ts = scheduler();
    let cancelled = 0;
    const subscription = source
      .pipe(processConcurrently(() => new Observable<never>(() => () => cancelled++), { ordering: 'unordered' }))
      .subscribe();
    const r = records(ts, acks, { a: { offset: 0 }, b: { offset: 1 } });
    source.next(r['a']!);
    source.next(r['b']!);
    subscription.unsubscribe();
    expect(cancelled).toBe(2);
    expect(acks).toEqual([]);
  });

  it('refuses unknown and invalid options with the closest name', () => {
    const handler = () => of(1);
    expect(() => processConcurrently(handler, { concurency: 4 } as never)).toThrow(/did you mean 'concurrency'/);
    expect(() => processConcurrently(handler, { maxDeferredRecord: 4 } as never)).toThrow(/did you mean 'maxDeferredRecords'/);
    expect(() => processConcurrently(handler, { ordering: 'keys' } as never)).toThrow(ConfigError);
    expect(() => processConcurrently(handler, { concurrency: 0 })).toThrow(/concurrency/);
    expect(() => processConcurrently(handler, { retry: { maxAttempt: 2 } as never })).toThrow(/did you mean 'maxAttempts'/);
    expect(() => processConcurrently(handler, { deadLetter: { producer: {} as never, topic: 'x' } })).toThrow(/deadLetter.producer/);
    expect(() => processConcurrently(handler, { deadLetter: { producer: { send$: () => EMPTY }, topics: 'x' } as never })).toThrow(/did you mean 'topic'/);
  });
});

describe('exactly-once with concurrency', () => {
  it('transactional() refuses inputs that went through processConcurrently(), saying why', async () => {
    const acks: string[] = [];
    const ts = scheduler();
    const r = records(ts, acks, { a: { offset: 0 } });
    const producer = { transaction$: () => EMPTY } as unknown as TransactionalProducer;
    const consumer = { groupId: 'g', deliveredOffsets: () => [], rewindToCommitted$: () => of(undefined), acknowledgeDelivered: () => {} };
    const run = lastValueFrom(
      of(r['a']!).pipe(
        processConcurrently((rec: Rec) => of({ topic: 'out', value: 'x', source: rec as unknown as ConsumerRecord })),
        transactional(producer, { consumer, offsetsFrom: 'source' }),
      ),
      { defaultValue: undefined },
    );
    await expect(run).rejects.toThrow(/cannot commit inputs processed by processConcurrently/);
  });
});
