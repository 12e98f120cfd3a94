/**
 * `transactional(producer, { consumer })`: exactly-once consume-transform-produce as one operator
 * (Alpakka's `Transactional.flow`, Reactor Kafka's `sendTransactionally`).
 *
 *   consumer.records$.pipe(
 *     map((r) => ({ topic: 'out', key: r.key, value: transform(r.value) })),
 *     transactional(producer, { consumer, maxBatchRecords: 500, maxBatchMs: 100 }),
 *   )
 *
 * The outputs are grouped into transactions (at most `maxBatchRecords` outputs, or what arrived
 * within `maxBatchMs`); one transaction is in flight at a time. Each one begins, publishes its
 * outputs (pipelined), adds the offsets of the inputs consumed (the next offset to read), commits,
 * and emits a `CommittedTransaction`. When anything fails the transaction is aborted, the consumer
 * is rewound to the group's committed offsets, buffered outputs are dropped, and the error reaches
 * the subscriber as a `TransactionAbortedError`. Re-subscribing (a `retry()` placed after this
 * operator) resumes from the committed offsets, so every input's outputs are committed exactly once.
 *
 * Which inputs a transaction covers (`offsetsFrom`):
 * - `'delivered'` (default): the consumer's `deliveredOffsets()` when the transaction closes. This is
 *   exact when every output is emitted synchronously while its input is delivered — `map`, `filter`,
 *   `mergeMap(r => [a, b])` over synchronous arrays — because batches close at a microtask or timer
 *   boundary, after the records being delivered have produced all their outputs.
 * - `'source'`: each item carries the input it came from (`source`); the transaction commits
 *   1 + the highest `source.offset` per partition. Use it for asynchronous transforms, and keep input
 *   order per partition (`concatMap`): committing an input's offset commits everything before it.
 *   Emit an input's outputs together as one array (an array is never split across transactions),
 *   and `{ source }` alone for an input with no output.
 */
import { EMPTY, Observable, Subscription, concat, ignoreElements, interval, lastValueFrom, asyncScheduler, type OperatorFunction, type SchedulerLike } from 'rxjs';
import type { ConsumerRecord, RebalanceEvent, TopicPartition, TopicPartitionOffset } from '../consumer/consumer-record.js';
import { ConfigError, RivvenError, TransactionInterruptedError } from '../errors.js';
import type { TransactionalProducer, TransactionalResult } from '../producer/transactional-producer.js';
import type { TransactionalRecord } from '../producer/transaction-state.js';
import { wasProcessedConcurrently } from './process-concurrently.js';

/** An output record; `source` is the input it came from (required with `offsetsFrom: 'source'`). */
export interface TransactionalOutput extends TransactionalRecord {
  /** The input this output came from. */
  source?: ConsumerRecord;
}

/** Commits an input that produced no output (`offsetsFrom: 'source'`). */
export interface ConsumedOnly {
  /** The input consumed. */
  source: ConsumerRecord;
  /** Absent: this item publishes nothing. */
  topic?: undefined;
}

/** What `transactional()` takes: an output record, or an input consumed without output. */
export type TransactionalItem = TransactionalOutput | ConsumedOnly;

/** What the operator needs from the consumer (a `Consumer` fits). */
export interface TransactionalConsumer {
  /** The group the input offsets are committed under. */
  readonly groupId: string;
  /** Per partition, the offset after the last record delivered. */
  deliveredOffsets(): TopicPartitionOffset[];
  /** Go back to the group's committed offsets (all partitions, or the ones given). */
  rewindToCommitted$(partitions?: TopicPartition[]): Observable<void>;
  /**
   * Frees fetch credit for inputs whose transaction committed; `committed: true` tells the consumer
   * the group already has these offsets, so its own commits (on revoke, close, auto-commit) never
   * write an older offset over them.
   */
  acknowledgeDelivered(offsets: readonly TopicPartitionOffset[], options?: { committed?: boolean }): void;
  /** Revokes (emitted while the revoked partitions still count in deliveredOffsets()) close the open batch. */
  readonly rebalances$?: Observable<RebalanceEvent>;
}

/** Options of `transactional()`. */
export interface TransactionalOptions {
  /** Supplies the group id the input offsets are committed under, and is rewound on abort. */
  consumer: TransactionalConsumer;
  /** Close a transaction once it holds this many outputs (arrays count whole). Default 500. */
  maxBatchRecords?: number;
  /** Close a transaction at least this often while inputs flow (ms). Default 100. */
  maxBatchMs?: number;
  /** How inputs are attributed to transactions; see the module comment. Default `'delivered'`. */
  offsetsFrom?: 'delivered' | 'source';
  /** Where the batch timer runs (virtual time in tests). Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** One committed transaction. */
export interface CommittedTransaction {
  /** The published outputs, in the order they arrived; visible to read_committed readers now. */
  results: TransactionalResult[];
  /** The input offsets committed with it (next offset to read, per partition). */
  offsets: TopicPartitionOffset[];
}

/** A transaction of the operator failed and was aborted; `cause` says why. */
export class TransactionAbortedError extends RivvenError {
  readonly code = 'TRANSACTION_ABORTED' as const;
  /** False when the cause cannot pass by retrying (fencing, configuration); true otherwise. */
  readonly retriable: boolean;
  /** Whether the consumer was rewound to the committed offsets (if not, re-create it before retrying). */
  readonly rewound: boolean;

  constructor(cause: unknown, rewound: boolean, rewindError?: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const fate =
      cause instanceof TransactionInterruptedError && cause.mayHaveCommitted
        ? 'It may have committed (its answer was lost): the group\'s committed offsets say, and the rewind follows them'
        : 'Its inputs were not committed, and nothing of its outputs is visible to read_committed readers';
    super(
      `transaction aborted: ${reason}. ${fate}` +
        (rewound ? '; the consumer is back at the committed offsets' : `; rewinding the consumer failed too (${rewindError instanceof Error ? rewindError.message : String(rewindError)})`),
      { cause },
    );
    this.retriable = !(cause instanceof RivvenError) || cause.retriable;
    this.rewound = rewound;
  }
}

type Item = TransactionalItem;

interface Sealed {
  items: Item[];
  offsets: TopicPartitionOffset[];
}

/**
 * Exactly-once consume-transform-produce: groups the items into transactions (at most
 * `maxBatchRecords` outputs, or what arrived within `maxBatchMs`), each publishing its outputs and
 * committing the inputs' offsets together, and emits each `CommittedTransaction`. On a failure the
 * transaction is aborted, the consumer rewound to the committed offsets, and the stream errors
 * with a `TransactionAbortedError`. Throws ConfigError for bad options.
 */
export function transactional(
  producer: TransactionalProducer,
  options: TransactionalOptions,
): OperatorFunction<TransactionalItem | readonly TransactionalItem[], CommittedTransaction> {
  const maxBatchRecords = options.maxBatchRecords ?? 500;
  const maxBatchMs = options.maxBatchMs ?? 100;
  const offsetsFrom = options.offsetsFrom ?? 'delivered';
  if (!Number.isSafeInteger(maxBatchRecords) || maxBatchRecords <= 0) throw new ConfigError('maxBatchRecords', `expected a positive integer, got ${maxBatchRecords}`);
  if (!Number.isSafeInteger(maxBatchMs) || maxBatchMs <= 0) throw new ConfigError('maxBatchMs', `expected a positive integer, got ${maxBatchMs}`);
  if (offsetsFrom !== 'delivered' && offsetsFrom !== 'source') throw new ConfigError('offsetsFrom', `expected 'delivered' or 'source', got ${String(offsetsFrom)}`);
  const { consumer } = options;
  const scheduler = options.scheduler ?? asyncScheduler;

  return (source) =>
    new Observable<CommittedTransaction>((subscriber) => {
      /** Outputs since the last seal. */
      let open: Item[] = [];
      /** Closed batches waiting for their transaction, oldest first. */
      const sealed: Sealed[] = [];
      /** Highest offset sealed so far per partition: a new batch must go beyond it to carry offsets. */
      const sealedUpTo = new Map<string, bigint>();
      let inFlight = false;
      let sealQueued = false;
      let upstreamDone = false;
      let failed = false;
      let upstreamError: { error: unknown } | undefined;
      const subscriptions = new Subscription();

      const fail = (cause: unknown): void => {
        if (failed) return;
        failed = true;
        open = [];
        sealed.length = 0;
        // Subscribing stops emission for the partitions at once, before anything else runs.
        const rewind = lastValueFrom(consumer.rewindToCommitted$(), { defaultValue: undefined });
        subscriptions.unsubscribe();
        rewind.then(
          () => subscriber.error(new TransactionAbortedError(cause, true)),
          (rewindError: unknown) => subscriber.error(new TransactionAbortedError(cause, false, rewindError)),
        );
      };

      /** Delivered offsets when the open batch reached maxBatchRecords (updated while the same inputs add outputs). */
      let boundary: TopicPartitionOffset[] | undefined;

      /** Close the open batch with the input offsets it covers (if it carries anything at all). */
      const seal = (delivered?: TopicPartitionOffset[]): void => {
        if (failed) return;
        const items = open;
        boundary = undefined;
        const candidates = offsetsFrom === 'delivered' ? (delivered ?? consumer.deliveredOffsets()) : offsetsOfSources(items);
        const offsets = candidates.filter((o) => {
          const done = sealedUpTo.get(tpKey(o));
          return done === undefined || o.offset > done;
        });
        if (items.length === 0 && offsets.length === 0) return;
        open = [];
        for (const o of offsets) sealedUpTo.set(tpKey(o), o.offset);
        sealed.push({ items, offsets });
      };

      /** Run the oldest sealed batch as a transaction, unless one is in flight. */
      const pump = (): void => {
        if (inFlight || failed) return;
        const next = sealed.shift();
        if (next === undefined) {
          if (upstreamDone) subscriber.complete();
          return;
        }
        inFlight = true;
        const { items, offsets } = next;
        const records = items.filter((item): item is TransactionalOutput => item.topic !== undefined).map(toRecord);
        const work = producer.transaction$((txn) =>
          concat(
            records.length > 0 ? txn.publish$(records) : EMPTY,
            offsets.length > 0
              ? txn.sendOffsets$(consumer.groupId, offsets.map((o) => [o.topic, o.partition, o.offset] as const)).pipe(ignoreElements())
              : EMPTY,
          ),
        );
        lastValueFrom(work).then(
          (published) => {
            inFlight = false;
            if (offsets.length > 0) consumer.acknowledgeDelivered(offsets, { committed: true });
            if (failed) return;
            subscriber.next({ results: published.flat(), offsets });
            if (upstreamError !== undefined) return fail(upstreamError.error);
            pump();
          },
          (error: unknown) => {
            inFlight = false;
            fail(error);
          },
        );
      };

      /** Seal at the next microtask: after the records being delivered now have produced all their outputs. */
      const queueSeal = (): void => {
        if (sealQueued) return;
        sealQueued = true;
        queueMicrotask(() => {
          sealQueued = false;
          seal();
          pump();
        });
      };

      subscriptions.add(
        interval(maxBatchMs, scheduler).subscribe(() => {
          // Time-closed batches wait until the transaction in flight is done, so they grow meanwhile.
          if (inFlight) return;
          seal();
          pump();
        }),
      );
      if (consumer.rebalances$ !== undefined) {
        // Seal what the revoked partitions' inputs produced together with their offsets, before the
        // partitions are given up; otherwise those outputs would commit without their inputs.
        subscriptions.add(
          consumer.rebalances$.subscribe((event) => {
            if (event.type !== 'revoked') return;
            seal();
            pump();
          }),
        );
      }
      subscriptions.add(
        source.subscribe({
          next: (value) => {
            if (failed) return;
            const items = isItemArray(value) ? [...value] : [value];
            for (const item of items) {
              if (offsetsFrom === 'source' && item.source === undefined) {
                fail(new ConfigError('source', "with offsetsFrom: 'source' every item must carry the input record it came from"));
                return;
              }
              if (item.source !== undefined && wasProcessedConcurrently(item.source)) {
                fail(
                  new ConfigError(
                    'source',
                    'transactional() cannot commit inputs processed by processConcurrently(): that operator acknowledges inputs by itself and ' +
                      'emits in completion order, so the consumer would commit offsets whose outputs are in no committed transaction. ' +
                      'Use concatMap (per partition order) for exactly-once, or processConcurrently() with an at-least-once sink (docs/parallel.md)',
                  ),
                );
                return;
              }
            }
            if (boundary !== undefined && !sameOffsets(consumer.deliveredOffsets(), boundary)) {
              // A new input started: the full batch ends before it, with the inputs delivered until then.
              seal(boundary);
              pump();
            }
            open.push(...items);
            if (open.length >= maxBatchRecords) {
              if (offsetsFrom === 'delivered') boundary = consumer.deliveredOffsets();
              queueSeal();
            }
          },
          error: (error: unknown) => {
            // Outputs not yet committed are dropped; their inputs were not committed either.
            // A transaction already under way is self-contained: let it finish first.
            if (inFlight) upstreamError = { error };
            else fail(error);
          },
          complete: () => {
            upstreamDone = true;
            queueSeal();
          },
        }),
      );
      return () => {
        failed = true;
        subscriptions.unsubscribe();
      };
    });
}

function isItemArray(value: TransactionalItem | readonly TransactionalItem[]): value is readonly TransactionalItem[] {
  return Array.isArray(value);
}

function toRecord(item: TransactionalOutput): TransactionalRecord {
  return { topic: item.topic, value: item.value, key: item.key, partition: item.partition };
}

function offsetsOfSources(items: Item[]): TopicPartitionOffset[] {
  const next = new Map<string, TopicPartitionOffset>();
  for (const { source } of items) {
    if (source === undefined) continue;
    const key = tpKey(source);
    const offset = source.offset + 1n;
    const seen = next.get(key);
    if (seen === undefined || offset > seen.offset) next.set(key, { topic: source.topic, partition: source.partition, offset });
  }
  return [...next.values()];
}

function sameOffsets(a: readonly TopicPartitionOffset[], b: readonly TopicPartitionOffset[]): boolean {
  if (a.length !== b.length) return false;
  const offsets = new Map(a.map((o) => [tpKey(o), o.offset]));
  return b.every((o) => offsets.get(tpKey(o)) === o.offset);
}

function tpKey(tp: { topic: string; partition: number }): string {
  return `${tp.topic}\u0000${tp.partition}`;
}
