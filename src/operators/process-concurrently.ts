/**
 * `processConcurrently(handler, options)`: process many records of one partition at once, keep the
 * order that matters, and acknowledge so that a commit never passes a record still being worked
 * on. The operator for a handler that waits (a database, an HTTP API): `concatMap` reads one
 * partition at 1/handler-latency records a second, however fast the broker is.
 *
 *   consumer.records$.pipe(
 *     processConcurrently((record) => callApi(record), { ordering: 'key', concurrency: 100 }),
 *   )
 *
 * Ordering (`ordering`):
 * - `'key'` (default): records with the same key (within their topic-partition) one after another,
 *   in offset order; different keys at the same time. **Keyless records are unordered**: a record
 *   without a key has no order to keep with any other (sticky partitioning spreads keyless records
 *   over partitions anyway, so their relative order is an accident of batching).
 * - `'partition'`: one record per partition at a time (what `concatMap` does, per partition:
 *   partitions still run side by side).
 * - `'unordered'`: any record at any time, up to `concurrency`.
 *
 * Completion and acknowledgement: a record is done when its handler's Observable completes (or its
 * Promise resolves); what the handler emits flows on downstream as it comes. Records finish out of
 * order, but an acknowledgement is cumulative (acking offset 10 makes everything before it
 * committable), so the operator acknowledges per partition only the last record of the finished
 * run at the front: nothing past a record still running, waiting or retrying is ever committable.
 * Side effects belong in the handler: the record is acknowledged when the handler completes, not
 * when something downstream of the operator is done with the result.
 *
 * Flow control, one model: the consumer's acknowledgement credit. A partition holds at most
 * `maxPollRecords` records emitted and not acknowledged, and because the operator acknowledges only
 * up to the first unfinished record, *every record past the committable offset holds credit* —
 * running, finished out of order, or waiting for its key. So `maxPollRecords` is the deferred
 * window: when a slow record (a slow key) holds the front of a partition, that partition's fetches
 * stop once it is full (the consumer's "waiting for acknowledgements", visible in health$ after
 * maxPollIntervalMs) and resume by themselves as soon as the front finishes; the other partitions
 * and the other keys go on. Memory is bounded by partitions × maxPollRecords, whatever the keys do.
 * `maxDeferredRecords` (optional) narrows what is *started*: at most that many records per
 * partition running or finished past the committable offset; records beyond it wait in the
 * operator unstarted (they are already fetched and hold credit). Set it below maxPollRecords to
 * bound the work repeated after a crash (see below) while the consumer keeps reading ahead; left
 * unset, the credit alone is the window. Use ackMode 'manual' (the default): with 'onEmit' every
 * record is acknowledged on emission and commits would pass records still running.
 *
 * Rebalances, crashes, close: records emitted for a partition being revoked go on; the consumer's
 * revoke waits (maxDelayRebalanceMs) for their acknowledgements, commits up to the first gap, and
 * gives the partition up; acknowledgements that come later are ignored by the consumer. A member
 * that crashes loses nothing: the next owner starts at the committed offset, so it processes again
 * the records past it — at most the deferred window (maxDeferredRecords, else maxPollRecords) plus
 * what was acknowledged since the last commit (autoCommitIntervalMs). At-least-once, never
 * at-most-once. When the source completes (consumer.close()) the operator completes once every
 * record it received is done. Unsubscribing cancels the handlers under way.
 *
 * Failures: a handler failure is retried per record with backoff (`retry`, the project's one
 * Retrier; default 3 attempts), only that record's slot waits, its partition's commits wait behind
 * it. After the last attempt the record goes to the dead-letter topic (`deadLetter`, framing in
 * dead-letter.ts) and is then acknowledged; a dead-letter produce that fails is retried (default
 * without limit) while the partition waits, each failure told by a `deadLetterFailed` event and the
 * record held meanwhile (`receiverOffset.holdBecause`: the consumer's health$ `held` and its `held`
 * warning say which partition waits, on which record, why, since when). Without
 * `deadLetter` the stream fails with a ProcessingFailedError and nothing past the record is
 * acknowledged: re-subscribing processes it again. Nothing is dropped silently.
 *
 * Exactly-once: refused. `transactional()` commits an input's offset in the same transaction as its
 * outputs, so it needs outputs in offset order per partition and nobody else acknowledging — this
 * operator emits in completion order and acknowledges by itself, so the consumer would commit
 * offsets whose outputs are in no committed transaction. `transactional()` with `offsetsFrom:
 * 'source'` refuses items whose source passed through this operator (a ConfigError); with
 * 'delivered' it cannot tell, and must not be combined with it (docs/parallel.md).
 */
import { Observable, asyncScheduler, from, type ObservableInput, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import { Retrier } from '../client/retrier.js';
import { resolveRetryPolicy, type ResolvedRetryPolicy } from '../connection-settings.js';
import { ConfigError, RivvenError } from '../errors.js';
import type { Producer } from '../producer/producer.js';
import type { ProducerResult } from '../producer/producer-record.js';
import { integerIn, oneOf, optionsObject, rejectUnknownKeys } from '../settings-validation.js';
import { encodeDeadLetter } from './dead-letter.js';
import {
  ProcessingFailedError,
  type ConcurrentRecord,
  type DeadLetterOptions,
  type ProcessConcurrentlyOptions,
  type ProcessingEvent,
} from './processing-options.js';

const OPTION_KEYS = ['ordering', 'concurrency', 'maxDeferredRecords', 'retry', 'retriable', 'deadLetter', 'onEvent', 'scheduler'] as const;
const DEAD_LETTER_KEYS = ['producer', 'topic', 'retry'] as const;
const HANDLER_RETRY: Readonly<ResolvedRetryPolicy> = Object.freeze({ maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 10_000, multiplier: 2, jitter: 0.25 });
const DEAD_LETTER_RETRY: Readonly<ResolvedRetryPolicy> = Object.freeze({ maxAttempts: Number.POSITIVE_INFINITY, initialDelayMs: 100, maxDelayMs: 30_000, multiplier: 2, jitter: 0.25 });

/** Records that went through processConcurrently (transactional() refuses them as sources). */
const processedConcurrently = new WeakSet<object>();

/** Whether `record` went through processConcurrently() (for transactional()'s refusal). */
export function wasProcessedConcurrently(record: object): boolean {
  return processedConcurrently.has(record);
}

function defaultRetriable(error: unknown): boolean {
  return !(error instanceof RivvenError) || error.retriable;
}

// ---- the state of one subscription -------------------------------------------------------------

/** One record from arrival until its partition's committable offset passes it. */
class Entry<T extends ConcurrentRecord> {
  done = false;
  attempts = 0;
  firstFailureAt = 0;
  lastError: unknown;
  /** The handler attempt, the dead-letter produce, or the wait before the next try. */
  work: Subscription | undefined;

  constructor(
    readonly record: T,
    readonly segment: Segment<T>,
    /** Arrival number within the segment. */
    readonly seq: number,
    readonly lane: Lane<T> | undefined,
  ) {}
}

/**
 * A partition's records of one epoch, in arrival (= offset) order, from the first not finished.
 * An offset at or below the last one means the consumer started a new epoch (a seek, a rewind, a
 * new assignment): a new segment begins, so the new epoch's acknowledgements never wait behind the
 * old one's records (whose acks the consumer ignores anyway).
 */
class Segment<T extends ConcurrentRecord> {
  readonly entries: Entry<T>[] = [];
  head = 0;
  /** Records that left the front (finished and acknowledged): the seq of entries[head]. */
  headSeq = 0;
  nextSeq = 0;
  lastOffset: bigint | undefined;
  /** Ready to start but past maxDeferredRecords: started as the front moves. */
  held: Entry<T>[] = [];
}

/** Records that must run one after another (a key, or a whole partition): the running one's successors. */
class Lane<T extends ConcurrentRecord> {
  readonly waiting: Entry<T>[] = [];
  constructor(
    readonly id: string,
    readonly partition: PartitionSlot<T>,
  ) {}
}

class PartitionSlot<T extends ConcurrentRecord> {
  segment = new Segment<T>();
  readonly lanes = new Map<string, Lane<T>>();
}

/**
 * Run `handler` for the records of the stream, many at once, in the order `options.ordering`
 * keeps; emit what the handlers emit; acknowledge records in order per partition as they finish.
 * See the module comment.
 */
export function processConcurrently<T extends ConcurrentRecord, R>(
  handler: (record: T) => ObservableInput<R>,
  options?: ProcessConcurrentlyOptions<T>,
): OperatorFunction<T, R> {
  if (typeof handler !== 'function') throw new ConfigError('handler', 'processConcurrently expects a function (record) => Observable | Promise');
  const opts = optionsObject('processConcurrently', options);
  rejectUnknownKeys('processConcurrently', opts, OPTION_KEYS);
  const ordering = oneOf('ordering', opts.ordering ?? 'key', ['key', 'partition', 'unordered'] as const);
  const concurrency = integerIn('concurrency', opts.concurrency ?? 16, 1, 100_000);
  const maxDeferred = opts.maxDeferredRecords === undefined ? Number.POSITIVE_INFINITY : integerIn('maxDeferredRecords', opts.maxDeferredRecords, 1);
  const scheduler = opts.scheduler ?? asyncScheduler;
  const retrier = new Retrier(resolveRetryPolicy(opts.retry, HANDLER_RETRY), scheduler);
  if (opts.retriable !== undefined && typeof opts.retriable !== 'function') throw new ConfigError('retriable', 'expected a function (error, record) => boolean');
  if (opts.onEvent !== undefined && typeof opts.onEvent !== 'function') throw new ConfigError('onEvent', 'expected a function (event) => void');
  const retriable = opts.retriable ?? defaultRetriable;
  const deadLetter = opts.deadLetter === undefined ? undefined : resolveDeadLetter(opts.deadLetter, scheduler);
  const onEvent = opts.onEvent;

  return (source) =>
    new Observable<R>((subscriber) => {
      const partitions = new Map<string, Map<number, PartitionSlot<T>>>();
      /** Lane acquired, inside the window, waiting for a slot — oldest first. */
      const ready: Entry<T>[] = [];
      let readyHead = 0;
      const running = new Set<Entry<T>>();
      /** Records received and not finished. */
      let pending = 0;
      let sourceDone = false;
      let closed = false;
      let pumping = false;

      const slotOf = (record: T): PartitionSlot<T> => {
        let byPartition = partitions.get(record.topic);
        if (byPartition === undefined) partitions.set(record.topic, (byPartition = new Map()));
        let slot = byPartition.get(record.partition);
        if (slot === undefined) byPartition.set(record.partition, (slot = new PartitionSlot<T>()));
        return slot;
      };

      const fail = (error: unknown): void => {
        if (closed) return;
        closed = true;
        subscriber.error(error);
      };

      const emit = (event: ProcessingEvent<T>): void => {
        if (onEvent === undefined) return;
        try {
          onEvent(event);
        } catch (error) {
          fail(error);
        }
      };

      /** The entry holds its lane: start it when the window allows, else hold it in its segment. */
      const offer = (entry: Entry<T>): void => {
        if (entry.seq - entry.segment.headSeq < maxDeferred) ready.push(entry);
        else entry.segment.held.push(entry);
      };

      const pump = (): void => {
        if (pumping) return;
        pumping = true;
        try {
          while (!closed && running.size < concurrency && readyHead < ready.length) {
            const entry = ready[readyHead++]!;
            if (readyHead > 1024 && readyHead * 2 > ready.length) {
              ready.splice(0, readyHead);
              readyHead = 0;
            }
            running.add(entry);
            attempt(entry);
          }
          if (!closed && sourceDone && pending === 0) {
            closed = true;
            subscriber.complete();
          }
        } finally {
          pumping = false;
        }
      };

      const attempt = (entry: Entry<T>): void => {
        entry.work = undefined;
        entry.attempts++;
        let input: ObservableInput<R>;
        try {
          input = handler(entry.record);
        } catch (error) {
          failed(entry, error);
          return;
        }
        const attemptNo = entry.attempts;
        const work = from(input).subscribe({
          next: (value) => {
            if (!closed) subscriber.next(value);
          },
          error: (error: unknown) => {
            if (entry.attempts === attemptNo) failed(entry, error);
          },
          complete: () => {
            if (entry.attempts === attemptNo) finish(entry);
          },
        });
        // A handler that completed (or failed) synchronously has moved on already.
        if (!entry.done && entry.attempts === attemptNo && entry.work === undefined) entry.work = work;
      };

      const failed = (entry: Entry<T>, error: unknown): void => {
        if (closed) return;
        if (entry.attempts === 1) entry.firstFailureAt = scheduler.now();
        entry.lastError = error;
        let wait: number | undefined;
        try {
          wait = retriable(error, entry.record) ? retrier.next(error, entry.attempts, { retriable: () => true }) : undefined;
        } catch (callbackError) {
          fail(callbackError);
          return;
        }
        if (wait !== undefined) {
          emit({ type: 'retrying', record: entry.record, attempt: entry.attempts, delayMs: wait, error });
          if (!closed) entry.work = scheduler.schedule(() => attempt(entry), wait);
          return;
        }
        if (deadLetter === undefined) {
          fail(new ProcessingFailedError(entry.record, entry.attempts, error));
          return;
        }
        sendDeadLetter(entry, 0);
      };

      const sendDeadLetter = (entry: Entry<T>, failures: number): void => {
        entry.work = undefined;
        if (closed || deadLetter === undefined) return;
        const { record } = entry;
        let topic: string;
        let value: Buffer;
        try {
          topic = typeof deadLetter.topic === 'function' ? deadLetter.topic(record) : deadLetter.topic;
          value = encodeDeadLetter(record, entry.lastError, entry.attempts, entry.firstFailureAt, scheduler.now());
        } catch (error) {
          fail(new ProcessingFailedError(record, entry.attempts, entry.lastError, error));
          return;
        }
        let result: ProducerResult | undefined;
        let settled = false;
        const work = deadLetter.producer.send$(record.key === undefined ? { topic, value } : { topic, key: record.key, value }).subscribe({
          next: (r) => (result = r),
          error: (error: unknown) => {
            settled = true;
            const n = failures + 1;
            const wait = deadLetter.retrier.next(error, n, { retriable: (e) => !(e instanceof ConfigError) });
            if (wait === undefined) {
              fail(new ProcessingFailedError(record, entry.attempts, entry.lastError, error));
              return;
            }
            emit({ type: 'deadLetterFailed', record, failures: n, delayMs: wait, error });
            if (closed) return;
            // The partition waits on the dead-letter topic: the consumer's health$ says so (held) until the ack.
            record.receiverOffset?.holdBecause(`waiting on the dead-letter topic ${topic}`, error);
            entry.work = scheduler.schedule(() => sendDeadLetter(entry, n), wait);
          },
          complete: () => {
            settled = true;
            if (result !== undefined) emit({ type: 'deadLettered', record, attempts: entry.attempts, error: entry.lastError, deadLetter: result });
            finish(entry);
          },
        });
        if (!settled) entry.work = work;
      };

      const finish = (entry: Entry<T>): void => {
        if (closed || entry.done) return;
        entry.done = true;
        entry.work = undefined;
        running.delete(entry);
        pending--;
        const lane = entry.lane;
        if (lane !== undefined) {
          const next = lane.waiting.shift();
          if (next !== undefined) offer(next);
          else lane.partition.lanes.delete(lane.id);
        }
        advance(entry.segment);
        pump();
      };

      /** Move the segment's front past finished records; acknowledge the last of them (cumulative). */
      const advance = (segment: Segment<T>): void => {
        const { entries } = segment;
        let last: Entry<T> | undefined;
        while (segment.head < entries.length && entries[segment.head]!.done) {
          last = entries[segment.head]!;
          entries[segment.head] = undefined as unknown as Entry<T>;
          segment.head++;
          segment.headSeq++;
        }
        if (last === undefined) return;
        if (segment.head === entries.length) {
          entries.length = 0;
          segment.head = 0;
        } else if (segment.head > 1024 && segment.head * 2 > entries.length) {
          entries.splice(0, segment.head);
          segment.head = 0;
        }
        last.record.ack();
        if (segment.held.length > 0) {
          const still: Entry<T>[] = [];
          for (const held of segment.held.sort((a, b) => a.seq - b.seq)) {
            if (held.seq - segment.headSeq < maxDeferred) ready.push(held);
            else still.push(held);
          }
          segment.held = still;
        }
      };

      const receive = (record: T): void => {
        if (closed) return;
        processedConcurrently.add(record);
        const slot = slotOf(record);
        let segment = slot.segment;
        if (segment.lastOffset !== undefined && record.offset <= segment.lastOffset) segment = slot.segment = new Segment<T>();
        segment.lastOffset = record.offset;
        let lane: Lane<T> | undefined;
        let laneBusy = false;
        if (ordering === 'partition' || (ordering === 'key' && record.key !== undefined)) {
          const id = ordering === 'partition' ? '' : record.key!.toString('latin1');
          lane = slot.lanes.get(id);
          if (lane === undefined) slot.lanes.set(id, (lane = new Lane<T>(id, slot)));
          else laneBusy = true;
        }
        const entry = new Entry<T>(record, segment, segment.nextSeq++, lane);
        segment.entries.push(entry);
        pending++;
        if (laneBusy) lane!.waiting.push(entry);
        else offer(entry);
        pump();
      };

      const upstream = source.subscribe({
        next: receive,
        error: (error: unknown) => fail(error),
        complete: () => {
          sourceDone = true;
          pump();
        },
      });

      return () => {
        closed = true;
        upstream.unsubscribe();
        for (const entry of running) entry.work?.unsubscribe();
        running.clear();
      };
    });
}

function resolveDeadLetter<T extends ConcurrentRecord>(
  options: DeadLetterOptions<T>,
  scheduler: SchedulerLike,
): { producer: Pick<Producer, 'send$'>; topic: string | ((record: T) => string); retrier: Retrier } {
  const dl = optionsObject('deadLetter', options);
  rejectUnknownKeys('deadLetter', dl, DEAD_LETTER_KEYS);
  if (dl.producer === undefined || dl.producer === null || typeof dl.producer.send$ !== 'function') {
    throw new ConfigError('deadLetter.producer', 'expected a Producer (something with send$) to send dead letters with');
  }
  if (typeof dl.topic === 'string') {
    if (dl.topic.length === 0) throw new ConfigError('deadLetter.topic', 'expected a topic name, got an empty string');
  } else if (typeof dl.topic !== 'function') {
    throw new ConfigError('deadLetter.topic', 'expected a topic name or a function (record) => topic');
  }
  return { producer: dl.producer, topic: dl.topic, retrier: new Retrier(resolveRetryPolicy(dl.retry, DEAD_LETTER_RETRY, 'deadLetter.retry'), scheduler) };
}
