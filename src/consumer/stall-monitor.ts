/**
 * Makes a subscriber that stopped acknowledging visible: a partition that has waited for
 * acknowledgements (no fetch credit left, or the in-flight decoded-bytes budget used up) for
 * `thresholdMs` is reported, with since when and how many records wait; when acks arrive it is
 * reported no more. Timed on the consumer's scheduler: one timer, for the next partition due.
 */
import type { SchedulerLike, Subscription } from 'rxjs';
import type { StalledPartition } from './consumer-health.js';

/** What the monitor reads of a partition. */
export interface WaitingPartition {
  readonly topic: string;
  readonly partition: number;
  readonly stopped: boolean;
  readonly waitingSince: number | undefined;
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
  ) {}

  /** A partition started or stopped waiting: re-evaluate now and time the next check. */
  update(): void {
    this.timer?.unsubscribe();
    this.timer = undefined;
    const now = this.scheduler.now();
    const stalled: StalledPartition[] = [];
    let nextDue: number | undefined;
    for (const p of this.partitions()) {
      if (p.stopped || p.waitingSince === undefined) continue;
      const due = p.waitingSince + this.thresholdMs;
      if (due <= now) stalled.push({ topic: p.topic, partition: p.partition, since: p.waitingSince, unacknowledged: Number(p.outstanding()) });
      else nextDue = nextDue === undefined ? due : Math.min(nextDue, due);
    }
    const key = stalled.map((s) => `${s.topic}\u0000${s.partition}\u0000${s.since}`).join('\u0001');
    if (key !== this.last) {
      this.last = key;
      this.report(stalled);
    }
    if (nextDue !== undefined) this.timer = this.scheduler.schedule(() => this.update(), nextDue - now);
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
