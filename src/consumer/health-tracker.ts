/**
 * What a Consumer's health$ says, kept in one place: the group life cycle others update, the
 * record counts (per record: held in fields, carried by health$ at most once a refresh), the last
 * error, and `warning` — one sentence per source that needs attention (a stall, no broker
 * answering, no subscribed topic existing), logged once when it appears.
 */
import { BehaviorSubject, type Observable } from 'rxjs';
import { RivvenError } from '../errors.js';
import type { Log } from '../observability/log.js';
import { INITIAL_CONSUMER_HEALTH, type ConsumerHealth, type HiddenRecordsEvent, type StalledPartition, type TruncationEvent } from './consumer-health.js';
import type { TopicPartition } from './consumer-record.js';

export type WarningSource = 'stall' | 'unreachable' | 'noTopic';

export class HealthTracker {
  private readonly subject = new BehaviorSubject<ConsumerHealth>(INITIAL_CONSUMER_HEALTH);
  private readonly warnings = new Map<WarningSource, string>();
  recordsEmitted = 0;
  recordsAcknowledged = 0;
  readonly health$: Observable<ConsumerHealth> = this.subject.asObservable();

  constructor(
    private readonly log: Log,
    private readonly now: () => number,
    /** The partitions owned now (health.partitions). */
    private readonly assigned: () => TopicPartition[],
  ) {}

  /** The last value health$ emitted. */
  get value(): ConsumerHealth {
    return this.subject.value;
  }

  /** The latest health with the record counts as of now. */
  current(): ConsumerHealth {
    const value = this.subject.value;
    if (value.recordsEmitted === this.recordsEmitted && value.recordsAcknowledged === this.recordsAcknowledged) return value;
    return { ...value, recordsEmitted: this.recordsEmitted, recordsAcknowledged: this.recordsAcknowledged };
  }

  update(change: Partial<ConsumerHealth>): void {
    if (this.subject.closed) return;
    this.subject.next({
      ...this.subject.value,
      partitions: this.assigned(),
      recordsEmitted: this.recordsEmitted,
      recordsAcknowledged: this.recordsAcknowledged,
      ...change,
    });
  }

  /** Emit the counts if they changed since health$ last carried them. */
  refreshCounts(): void {
    const value = this.subject.value;
    if (value.recordsEmitted !== this.recordsEmitted || value.recordsAcknowledged !== this.recordsAcknowledged) this.update({});
  }

  /** Set or clear one source of `warning` (with `change`, in the same emission). */
  setWarning(source: WarningSource, text: string | undefined, change: Partial<ConsumerHealth> = {}): void {
    const previous = this.warnings.get(source);
    if (previous === text && Object.keys(change).length === 0) return;
    // Logged once per new text (health$ carries it for as long as it holds).
    if (text !== undefined && previous !== text) this.log.warn(text, { warning: source });
    if (text === undefined) this.warnings.delete(source);
    else this.warnings.set(source, text);
    this.update({ ...change, warning: this.warnings.size === 0 ? undefined : [...this.warnings.values()].join('; ') });
  }

  error(error: unknown): void {
    const code = error instanceof RivvenError ? error.code : 'UNKNOWN';
    const message = error instanceof Error ? error.message : String(error);
    this.update({ lastError: { code, message, at: this.now() } });
  }

  stalls(stalled: StalledPartition[], maxPollIntervalMs: number): void {
    const text =
      stalled.length === 0
        ? undefined
        : `${stalled.map((s) => `${s.topic}/${s.partition}`).join(', ')} waited over ${maxPollIntervalMs} ms for acknowledgements ` +
          `(${stalled.reduce((n, s) => n + s.unacknowledged, 0)} records unacknowledged): call record.ack() (or use commitOffsets()) for every record, ` +
          `also those you filter out — or set ackMode: 'onEmit' for a subscriber that processes synchronously`;
    this.setWarning('stall', text, { stalled });
  }

  duplicates(count: number): void {
    this.update({ duplicatesDropped: this.subject.value.duplicatesDropped + count });
  }

  truncated(event: TruncationEvent): void {
    this.update({ truncations: this.subject.value.truncations + 1, lastTruncation: event });
  }

  hidden(event: HiddenRecordsEvent): void {
    this.update({ hiddenByIsolation: this.subject.value.hiddenByIsolation + event.records, lastHidden: event });
  }

  complete(): void {
    this.subject.complete();
  }
}
