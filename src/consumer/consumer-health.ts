/**
 * What a Consumer's `health$` says and the one place that keeps it: the `ConsumerHealth` shape and
 * the events it carries (truncations, records hidden by isolation, stalled partitions, records held
 * by `ReceiverOffset.holdBecause`), and the `HealthTracker` the consumer's parts report to — the
 * group life cycle, the record counts (per record: held in fields, carried by health$ at most once a
 * refresh), the last error, and `warning`: one sentence per source that needs attention (a stall, no
 * broker answering, no subscribed topic existing, a held record), logged the first time it appears
 * and counted after (`warningCounts`: say once, then count); nothing after close().
 *
 * Each component has one such file (client/pipelined-health.ts, client/resilient-health.ts,
 * producer/producer-health.ts); what feeds a stall is stall-monitor.ts, lag readings lag-monitor.ts.
 */
import { BehaviorSubject, type Observable } from 'rxjs';
import { RivvenError, type ErrorSummary, type HealthError } from '../errors.js';
import type { Log } from '../observability/log.js';
import type { TopicPartition } from './consumer-record.js';

/** What `Consumer.health$` reports: where the member is in the group life cycle, and why it left. */
export type ConsumerState =
  /** Not subscribed (or between subscriptions). */
  | 'idle'
  /** Subscribed, and no broker has answered yet (or none answers now, with no partition owned): retrying. */
  | 'connecting'
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

/** What `Consumer.health()` returns and `health$` emits. */
export interface ConsumerHealth {
  /** Where the consumer is in its life. */
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
  /** Owned partitions the application paused (`consumer.pause()`): they stay assigned and fetch nothing until resumed. */
  paused: TopicPartition[];
  /** Records emitted downstream (by records$ or batches$) since the consumer was created. */
  recordsEmitted: number;
  /** Records acknowledged (ack(), commitOffsets(), ackMode 'onEmit', acknowledgeDelivered()). */
  recordsAcknowledged: number;
  /**
   * Partitions that wait for acknowledgements (ackMode 'manual': downstream holds their fetch
   * credit — or the in-flight decoded-bytes budget) while nothing at all was acknowledged, on any
   * partition, for maxPollIntervalMs. A long queue that is being worked through is not a stall:
   * a consumer whose acknowledgements advance reports none. Empty when nothing is stuck.
   * Static-assignment consumers too.
   */
  stalled: StalledPartition[];
  /**
   * Records that cannot be acknowledged yet, and why: downstream said so with
   * `receiverOffset.holdBecause(reason, error)` (processConcurrently() does while a dead-letter
   * produce fails). Nothing past such a record is committed until it is acknowledged. One entry per
   * held record of an owned partition, by partition then offset; an entry goes when the record is
   * acknowledged (by itself or a later one), its partition is revoked or seeked, or the consumer
   * closes. Empty when nothing is held.
   */
  held: HeldRecord[];
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
  /** The last records hidden by isolation (see `hiddenByIsolation`); undefined if none. */
  lastHidden: HiddenRecordsEvent | undefined;
  /** The last truncation seen (see `truncations`); undefined if none. */
  lastTruncation: TruncationEvent | undefined;
  /** What needs attention, in words (a stall, no broker answering, no subscribed topic existing, a held record); undefined when all is well. */
  warning: string | undefined;
  /**
   * How many times each kind of warning appeared. The first of each kind is logged at warn; later
   * ones are counted here (and logged at info), so a recurring condition does not flood the log.
   */
  warningCounts: Record<WarningSource, number>;
  /** The last error met (also retried ones), with scheduler time. */
  lastError: HealthError | undefined;
  /** Total lag (log end − position) over the owned partitions at the last lag reading (lag$, every lagIntervalMs); undefined before the first, or when not subscribed. */
  lag: bigint | undefined;
}

/** A partition waiting for downstream to acknowledge. */
export interface StalledPartition {
  /** The topic. */
  topic: string;
  /** The partition number. */
  partition: number;
  /** Scheduler time (ms) since which the partition has had no acknowledgement (its last one, or when it began waiting if it never had one). */
  since: number;
  /** Records emitted and not acknowledged. */
  unacknowledged: number;
  /** The partition's first held record (see `ConsumerHealth.held`), when one holds it: what the partition waits on. */
  heldBy?: HeldRecord;
}

/** An error as health reports it: its class and message, never its stack or its causes. */
/** A record downstream cannot acknowledge yet, and why (`receiverOffset.holdBecause`). */
export interface HeldRecord {
  /** The topic. */
  topic: string;
  /** The partition number. */
  partition: number;
  /** The record's offset: the partition's commits stay at or below it while it is held. */
  offset: bigint;
  /** Why, in words (processConcurrently(): `waiting on the dead-letter topic <topic>`). */
  reason: string;
  /** The error behind it (the last one given), if any. */
  error: ErrorSummary | undefined;
  /** Scheduler time (ms) since which the record has been held (its first `holdBecause`). */
  since: number;
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
  /** The topic. */
  topic: string;
  /** The partition number. */
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
  /** Always `hidden-by-isolation`. */
  type: 'hidden-by-isolation';
  /** The topic. */
  topic: string;
  /** The partition number. */
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
  paused: [],
  recordsEmitted: 0,
  recordsAcknowledged: 0,
  stalled: [],
  held: [],
  duplicatesDropped: 0,
  truncations: 0,
  lastTruncation: undefined,
  hiddenByIsolation: 0,
  lastHidden: undefined,
  warning: undefined,
  warningCounts: { stall: 0, unreachable: 0, noTopic: 0, held: 0 },
  lastError: undefined,
  lag: undefined,
};

// ---- the tracker ---------------------------------------------------------------------------------

/**
 * What a consumer warning is about: a stalled subscriber, no broker answering, no subscribed topic
 * existing, records held (`receiverOffset.holdBecause`) — `health().warningCounts` counts each.
 */
export type WarningSource = 'stall' | 'unreachable' | 'noTopic' | 'held';

export class HealthTracker {
  private readonly subject = new BehaviorSubject<ConsumerHealth>(INITIAL_CONSUMER_HEALTH);
  private readonly warnings = new Map<WarningSource, string>();
  /** close() or complete() was called: health$ is over (a completed subject is not `closed`). */
  private ended = false;
  recordsEmitted = 0;
  recordsAcknowledged = 0;
  readonly health$: Observable<ConsumerHealth> = this.subject.asObservable();

  constructor(
    private readonly log: Log,
    private readonly now: () => number,
    /** The partitions owned now (health.partitions). */
    private readonly assigned: () => TopicPartition[],
    /** The owned partitions paused now (health.paused). */
    private readonly pausedNow: () => TopicPartition[] = () => [],
    /** The records held now (health.held); every update reads them, and the `held` warning follows. */
    private readonly heldNow: () => HeldRecord[] = () => [],
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
    if (this.ended) return;
    const held = this.heldNow();
    const heldChange = this.noteWarning('held', held.length === 0 ? undefined : heldText(held));
    this.subject.next({
      ...this.subject.value,
      partitions: this.assigned(),
      paused: this.pausedNow(),
      held,
      recordsEmitted: this.recordsEmitted,
      recordsAcknowledged: this.recordsAcknowledged,
      ...heldChange,
      ...change,
    });
  }

  /** Emit the counts if they changed since health$ last carried them. */
  refreshCounts(): void {
    const value = this.subject.value;
    if (value.recordsEmitted !== this.recordsEmitted || value.recordsAcknowledged !== this.recordsAcknowledged) this.update({});
  }

  /**
   * Set or clear one source of `warning` (with `change`, in the same emission). Say once, then
   * count: the first appearance of a kind of warning is logged at warn, later appearances are
   * counted in `warningCounts` and logged at info; a warning whose text changes while it holds (more
   * partitions stalled, another count) is not logged again. Nothing after close().
   */
  setWarning(source: WarningSource, text: string | undefined, change: Partial<ConsumerHealth> = {}): void {
    if (this.ended) return;
    if (this.warnings.get(source) === text && Object.keys(change).length === 0) return;
    const counts = this.noteWarning(source, text);
    this.update({ ...change, ...counts });
  }

  /** Record `source`'s text (logging and counting a new appearance); the warning and counts as they stand now. */
  private noteWarning(source: WarningSource, text: string | undefined): Pick<ConsumerHealth, 'warning'> & Partial<ConsumerHealth> {
    const previous = this.warnings.get(source);
    let counts: Partial<ConsumerHealth> = {};
    if (text !== undefined && previous === undefined) {
      const warningCounts = { ...this.subject.value.warningCounts, [source]: this.subject.value.warningCounts[source] + 1 };
      counts = { warningCounts };
      if (warningCounts[source] === 1) this.log.warn(`${text} (logged once; later ones are counted in health().warningCounts.${source})`, { warning: source });
      else this.log.info(text, { warning: source, times: warningCounts[source] });
    }
    if (text === undefined) this.warnings.delete(source);
    else this.warnings.set(source, text);
    return { ...counts, warning: this.warnings.size === 0 ? undefined : [...this.warnings.values()].join('; ') };
  }

  error(error: unknown): void {
    const code = error instanceof RivvenError ? error.code : 'UNKNOWN';
    const message = error instanceof Error ? error.message : String(error);
    this.update({ lastError: { code, message, at: this.now() } });
  }

  stalls(stalled: StalledPartition[], maxPollIntervalMs: number): void {
    this.setWarning('stall', stalled.length === 0 ? undefined : stallText(stalled, maxPollIntervalMs, this.now()), { stalled });
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

  /** The consumer closed: the last health (no warning holds any more), then health$ completes. */
  close(change: Partial<ConsumerHealth>): void {
    this.warnings.clear();
    // Not update(): the held records it would read are over too, and nothing is logged any more.
    this.ended = true;
    this.subject.next({
      ...this.subject.value,
      partitions: this.assigned(),
      paused: this.pausedNow(),
      recordsEmitted: this.recordsEmitted,
      recordsAcknowledged: this.recordsAcknowledged,
      ...change,
      held: [],
      warning: undefined,
      stalled: [],
    });
    this.complete();
  }

  complete(): void {
    this.ended = true;
    this.subject.complete();
  }
}

/**
 * What is known of a stall: the partitions, since when each has had no acknowledgement, how many
 * records each holds — and that nothing at all was acknowledged meanwhile.
 */
export function stallText(stalled: readonly StalledPartition[], maxPollIntervalMs: number, now: number): string {
  const parts = stalled.map(
    (s) =>
      `${s.topic}/${s.partition} since ${Math.max(0, now - s.since)} ms ago (${s.unacknowledged} records waiting` +
      (s.heldBy === undefined ? ')' : `; held at offset ${s.heldBy.offset}: ${holdReason(s.heldBy)})`),
  );
  const advice = stalled.every((s) => s.heldBy !== undefined)
    ? `the subscriber cannot acknowledge the held record${stalled.length > 1 ? 's' : ''} until what holds ${stalled.length > 1 ? 'them' : 'it'} is resolved (see health().held)`
    : `the subscriber is stuck, or does not acknowledge — call record.ack() (or use commitOffsets()) for every record, also those you filter out, ` +
      `or set ackMode: 'onEmit' for a subscriber that processes synchronously`;
  return `no acknowledgement for partition${stalled.length > 1 ? 's' : ''} ${parts.join(', ')}, and none on any partition for over ${maxPollIntervalMs} ms: ${advice}`;
}

/** The `held` warning: which records hold which partitions, and why (the first three; a count of the rest). */
export function heldText(held: readonly HeldRecord[]): string {
  const shown = held.slice(0, 3).map((h) => `${h.topic}/${h.partition} at offset ${h.offset}: ${holdReason(h)}`);
  const more = held.length > 3 ? ` (and ${held.length - 3} more)` : '';
  return (
    `record${held.length > 1 ? 's' : ''} held, not acknowledged, so nothing past ${held.length > 1 ? 'them' : 'it'} is committed: ${shown.join('; ')}${more}` +
    ` — the partition${held.length > 1 ? 's' : ''} wait${held.length > 1 ? '' : 's'} until the record is acknowledged (health().held)`
  );
}

/** A hold's reason and its error, in words. */
function holdReason(h: HeldRecord): string {
  return h.error === undefined ? h.reason : `${h.reason}: ${h.error.class}: ${h.error.message}`;
}

/** How much of a hold's error message health$ shows (`ErrorSummary.message`). */
export const HELD_ERROR_MESSAGE_LIMIT = 500;
