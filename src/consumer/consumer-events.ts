/**
 * What a Consumer tells the outside besides its records and `health$`: the subjects behind
 * `assignments$`, `rebalances$`, `truncations$`, `hidden$` and `lag$`, completed together when the
 * consumer closes — and how a rebalance is told beyond `rebalances$`: the `rivven-rx:rebalance`
 * diagnostics channel and an info log line, written in one place so the channel message and the
 * line always describe the same event. `health$` is consumer-health.ts; the records' streams are
 * record-streams.ts.
 */
import { BehaviorSubject, ReplaySubject, Subject } from 'rxjs';
import { publishRebalanceEvent } from '../observability/channels.js';
import type { Log } from '../observability/log.js';
import type { HiddenRecordsEvent, TruncationEvent } from './consumer-health.js';
import type { RebalanceEvent, TopicPartition } from './consumer-record.js';
import type { PartitionLag } from './lag-monitor.js';

export class ConsumerEvents {
  /** The partitions owned now (assignments$). */
  readonly assignments = new BehaviorSubject<TopicPartition[]>([]);
  readonly rebalances = new Subject<RebalanceEvent>();
  readonly truncations = new Subject<TruncationEvent>();
  readonly hidden = new Subject<HiddenRecordsEvent>();
  /** The latest lag reading of the session (lag$ replays it). */
  readonly lag = new ReplaySubject<PartitionLag[]>(1);

  constructor(
    private readonly groupId: string,
    /** The member id now ('' before joining or in static mode). */
    private readonly memberId: () => string,
    private readonly log: Log,
  ) {}

  /** A revoke or an assignment: the channel, an info line, then rebalances$. */
  rebalance(event: RebalanceEvent): void {
    announceRebalance(event, this.groupId, this.memberId(), this.log);
    this.rebalances.next(event);
  }

  /** Every stream completes (the consumer closed). */
  complete(): void {
    this.assignments.complete();
    this.rebalances.complete();
    this.truncations.complete();
    this.hidden.complete();
    this.lag.complete();
  }
}

function announceRebalance(event: RebalanceEvent, groupId: string, memberId: string, log: Log): void {
  publishRebalanceEvent(() => ({
    event: event.type,
    groupId,
    memberId,
    generationId: event.generationId,
    partitions: event.partitions.map((tp) => ({ topic: tp.topic, partition: tp.partition })),
    ...(event.type === 'revoked' ? { reason: event.reason } : {}),
  }));
  if (log.enabled('info')) {
    log.info(event.type === 'revoked' ? `partitions revoked (${event.reason})` : 'partitions assigned', {
      memberId,
      generation: event.generationId,
      partitions: event.partitions.map((tp) => `${tp.topic}/${tp.partition}`).join(','),
      ...(event.type === 'revoked' ? { reason: event.reason } : {}),
    });
  }
}
