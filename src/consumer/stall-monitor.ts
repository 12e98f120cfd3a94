/**
 * Makes a subscriber that stopped acknowledging visible. A stall is no progress, not a long queue:
 * a partition is reported when it waits for acknowledgements (no fetch credit left, or the in-flight
 * decoded-bytes budget used up) and nothing at all was acknowledged — on any partition — for
 * `thresholdMs` (the same test as the maxPollIntervalMs watchdog, group-watch.ts). A pipeline that
 * works through a long queue (concatMap over many partitions: one partition's records wait behind
 * another's) acknowledges all along, so none of its partitions is stalled. Reported with since when
 * the partition has had no acknowledgement and how many records wait; when acks arrive it is
 * reported no more. A stalled partition that a record holds (ReceiverOffset.holdBecause) is reported
 * with that record and its reason (`heldBy`), so the warning says what it waits on. Timed on the
 * consumer's scheduler: one timer, for the next partition due.
 */
import type { SchedulerLike, Subscription } from 'rxjs';
import type { StalledPartition } from './consumer-health.js';
import type { Hold } from './partition-state.js';

/** What the monitor reads of a partition. */
export interface WaitingPartition {
  readonly topic: string;
  readonly partition: number;
  readonly stopped: boolean;
  readonly waitingSince: number | undefined;
  /** When the partition's acknowledged offset last moved forward, if ever. */
  readonly lastAckAt: number | undefined;
  /** Records downstream cannot acknowledge yet, by offset (ReceiverOffset.holdBecause). */
  readonly holds?: ReadonlyMap<bigint, Hold>;
  outstanding(): bigint;
}

export class StallMonitor {
  private timer: Subscription | undefined;
  private last = '';

  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly thresholdMs: number,
    private readonly partitions: () => Iterable<WaitingPartition>,
    private readonly report: (stalled: StalledPartition[]) => void,
    /** When anything (any record, any partition) was last acknowledged, if ever. */
    private readonly lastAckAt: () => number | undefined = () => undefined,
  ) {}

  /** A partition started or stopped waiting: re-evaluate now and time the next check. */
  update(): void {
    this.timer?.unsubscribe();
    this.timer = undefined;
    const now = this.scheduler.now();
    const lastAck = this.lastAckAt();
    const stalled: StalledPartition[] = [];
    let nextDue: number | undefined;
    for (const p of this.partitions()) {
      if (p.stopped || p.waitingSince === undefined) continue;
      // Quiet since: the partition waits, and nothing anywhere was acknowledged since.
      const quietSince = lastAck === undefined ? p.waitingSince : Math.max(p.waitingSince, lastAck);
      const due = quietSince + this.thresholdMs;
      if (due <= now) {
        const since = p.lastAckAt ?? p.waitingSince;
        const stall: StalledPartition = { topic: p.topic, partition: p.partition, since, unacknowledged: Number(p.outstanding()) };
        const heldBy = firstHold(p);
        if (heldBy !== undefined) stall.heldBy = heldBy;
        stalled.push(stall);
      } else nextDue = nextDue === undefined ? due : Math.min(nextDue, due);
    }
    const key = stalled.map((s) => `${s.topic}\u0000${s.partition}\u0000${s.since}\u0000${s.heldBy?.offset ?? ''}\u0000${s.heldBy?.error?.message ?? ''}`).join('\u0001');
    if (key !== this.last) {
      this.last = key;
      this.report(stalled);
    }
    if (nextDue !== undefined) this.timer = this.scheduler.schedule(() => this.update(), nextDue - now);
  }

  /**
   * Something was acknowledged: a stall reported now is over (re-evaluated at once). Otherwise
   * nothing to do — the pending check finds the new acknowledgement and moves itself on.
   */
  acknowledged(): void {
    if (this.last !== '') this.update();
  }

  stop(): void {
    this.timer?.unsubscribe();
    this.timer = undefined;
    if (this.last !== '') {
      this.last = '';
      this.report([]);
    }
  }
}

/** The partition's lowest held record (what its commits wait on first), if any. */
function firstHold(p: WaitingPartition): StalledPartition['heldBy'] {
  if (p.holds === undefined) return undefined;
  let first: bigint | undefined;
  for (const offset of p.holds.keys()) if (first === undefined || offset < first) first = offset;
  if (first === undefined) return undefined;
  return { topic: p.topic, partition: p.partition, offset: first, ...p.holds.get(first)! };
}
