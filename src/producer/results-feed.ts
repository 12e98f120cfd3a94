/**
 * The producer used as an RxJS Observer (`records$.subscribe(producer)`, `producer.next(record)`):
 * `results$`, the hot stream of the outcomes of the records it was given that way, each with the
 * caller's correlation (Reactor Kafka's `SenderResult`), and the `stopOnError` policy.
 *
 * - `stopOnError: false`: every outcome is a value — `{ ok: true, result }` or
 *   `{ ok: false, error, topic, correlation }` —, and `results$` completes when the producer closes.
 * - `stopOnError: true` (default, as Reactor's sender): `results$` emits the successes; the first
 *   failure is its error. From then on the Observer side is stopped: records given to `next()`
 *   and not yet handed to the broker are withdrawn, and later `next()` calls are refused (counted
 *   in `refused`, the first one logged). `send$` and the promise helpers are not affected.
 *
 * No I/O: the producer hands outcomes in.
 */
import { Subject, type Observable } from 'rxjs';
import type { Log } from '../observability/log.js';
import type { DeliverySink, ProducerResult } from './producer-record.js';

/** One record's outcome on `results$`. */
export type ProducerOutcome<C = unknown> =
  | {
      /** The record was stored. */
      ok: true;
      /** Where it was stored, with its correlation. */
      result: ProducerResult<C>;
    }
  | {
      /** The record failed. */
      ok: false;
      /** Why it failed. */
      error: unknown;
      /** The record's topic. */
      topic: string;
      /** The record's `correlation`, untouched. */
      correlation: C | undefined;
    };

export class ResultsFeed {
  private readonly subject = new Subject<ProducerOutcome>();
  /** Withdrawals of the Observer's records still without an outcome. */
  readonly pending = new Set<() => void>();
  private stopped = false;
  /** Records given to `next()` after the Observer side stopped (stopOnError). */
  refused = 0;
  readonly results$: Observable<ProducerOutcome>;

  constructor(
    private readonly stopOnError: boolean,
    private readonly log: Log,
  ) {
    this.results$ = this.subject.asObservable();
  }

  /** Whether `next()` still accepts records; counts (and logs once) a record refused. */
  accepting(topic: unknown): boolean {
    if (!this.stopped) return true;
    if (this.refused++ === 0 && this.log.enabled('warn')) {
      this.log.warn(`producer.next(): results$ stopped at its first failure (stopOnError), so records given to next() are refused (first for ${String(topic)}); later ones are counted in health().recordsRefused`, {});
    }
    return false;
  }

  /**
   * Take one record given to `next()`: `submit` hands it to the producer with a sink that turns its
   * outcome into a `results$` value. False when the Observer side stopped (the record is refused).
   */
  take(record: { topic?: unknown; correlation?: unknown }, submit: (sink: DeliverySink<unknown>) => () => void): boolean {
    if (!this.accepting(record?.topic)) return false;
    let withdraw: (() => void) | undefined;
    let settled = false;
    withdraw = submit({
      resolve: (result) => {
        settled = true;
        if (withdraw) this.pending.delete(withdraw);
        this.succeeded(result);
      },
      reject: (error) => {
        settled = true;
        if (withdraw) this.pending.delete(withdraw);
        this.failed(error, String(record?.topic), record?.correlation);
      },
    });
    if (!settled) this.pending.add(withdraw);
    return true;
  }

  succeeded(result: ProducerResult): void {
    if (!this.stopped) this.subject.next({ ok: true, result });
  }

  failed(error: unknown, topic: string, correlation: unknown): void {
    if (this.stopped) return;
    if (!this.stopOnError) {
      this.subject.next({ ok: false, error, topic, correlation });
      return;
    }
    this.stop();
    this.subject.error(error);
  }

  /** A source fed to the producer errored: with stopOnError, results$ ends with that error. */
  sourceFailed(error: unknown): boolean {
    if (!this.stopOnError || this.stopped) return false;
    this.stop();
    this.subject.error(error);
    return true;
  }

  /** The producer closed: results$ completes (after every outcome was given). */
  complete(): void {
    this.stopped = true;
    this.subject.complete();
  }

  private stop(): void {
    this.stopped = true;
    const withdrawals = [...this.pending];
    this.pending.clear();
    for (const withdraw of withdrawals) withdraw();
  }
}
