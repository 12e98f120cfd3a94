/**
 * What a Consumer's `health$` says and the one place that keeps it: the `ConsumerHealth` shape and
 * the events it carries (truncations, records hidden by isolation, stalled partitions), and the
 * `HealthTracker` the consumer's parts report to — the group life cycle, the record counts (per
 * record: held in fields, carried by health$ at most once a refresh), the last error, and
 * `warning`: one sentence per source that needs attention (a stall, no broker answering, no
 * subscribed topic existing), logged once when it appears.
 *
 * Each component has one such file (client/pipelined-health.ts, client/resilient-health.ts,
 * producer/producer-health.ts); what feeds a stall is stall-monitor.ts, lag readings lag-monitor.ts.
 */
import { BehaviorSubject, type Observable } from 'rxjs';
import { RivvenError } from '../errors.js';
import type { Log } from '../observability/log.js';
import type { TopicPartition } from './consumer-record.js';

/** What `Consumer.health$` reports: where the member is in the group life cycle, and why it left. */
export type ConsumerState =
  /** Not subscribed (or between subscriptions). */
  | 'idle'
  /** Joining the group / waiting for an assignment. */
  | 'joining'
  /** Owns its assignment (possibly none) and heartbeats. */
  | 'stable'
  /** A rebalance is under way (partitions being revoked). */
  | 'rebalancing'
  /**
   * Out of the group because downstream did not acknowledge waiting records within
   * maxPollIntervalMs; rejoins when downstream acknowledges again.
   */
  | 'left'
  | 'closed';

export interface ConsumerHealth {
  state: ConsumerState;
  /** Partitions owned now. */
  assignedPartitions: number;
  /** Times the member left the group because maxPollIntervalMs passed without acknowledgements. */
  maxPollIntervalExceeded: number;
  /** Scheduler time (ms) of the last such departure. */
  lastMaxPollIntervalExceededAt: number | undefined;
  /** Rebalances this member started because a subscribed topic's partition count changed. */
  metadataRebalances: number;
  /**
   * Times the group coordinator connection was replaced during a generation and the member went on
   * heartbeating with the same member id and generation over the new one: a dropped connection
   * costs no rebalance (rivvend rebalances on every JoinGroup, so rejoining would).
   */
  coordinatorReconnects: number;
  /** Revokes that gave partitions up after maxDelayRebalanceMs with records still unacknowledged (the next owner processes those again). */
  rebalanceDrainTimeouts: number;
  /** The partitions owned now (`assignedPartitions` is their count). */
  partitions: TopicPartition[];
  /** Records emitted downstream (by records$ or batches$) since the consumer was created. */
  recordsEmitted: number;
  /** Records acknowledged (ack(), commitOffsets(), ackMode 'onEmit', acknowledgeDelivered()). */
  recordsAcknowledged: number;
  /**
   * Partitions that have waited for acknowledgements for longer than maxPollIntervalMs (ackMode
   * 'manual': downstream holds their fetch credit — or the in-flight decoded-bytes budget — and
   * acknowledges nothing). Empty when nothing is stuck. Static-assignment consumers too.
   */
  stalled: StalledPartition[];
  /** Records dropped because the broker sent an offset at or below one already emitted in the epoch (rivvend's crash replay). */
  duplicatesDropped: number;
  /** Times a partition's log end was found below this consumer's position (the broker lost records). */
  truncations: number;
  /**
   * Records a read_committed consumer stepped over because the broker hid them from it while a
   * read_uncommitted read of the same offsets shows them (rivvend 0.0.22 hides by producer id and
   * offset range: records of an aborted transaction, and committed records of the same producer
   * whose offsets fall in an aborted range). Not a loss of the broker's: see `hidden$`.
   */
  hiddenByIsolation: number;
  lastHidden: HiddenRecordsEvent | undefined;
  lastTruncation: TruncationEvent | undefined;
  /** What needs attention, in words (a stall, no broker answering, no subscribed topic existing); undefined when all is well. */
  warning: string | undefined;
  /** The last error met (also retried ones), with scheduler time. */
  lastError: { code: string; message: string; at: number } | undefined;
  /** Total lag (log end − position) over the owned partitions at the last lag reading (lag$, every lagIntervalMs); undefined before the first, or when not subscribed. */
  lag: bigint | undefined;
}

/** A partition waiting for downstream to acknowledge. */
export interface StalledPartition {
  topic: string;
  partition: number;
  /** Scheduler time (ms) since which it waits. */
  since: number;
  /** Records emitted and not acknowledged. */
  unacknowledged: number;
}

/**
 * The broker's log end of a partition moved below the consumer's position: records the consumer
 * had (or could have) read are gone (rivvend 0.0.22's crash recovery). The consumer continues at
 * `logEnd` in a new epoch: records written after the loss reuse offsets from `logEnd` on.
 */
export interface TruncationEvent {
  /**
   * 'truncated': the log end is below the position (the broker lost records). 'unreadable': the log
   * end is ahead, but the broker serves nothing from the position, fetch after fetch (rivvend 0.0.22
   * after a crash): the consumer stepped over the range to `resumeAt`.
   */
  type: 'truncated' | 'unreadable';
  topic: string;
  partition: number;
  /** Where the consumer was. */
  position: bigint;
  /** The log end the broker reports now. */
  logEnd: bigint;
  /** Where the consumer continues (the log end for 'truncated'; past the unreadable range for 'unreadable'). */
  resumeAt: bigint;
  /** Scheduler time (ms). */
  at: number;
}

/**
 * A read_committed consumer found offsets it asked for missing from the broker's answer, and a
 * read_uncommitted read of the same offsets shows records there: the broker hid them by isolation
 * (an aborted transaction's records — or, on rivvend 0.0.22, committed records of a producer id
 * whose offsets fall in one of its aborted ranges). The consumer stepped over them. Offsets that
 * neither isolation level shows are transaction markers (or, far from the log end after a crash,
 * lost records: see TruncationEvent 'unreadable') and are not reported here.
 */
export interface HiddenRecordsEvent {
  type: 'hidden-by-isolation';
  topic: string;
  partition: number;
  /** First hidden offset. */
  from: bigint;
  /** Offset after the last hidden one. */
  to: bigint;
  /** Records hidden in [from, to) (markers between them are not counted). */
  records: number;
  /** Scheduler time (ms). */
  at: number;
}

export const INITIAL_CONSUMER_HEALTH: ConsumerHealth = {
  state: 'idle',
  assignedPartitions: 0,
  maxPollIntervalExceeded: 0,
  lastMaxPollIntervalExceededAt: undefined,
  metadataRebalances: 0,
  coordinatorReconnects: 0,
  rebalanceDrainTimeouts: 0,
  partitions: [],
  recordsEmitted: 0,
  recordsAcknowledged: 0,
  stalled: [],
  duplicatesDropped: 0,
  truncations: 0,
  lastTruncation: undefined,
  hiddenByIsolation: 0,
  lastHidden: undefined,
  warning: undefined,
  lastError: undefined,
  lag: undefined,
};

// ---- the tracker ---------------------------------------------------------------------------------

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
